"""analyse_site: KPIs, money and carbon, series, opportunities, plugin failures, run rows."""

import math
from datetime import date
from types import SimpleNamespace

import pytest

from cei.extensions import db
from cei.models import AnalysisRun, Organization, Site, SiteAnalysis
from tests.analytics import fakes
from tests.analytics.conftest import END, HOUR, NOW, hourly


def stored(app, site_pk):
    """The site's stored results, every column loaded."""
    with app.app_context():
        row = db.session.get(SiteAnalysis, site_pk)
        return SimpleNamespace(
            kpis=row.kpis,
            baseline=row.baseline,
            forecast=row.forecast,
            opportunities=row.opportunities,
        )


def test_kpis_against_a_known_baseline(app, factory, analyse):
    _, site_pk = factory
    analyse(site_pk)
    kpis = stored(app, site_pk).kpis
    # 10 kWh every hour against 8 expected: +25 %; the organization's defaults price it.
    assert kpis["last_24h_kwh"] == pytest.approx(240.0)
    assert kpis["baseline_24h_kwh"] == pytest.approx(24 * fakes.LEVEL)
    assert kpis["deviation_pct_24h"] == pytest.approx(25.0)
    assert kpis["last_7d_kwh"] == pytest.approx(1680.0)
    assert kpis["baseline_7d_kwh"] == pytest.approx(168 * fakes.LEVEL)
    assert kpis["deviation_pct_7d"] == pytest.approx(25.0)
    assert kpis["prev_7d_kwh"] == pytest.approx(1680.0)
    assert kpis["change_pct_7d_vs_prev"] == pytest.approx(0.0)
    assert kpis["last_24h_cost"] == pytest.approx(240.0 * 0.20)
    assert kpis["last_24h_co2e_kg"] == pytest.approx(240.0 * 0.21)
    assert kpis["baseline_7d_co2e_kg"] == pytest.approx(168 * fakes.LEVEL * 0.21)
    assert kpis["coverage_24h_pct"] == 100.0
    assert kpis["baseline_quality"]["state"] == "ready"
    assert kpis["currency"] == "EUR"


def test_site_overrides_and_gaps(app, make_site, add_readings, site_pk_of, plugins, analyse):
    ref = make_site("plant-2", meters=[("main", True, 60)])
    # The last 6 hours are missing: coverage 75 %, and the baseline only counts hours with data.
    missing = set(range(END - 6 * HOUR, END, HOUR))
    add_readings(ref.meters["main"], hourly(skip=missing))
    site_pk = site_pk_of("plant-2")
    with app.app_context():
        site = db.session.get(Site, site_pk)
        site.tariff_per_kwh, site.emission_factor_kg_per_kwh = 0.5, 0.1
        db.session.get(Organization, site.organization_id).currency = "CHF"
        db.session.commit()
    analyse(site_pk)
    kpis = stored(app, site_pk).kpis
    assert kpis["coverage_24h_pct"] == 75.0
    assert kpis["last_24h_kwh"] == pytest.approx(180.0)
    assert kpis["baseline_24h_kwh"] == pytest.approx(18 * fakes.LEVEL)
    assert kpis["last_24h_cost"] == pytest.approx(90.0)
    assert kpis["last_24h_co2e_kg"] == pytest.approx(18.0)
    assert kpis["currency"] == "CHF"


def test_series_and_opportunities_are_kept(app, factory, analyse):
    _, site_pk = factory
    analyse(site_pk)
    result = stored(app, site_pk)
    points = result.baseline["points"]
    assert len(points) == 28 * 24
    assert points[-1] == [END - HOUR, 10.0, fakes.LEVEL]
    forecast = result.forecast
    assert forecast["method"] == "flat-test-profile"
    assert len(forecast["points"]) == 168
    assert forecast["points"][0] == [END, fakes.LEVEL, fakes.LEVEL - 1, fakes.LEVEL + 1]
    (opportunity,) = result.opportunities
    assert opportunity["per_week_kwh"] == 70.0
    assert opportunity["per_year_cost"] == pytest.approx(3640 * 0.20)
    assert opportunity["per_year_co2e_kg"] == pytest.approx(3640 * 0.21)
    assert opportunity["method"] == "test: fixed figures"


def test_a_failing_plugin_is_recorded_and_the_others_run(app, factory, plugins, analyse):
    _, site_pk = factory
    plugins([*fakes.STANDARD, fakes.Exploding(), fakes.NeedsExploding()])
    run_id = analyse(site_pk)
    with app.app_context():
        run = db.session.get(AnalysisRun, run_id)
        assert run.plugins["exploding"]["status"] == "failed"
        assert "boom" in run.plugins["exploding"]["error"]
        assert run.plugins["dependent"]["status"] == "skipped"
        assert run.plugins["baseline"]["status"] == "ok"
        assert run.plugins["finder"]["data"] == {
            "checked_hours": app.config["ANALYTICS_HISTORY_DAYS"] * 24
        }
        assert "exploding" in run.error
        assert run.read_ms is not None and run.read_ms >= 0
    assert stored(app, site_pk).kpis["deviation_pct_24h"] == pytest.approx(25.0)


