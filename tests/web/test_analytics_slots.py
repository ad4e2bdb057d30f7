"""The analytics figures on the pages, from the real engine: a site fed through ingestion
with planted night waste and spikes, analysed once; every page shows what the analytics
services say, and the site view's chart draws baseline and forecast band."""

import pytest
from markupsafe import escape

from cei.blueprints.web.formatting import format_co2, format_energy, format_money
from cei.extensions import db
from cei.models import Organization, User
from cei.services import dashboard
from cei.services import sites as site_service
from cei.services.analytics import results
from cei.services.analytics.alerts import list_alerts
from tests.web.conftest import feed_and_analyse, sign_up_in_browser
from tests.web.test_pages import web_login

PLANTED = {"night_waste_kw": 60.0, "spikes": 2}


def engine_view(app, org_id, site_id="plant-1"):
    """What the analytics services hold for the site: KPIs, opportunities, open alerts."""
    with app.app_context():
        organization = db.session.get(Organization, org_id)
        site = site_service.get_site(organization, site_id)
        kpis = results.site_kpis(site)
        opportunities = results.site_opportunities(site)["opportunities"]
        _, alerts = list_alerts(organization, status=["open", "ack"], site=site)
        totals = results.portfolio(organization)["totals"]
        return kpis, opportunities, [alert.message for alert in alerts], totals


@pytest.fixture
def analysed(app, client, api):
    """A signed-in organization with one site analysed by the real engine."""
    account = web_login(client, api)
    org_id = account["organization"]["id"]
    feed_and_analyse(app, org_id, **PLANTED)
    return org_id


def test_a_site_not_analysed_has_empty_analytics(app, client, api):
    account = web_login(client, api)
    from tests.web.test_pages import hourly, send

    send(app, account, hourly("plant-1", "main", 24))
    with app.app_context():
        organization = db.session.get(Organization, account["organization"]["id"])
        site = site_service.get_site(organization, "plant-1")
        assert not dashboard.load_site_analytics(site).available
        assert dashboard.load_sites_analytics(organization, [site]) == {}
    assert "No baseline yet" in client.get("/sites/plant-1").text


def test_real_analytics_show_on_every_page(app, client, analysed):
    kpis, opportunities, messages, totals = engine_view(app, analysed)
    assert kpis["state"] == "analysed" and opportunities and messages
    site = client.get("/sites/plant-1").text
    assert f'data-value="{kpis["baseline_24h_kwh"]}"' in site
    quality = kpis["baseline_quality"]
    assert f"CV(RMSE) {quality['cv_rmse_pct']:.1f} %" in site
    assert "Time-of-week profile" in site and "ready" in site
    assert format_energy(kpis["last_24h_kwh"]) in site  # the actual the deviation compares
    for message in messages:
        assert str(escape(message)) in site, message
    # The forecast card: the next 24 hours' expected kWh and range, from the engine's forecast.
    with app.app_context():
        organization = db.session.get(Organization, analysed)
        forecast = results.site_forecast(site_service.get_site(organization, "plant-1"), 24)
    points = forecast["points"]
    assert len(points) == 24
    card = site[site.index("data-forecast-next") :][:600]
    assert format_energy(sum(point["expected_kwh"] for point in points)) in card
    assert format_energy(sum(point["lower_kwh"] for point in points)) in card
    assert format_energy(sum(point["upper_kwh"] for point in points)) in card
    for item in opportunities:
        assert str(escape(item["title"])) in site
        assert format_energy(item["per_year_kwh"]) in site
        assert format_money(item["per_year_cost"]) in site

    page = client.get("/").text
    with app.app_context():
        organization = db.session.get(Organization, analysed)
        portfolio = dashboard.load_portfolio(organization)
    # kgCO₂e beside each kWh figure, at the site's emission factor.
    factor = kpis["factors"]["emission_factor_kg_per_kwh"]
    assert portfolio.last_7d.kgco2e == pytest.approx(portfolio.last_7d.kwh * factor, abs=0.01)
    assert format_co2(portfolio.last_7d.kgco2e) in page
    assert format_money(totals["opportunities_per_year_cost"]) in page
    reports = client.get("/reports").text
    assert format_energy(kpis["baseline_7d_kwh"]) in reports


def test_the_lists_read_every_sites_kpis_in_a_fixed_number_of_queries(app, analysed):
    from sqlalchemy import event

    def queries_for_dashboard():
        seen = []
        with app.app_context():
            organization = db.session.get(Organization, analysed)
            listener = lambda *args: seen.append(args[2])  # noqa: E731
            event.listen(db.engine, "before_cursor_execute", listener)
            try:
                sites = site_service.list_sites(organization)
                found = dashboard.load_sites_analytics(organization, sites)
            finally:
                event.remove(db.engine, "before_cursor_execute", listener)
            return len(seen), found

    one_site, found = queries_for_dashboard()
    assert len(found) == 1
    feed_and_analyse(app, analysed, site_id="plant-2", days=21)
    feed_and_analyse(app, analysed, site_id="plant-3", days=21)
    three_sites, found = queries_for_dashboard()
    assert len(found) == 3 and all(item.available for item in found.values())
    assert three_sites == one_site


