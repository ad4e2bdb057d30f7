"""The demo organization: three factories in three timezones, 90 days of hourly data, each
with its story; seeding again only tops the data up."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from click.testing import CliRunner

from cei.extensions import db
from cei.services import dashboard, demo
from cei.services.accounts import find_user_by_email


def _mean(values):
    values = [value for value in values if value is not None]
    return sum(values) / len(values)


def test_demo_data_tells_each_sites_story(app):
    now = datetime.now(UTC)
    with app.app_context():
        first = demo.seed_demo(now=now - timedelta(hours=2), days=21)
        db.session.commit()
        assert first.created and first.failed == 0
        # Bologna has a sub-meter: 2 meters × 21 days × 24 hours, the others 1 meter.
        assert first.ingested == 4 * 21 * 24
        again = demo.seed_demo(now=now, days=21)
        db.session.commit()
        assert not again.created and again.failed == 0
        assert (again.ingested, again.skipped_duplicate) == (4 * 2, 4 * (21 * 24 - 2))

        organization = find_user_by_email(demo.DEMO_EMAIL).organization
        portfolio = dashboard.load_portfolio(organization, now=now)
        zones = {row.site.site_id: row.site.timezone for row in portfolio.rows}
        assert zones == {
            "bologna": "Europe/Rome",
            "chicago": "America/Chicago",
            "osaka": "Asia/Tokyo",
        }
        assert all(row.coverage_24h_pct == 100.0 for row in portfolio.rows)
        bologna = dashboard.load_site_overview(organization, "bologna", now=now)
        assert not bologna.summed_without_main
        assert [row.counted for row in bologna.meters] == [False, True]  # compressors, main

        def local_mean(site_id, keep):
            overview = dashboard.load_site_overview(organization, site_id, now=now)
            zone = ZoneInfo(overview.site.timezone)
            chart = overview.chart_7d
            values = chart["lines"][0]["values"]
            return _mean(
                [
                    v
                    for ts, v in zip(chart["ts"], values, strict=True)
                    if keep(datetime.fromtimestamp(ts, zone))
                ]
            )

        def weekday_night(moment):
            return moment.weekday() < 5 and (moment.hour < 6 or moment.hour >= 20)

        def weekend(moment):
            return moment.weekday() >= 5

        # Night waste in Bologna, weekend waste in Chicago, Osaka well run.
        assert local_mean("bologna", weekday_night) > 2 * local_mean("osaka", weekday_night)
        assert local_mean("chicago", weekend) > 2.5 * local_mean("chicago", weekday_night)
        assert local_mean("osaka", weekend) < 1.2 * local_mean("osaka", weekday_night)


def test_cei_demo_prints_the_login(app):
    runner = CliRunner()
    from cei.cli import demo as demo_command

    with app.app_context():
        result = runner.invoke(demo_command, catch_exceptions=False)
    assert result.exit_code == 0
    assert f"demo login: {demo.DEMO_EMAIL} / {demo.DEMO_PASSWORD}" in result.output
    assert "demo organization created" in result.output


def test_the_demo_in_the_browser(web_app, live_url, page, shoot):
    with web_app.app_context():
        demo.seed_demo()
        db.session.commit()
    page.goto(live_url + "/login")
    page.fill("#email", demo.DEMO_EMAIL)
    page.fill("#password", demo.DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector('#portfolio-7d[data-rendered="true"]')
    assert page.locator("[data-sites-table] tbody tr").count() == 3
    shoot(page, "dashboard")
    for site_id in ("bologna", "chicago", "osaka"):
        page.goto(f"{live_url}/sites/{site_id}")
        page.wait_for_selector('#chart-7d[data-rendered="true"]')
        assert page.get_attribute("#chart-24h", "data-points-with-data") == "24"
        shoot(page, site_id)
    page.problems.check()


def test_one_dispatcher_pass_after_seeding_fills_the_pages(app):
    """``cei demo`` leaves its sites due; the first dispatcher pass analyses them all, and
    the dashboard and site views then show KPIs, alerts and opportunities."""
    from cei.tasks.dispatcher import Dispatcher
    from cei.tasks.queues import InlineJobQueue

    with app.app_context():
        demo.seed_demo(days=35)
        db.session.commit()
        organization = find_user_by_email(demo.DEMO_EMAIL).organization
        before = dashboard.load_portfolio(organization)
        assert not any(row.analytics.available for row in before.rows)
    stats = Dispatcher(app, InlineJobQueue(app)).tick()
    assert stats["due"] == 3
    with app.app_context():
        organization = find_user_by_email(demo.DEMO_EMAIL).organization
        portfolio = dashboard.load_portfolio(organization)
        assert all(row.analytics.available for row in portfolio.rows)
        assert portfolio.analytics.open_alerts > 0
        assert portfolio.analytics.opportunities_cost_per_year > 0
        kinds = {
            row.site.site_id: {
                alert["kind"]
                for alert in dashboard.list_alerts(organization, site_id=row.site.site_id)
            }
            for row in portfolio.rows
        }
        assert "night_waste" in kinds["bologna"]
        assert "weekend_waste" in kinds["chicago"]
        site = dashboard.load_site_overview(organization, "bologna")
        assert site.analytics.opportunities and site.analytics.forecast_24h


# Everything in the sites table must lie inside its card, with nothing cut off: the page
# never scrolls sideways, and at these widths the table fits without scrolling either.
SITES_TABLE_FITS = """() => {
  const problems = [];
  const doc = document.documentElement;
  if (doc.scrollWidth > doc.clientWidth) {
    problems.push(`the page scrolls sideways: ${doc.scrollWidth} > ${doc.clientWidth}`);
  }
  const table = document.querySelector('[data-sites-table]');
  const wrap = table.closest('.table-wrap');
  if (wrap.scrollWidth > wrap.clientWidth + 1) {
    problems.push(`the table scrolls: ${wrap.scrollWidth} > ${wrap.clientWidth}`);
  }
  const card = table.closest('.card').getBoundingClientRect();
  for (const cell of table.querySelectorAll('th, td')) {
    const box = cell.getBoundingClientRect();
    if (box.width && (box.right > card.right + 0.5 || box.left < card.left - 0.5)) {
      problems.push(`cut off: ${cell.textContent.trim().slice(0, 30)}`);
    }
    if (cell.scrollWidth > cell.clientWidth + 1) {
      problems.push(`overflows its cell: ${cell.textContent.trim().slice(0, 30)}`);
    }
  }
  return problems;
}"""


NO_SIDEWAYS_SCROLL = """() => {
  const doc = document.documentElement;
  const wide = [...document.querySelectorAll('main *')]
    .filter(el => el.getBoundingClientRect().right > doc.clientWidth + 0.5)
    .filter(el => !el.closest('.table-wrap'))
    .map(el => el.tagName + '.' + el.className);
  return doc.scrollWidth > doc.clientWidth ? ['page ' + doc.scrollWidth, ...wide.slice(0, 5)] : [];
}"""


def test_the_sites_table_fits_a_laptop_a_small_laptop_and_a_phone(
    web_app, browser, live_url, shoot
):
    from cei.tasks.dispatcher import Dispatcher
    from cei.tasks.queues import InlineJobQueue

    with web_app.app_context():
        demo.seed_demo()
        db.session.commit()
    # Analysed, so every column (deviation, alerts, kgCO₂e) holds its widest content.
    Dispatcher(web_app, InlineJobQueue(web_app)).tick()
    for width in (1280, 1024, 390):
        context = browser.new_context(viewport={"width": width, "height": 900})
        page = context.new_page()
        page.goto(live_url + "/login")
        page.fill("#email", demo.DEMO_EMAIL)
        page.fill("#password", demo.DEMO_PASSWORD)
        page.click("main button[type=submit]")
        page.wait_for_selector("[data-sites-table]")
        for path in ("/", "/sites"):
            page.goto(live_url + path)
            assert "▲" in page.inner_text("[data-sites-table]")  # analysed: deviations shown
            assert page.evaluate(SITES_TABLE_FITS) == [], (path, width)
            shoot(page, f"sites-table-{path.strip('/') or 'dashboard'}-{width}")
        # No other page scrolls sideways either (wide tables scroll inside their card).
        for path in ("/sites/bologna", "/alerts", "/reports", "/upload", "/settings"):
            page.goto(live_url + path)
            assert page.evaluate(NO_SIDEWAYS_SCROLL) == [], (path, width)
        context.close()