def test_without_a_baseline_the_kpis_have_no_deviation(app, factory, plugins, analyse):
    _, site_pk = factory
    plugins([fakes.NightSaver()])
    analyse(site_pk)
    kpis = stored(app, site_pk).kpis
    assert kpis["last_24h_kwh"] == pytest.approx(240.0)
    assert kpis["baseline_24h_kwh"] is None and kpis["deviation_pct_24h"] is None
    assert stored(app, site_pk).forecast == {}


def test_organization_thresholds_reach_the_deviation_plugin(app, factory, plugins, analyse):
    _, site_pk = factory
    plugins([fakes.Deviation()])
    with app.app_context():
        organization = db.session.get(Organization, db.session.get(Site, site_pk).organization_id)
        organization.deviation_warning_pct, organization.deviation_critical_pct = 12.0, 40.0
        db.session.commit()
    run_id = analyse(site_pk)
    with app.app_context():
        data = db.session.get(AnalysisRun, run_id).plugins["deviation"]["data"]
    assert data == {"warning_pct": 12.0, "critical_pct": 40.0}


def test_the_series_is_site_local_and_ends_with_the_last_ended_hour(
    app, make_site, add_readings, site_pk_of, plugins
):
    """Europe/Rome across the fall-back day: 25 local hours, NaN where data is missing."""
    from cei.services.analytics.context import build_context

    ref = make_site("rome", timezone="Europe/Rome", meters=[("main", True, 60)])
    add_readings(ref.meters["main"], hourly(hours=24 * 60, skip={END - 5 * HOUR}))
    with app.app_context():
        site = db.session.get(Site, site_pk_of("rome"))
        organization = db.session.get(Organization, site.organization_id)
        context, factors, _ = build_context(site, organization, NOW, history_days=63)
    series = context.series
    assert str(series.index.tz) == "Europe/Rome"
    assert len(series) == 63 * 24
    assert series.index[-1].hour == 10  # 09:00 UTC is 10:00 in Rome (winter time)
    assert math.isnan(series.iloc[-5])
    assert series.iloc[-1] == 10.0
    # Sunday 2026-10-25, the fall-back day, has 25 hours.
    assert (series.index.date == date(2026, 10, 25)).sum() == 25
    assert factors.emission_factor == 0.21
    # Intervals wholly inside [10:20 yesterday, 10:20): 11:00 yesterday to 09:00, one missing.
    (meter,) = context.meters
    assert meter.expected_24h == 23 and meter.received_24h == 22


def test_sub_hourly_meters_add_up_to_hours(app, make_site, add_readings, site_pk_of, plugins):
    """No main meter: the site total is every meter, 15-minute readings summed per hour."""
    from cei.services.analytics.context import build_context

    ref = make_site("mixed", meters=[("line", False, 60), ("hvac", False, 15)])
    add_readings(ref.meters["line"], hourly(hours=48))
    quarter_hours = [(ts, 0.5) for ts in range(END - 48 * HOUR, END, 900)]
    add_readings(ref.meters["hvac"], quarter_hours)
    with app.app_context():
        site = db.session.get(Site, site_pk_of("mixed"))
        organization = db.session.get(Organization, site.organization_id)
        context, _, _ = build_context(site, organization, NOW, history_days=3)
    assert list(context.series.iloc[-48:]) == [12.0] * 48
    assert context.series.iloc[:-48].isna().all()
    statuses = {meter.meter_id: meter for meter in context.meters}
    # Quarters wholly inside [10:20 yesterday, 10:20): 10:30 to 10:00; 10:00-10:15 has no data.
    assert statuses["hvac"].expected_24h == 95 and statuses["hvac"].received_24h == 94


def test_the_deviation_plugin_decides_the_kpi_comparison(app, factory, plugins, analyse):
    """One rule: the KPIs show the deviation plugin's comparison when it ran."""
    _, site_pk = factory
    plugins([fakes.FlatBaseline(), fakes.ForecastWithTotals(), fakes.FixedDeviation()])
    analyse(site_pk)
    result = stored(app, site_pk)
    kpis = result.kpis
    assert kpis["baseline_24h_kwh"] == 200.0 and kpis["deviation_pct_24h"] == 20.0
    assert kpis["baseline_24h_cost"] == 40.0 and kpis["baseline_24h_co2e_kg"] == 42.0
    # The plugin found too little to compare over 7 days: no deviation, whatever we'd compute.
    assert kpis["baseline_7d_kwh"] is None and kpis["deviation_pct_7d"] is None
    assert kpis["last_7d_kwh"] == 1680.0
    details = result.forecast["details"]
    assert details["next_24h_kwh"] == 24 * fakes.LEVEL
    assert details["next_24h_cost"] == pytest.approx(24 * fakes.LEVEL * 0.2)
    assert details["next_24h_co2e_kg"] == pytest.approx(24 * fakes.LEVEL * 0.21)
