"""The web read model (``cei.services.dashboard``): figures per site, totals, charts, CSVs."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from cei.extensions import db
from cei.models import Organization
from cei.services import dashboard, ingest, sites, windows
from cei.services.errors import NotFound
from tests.web.conftest import iso

# One instant for a whole test: the read model's windows and the readings stored agree on
# which hours are "the last 24", even when the test runs across an hour boundary.
FROZEN = datetime.now(UTC)


def hour_start(hours_ago=0):
    """The start of the hour ``hours_ago`` hours before the frozen clock's."""
    return FROZEN.replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours_ago)


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    """Freeze the read model's clock (readings are stored relative to it)."""
    global FROZEN
    FROZEN = datetime.now(UTC)
    monkeypatch.setattr(dashboard, "utcnow", lambda: FROZEN)


@pytest.fixture
def org(app, api):
    """A fresh organization, used inside an app context."""
    account = api.signup()
    with app.app_context():
        yield db.session.get(Organization, account["organization"]["id"])


def store(organization, site_id, meter_id, hours_ago, value):
    """Store one hourly reading per ``hours_ago`` (all with ``value``)."""
    records = [
        {
            "site_id": site_id,
            "meter_id": meter_id,
            "timestamp_utc": iso(hour_start(h)),
            "value": value,
        }
        for h in hours_ago
    ]
    result = ingest.ingest_batch(organization, records)
    assert result.failed == 0, result.errors
    db.session.commit()


def test_an_organization_without_sites_has_an_empty_portfolio(org):
    portfolio = dashboard.load_portfolio(org)
    assert not portfolio.has_sites and not portfolio.has_data
    assert portfolio.last_24h.kwh is None and portfolio.last_7d.cost is None
    assert portfolio.chart_7d["points"] == 168 and portfolio.chart_7d["points_with_data"] == 0


def test_portfolio_figures_per_site_and_in_total(org):
    sites.create_site(org, "rome", timezone="Europe/Rome", tariff_per_kwh=0.5)
    db.session.commit()
    store(org, "rome", "main", range(0, 48), 2.0)  # 24 h: 48 kWh, 7 d: 96 kWh
    store(org, "tokyo", "main", range(30, 40), 1.0)  # only older than 24 h: 10 kWh in 7 d
    portfolio = dashboard.load_portfolio(org)
    rows = {row.site.site_id: row for row in portfolio.rows}
    rome, tokyo = rows["rome"], rows["tokyo"]
    assert (rome.last_24h.kwh, rome.last_24h.cost) == (48.0, 24.0)
    assert (rome.last_7d.kwh, rome.last_7d.cost) == (96.0, 48.0)
    assert rome.coverage_24h_pct == 100.0 and rome.last_reading == hour_start(0).timestamp()
    assert tokyo.last_24h.kwh is None and tokyo.last_7d.kwh == 10.0
    assert tokyo.last_7d.cost == pytest.approx(10.0 * org.tariff_per_kwh)
    assert tokyo.coverage_24h_pct == 0.0 and tokyo.last_reading == hour_start(30).timestamp()
    assert portfolio.last_24h.kwh == 48.0 and portfolio.last_7d.kwh == 106.0
    chart = portfolio.chart_7d
    assert chart["timezone"] == org.timezone and len(chart["ts"]) == 168
    values = chart["lines"][0]["values"]
    assert sum(v for v in values if v is not None) == 106.0
    assert values[-1] == 2.0 and values[-31] == 3.0  # 30 hours ago both sites reported
    assert chart["ts"][-1] == hour_start(0).timestamp()


def test_site_overview_kpis_charts_and_meters(org):
    store(org, "plant", "main", range(0, 24 * 14), 3.0)
    store(org, "plant", "sub", range(0, 5), 1.0)
    overview = dashboard.load_site_overview(org, "plant")
    assert overview.summed_without_main
    assert overview.last_24h.kwh == 24 * 3.0 + 5.0
    assert overview.previous_7d.kwh == 168 * 3.0
    assert overview.change_7d_pct == pytest.approx(100.0 * 5.0 / (168 * 3.0))
    assert overview.chart_24h["points"] == 24 and overview.chart_24h["points_with_data"] == 24
    assert overview.chart_7d["points"] == 168
    assert [line["label"] for line in overview.chart_24h["lines"]] == ["Actual"]
    meters = {row.meter.meter_id: row for row in overview.meters}
    # Only the intervals that have ended are expected (the current hour has not), and only
    # the readings in them are counted: sub's reading of the open hour is not, yet.
    assert (meters["sub"].received_7d, meters["sub"].expected_7d) == (4, 167)
    assert meters["sub"].coverage_24h_pct == pytest.approx(100.0 * 4 / 23, abs=0.01)
    assert meters["main"].coverage_7d_pct == 100.0 and meters["main"].counted

    sites.update_meter(sites.get_site(org, "plant"), "main", is_main=True)
    db.session.commit()
    overview = dashboard.load_site_overview(org, "plant")
    assert not overview.summed_without_main
    assert overview.last_24h.kwh == 24 * 3.0
    assert not {row.meter.meter_id: row for row in overview.meters}["sub"].counted