def test_the_chart_draws_baseline_and_forecast_band(web_app, live_url, page, shoot):
    sign_up_in_browser(page, live_url, "slots@example.com", "Slots Works")
    with web_app.app_context():
        org_id = db.session.query(User).filter_by(email="slots@example.com").one().organization_id
    feed_and_analyse(web_app, org_id, **PLANTED)
    page.goto(live_url + "/sites/plant-1")
    chart = page.wait_for_selector('#chart-24h[data-rendered="true"]')
    assert chart.get_attribute("data-points") == "24"
    legend = page.inner_text("#chart-24h")
    assert "Baseline" in legend and "Forecast" in legend
    assert "Out-of-hours consumption" in page.inner_text("[data-opportunities]")
    shoot(page, "site-view-with-analytics")
    page.goto(live_url + "/")
    chart = page.wait_for_selector('#portfolio-7d[data-rendered="true"]')
    assert "Baseline" in page.inner_text("#portfolio-7d")
    assert "actual vs baseline" in page.inner_text("#portfolio-chart-title")
    shoot(page, "dashboard-with-baseline")
    page.problems.check()


def test_the_portfolio_chart_adds_up_the_sites_baselines(app, analysed):
    from cei.services import ingest
    from cei.services.windows import HOUR, Window
    from tests.web.conftest import hour_start, iso

    feed_and_analyse(app, analysed, site_id="plant-2", days=21)
    with app.app_context():
        organization = db.session.get(Organization, analysed)
        portfolio = dashboard.load_portfolio(organization)
        chart = portfolio.chart_7d
        lines = {line["label"]: line["values"] for line in chart["lines"]}
        assert set(lines) == {"Actual", "Baseline"}
        assert lines["Baseline"] == portfolio.analytics.baseline_7d
        window = Window(chart["ts"][0], chart["ts"][-1] + HOUR)
        expected = {}
        for site_id in ("plant-1", "plant-2"):
            site = site_service.get_site(organization, site_id)
            for point in results.site_baseline(site, window)["points"]:
                if point["expected_kwh"] is not None:
                    expected.setdefault(point["ts"], []).append(point["expected_kwh"])
        both = [
            i
            for i, ts in enumerate(chart["ts"])
            if len(expected.get(ts, ())) == 2
            and all(row.hourly_7d[i] is not None for row in portfolio.rows)
        ]
        assert len(both) > 100
        for i in both:
            assert lines["Baseline"][i] == pytest.approx(sum(expected[chart["ts"][i]]))

        # A third site reports the last 10 hours but has no baseline yet: the portfolio's
        # baseline leaves those hours out rather than compare two sites' baseline with three
        # sites' actual; the hours before keep theirs.
        records = [
            {
                "site_id": "plant-3",
                "meter_id": "m",
                "timestamp_utc": iso(hour_start(h)),
                "value": 5.0,
            }
            for h in range(10)
        ]
        assert ingest.ingest_batch(organization, records).failed == 0
        db.session.commit()
        portfolio = dashboard.load_portfolio(organization)
        baseline = {line["label"]: line["values"] for line in portfolio.chart_7d["lines"]}[
            "Baseline"
        ]
        assert baseline[-10:] == [None] * 10
        assert [baseline[i] for i in both if i < 168 - 10] == [
            lines["Baseline"][i] for i in both if i < 168 - 10
        ]


def test_no_portfolio_baseline_before_any_analysis(app, client, api):
    from tests.web.test_pages import hourly, send

    account = web_login(client, api)
    send(app, account, hourly("plant-1", "main", 24))
    with app.app_context():
        organization = db.session.get(Organization, account["organization"]["id"])
        portfolio = dashboard.load_portfolio(organization)
    assert [line["label"] for line in portfolio.chart_7d["lines"]] == ["Actual"]
    assert portfolio.analytics.baseline_7d is None


def test_a_new_analysis_replaces_the_cached_portfolio_baseline(app, analysed):
    from datetime import timedelta

    from cei.models import SiteAnalysis

    with app.app_context():
        organization = db.session.get(Organization, analysed)
        site = site_service.get_site(organization, "plant-1")
        first = results.expected_by_site(organization)[site.id]
        assert first and results.expected_by_site(organization)[site.id] is first  # cached
        stored = db.session.get(SiteAnalysis, site.id)
        points = [[ts, actual, 7.0] for ts, actual, _ in stored.baseline["points"]]
        stored.baseline = {**stored.baseline, "points": points}
        stored.updated_at = stored.updated_at + timedelta(seconds=1)  # what an analysis does
        db.session.commit()
        again = results.expected_by_site(organization)[site.id]
        assert set(again.values()) == {7.0} and set(again) == set(first)