def test_meter_coverage_counts_the_readings_of_ended_hours_only(org, monkeypatch):
    # The read services' clock too: expected and received are counted at the same instant.
    monkeypatch.setattr(windows, "utcnow", lambda: FROZEN)
    # Every hour of the 7-day window, the open one included, but one ended hour is missing.
    store(org, "plant", "main", [h for h in range(0, 168) if h != 5], 1.0)
    overview = dashboard.load_site_overview(org, "plant")
    (row,) = overview.meters
    # Was "167 of 167" (the open hour's reading hid the gap) and "168 of 167" without a gap.
    assert (row.received_7d, row.expected_7d) == (166, 167)
    assert row.coverage_7d_pct == round(100 * 166 / 167, 2)
    assert row.coverage_24h_pct == round(100 * 22 / 23, 2)
    # The site's own coverage figures say the same; the open hour's kWh still count.
    assert overview.coverage_24h_pct == round(100 * 22 / 23, 2)
    assert overview.coverage_7d_pct == round(100 * 166 / 167, 2)
    assert overview.last_24h.kwh == 23.0

    store(org, "plant", "main", [5], 1.0)
    (row,) = dashboard.load_site_overview(org, "plant").meters
    assert (row.received_7d, row.expected_7d, row.coverage_7d_pct) == (167, 167, 100.0)


def test_the_analytics_slots_start_empty(org):
    store(org, "plant", "main", range(0, 3), 1.0)
    overview = dashboard.load_site_overview(org, "plant")
    assert not overview.analytics.available
    assert overview.analytics.alerts == [] and overview.analytics.opportunities == []
    assert dashboard.list_alerts(org) == [] and dashboard.list_report_documents(org) == []


def test_another_organizations_site_is_not_found(app, api, org):
    store(org, "mine", "main", [0], 1.0)
    other = db.session.get(Organization, api.signup(org="Other")["organization"]["id"])
    with pytest.raises(NotFound):
        dashboard.load_site_overview(other, "mine")
    assert dashboard.load_portfolio(other).rows == []


def test_the_site_csv_has_the_hours_of_the_charts_in_utc_and_site_time(org):
    sites.create_site(org, "ny", timezone="America/New_York")
    db.session.commit()
    store(org, "ny", "main", [0, 5], 7.5)
    overview = dashboard.load_site_overview(org, "ny")
    rows = list(csv.reader(io.StringIO(dashboard.render_overview_csv(overview))))
    assert rows[0] == ["hour_start_utc", "hour_start_local (America/New_York)", "actual_kwh"]
    assert len(rows) == 169
    last = rows[-1]
    assert last[0] == iso(hour_start(0)) and last[2] == "7.5"
    offset = last[1][-6:]
    assert offset in ("-05:00", "-04:00")
    assert [row[2] for row in rows[1:]].count("7.5") == 2


def test_the_weekly_table_neutralises_formulas(org):
    store(org, "@plant", "main", [1], 2.0)
    text = dashboard.render_weekly_csv(
        dashboard.tabulate_week(dashboard.load_portfolio(org, with_chart=False))
    )
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["site_id"] == "'@plant" and rows[0]["site_name"] == "'@plant"
    assert rows[0]["kwh_7d"] == "2.000" and rows[0]["currency"] == org.currency


def test_a_frozen_clock_moves_every_window(org):
    store(org, "plant", "main", [0, 1, 2], 1.0)
    later = FROZEN + timedelta(hours=2)
    overview = dashboard.load_site_overview(org, "plant", now=later)
    assert overview.last_24h.kwh == 3.0
    assert overview.chart_24h["lines"][0]["values"][-5:] == [1.0, 1.0, 1.0, None, None]


def test_the_dashboard_reads_any_number_of_sites_in_a_fixed_number_of_queries(app, org):
    from sqlalchemy import event

    def statements():
        db.session.commit()  # every count starts from an empty identity map
        seen = []

        def listener(*args):
            seen.append(args[2])

        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            portfolio = dashboard.load_portfolio(org)
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return seen, portfolio

    def add_sites(names):
        for name in names:
            # A site adding two meters (no main), and one with a single meter.
            store(org, f"{name}-pair", "a", range(0, 30), 1.0)
            store(org, f"{name}-pair", "b", range(0, 30), 2.0)
            store(org, f"{name}-lone", "m", range(0, 200), 0.5)

    add_sites(["one"])
    few, portfolio = statements()
    assert len(portfolio.rows) == 2 and portfolio.last_24h.kwh == 3.0 * 24 + 0.5 * 24
    add_sites(["two", "three", "four"])
    many, portfolio = statements()
    assert len(portfolio.rows) == 8
    assert portfolio.last_24h.kwh == 4 * (3.0 * 24 + 0.5 * 24)
    assert portfolio.last_7d.kwh == 4 * (3.0 * 30 + 0.5 * 168)
    assert len(many) == len(few), "\n".join(many)
