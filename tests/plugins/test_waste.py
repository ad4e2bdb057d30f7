"""The waste plugin on synthetic sites whose out-of-hours waste is known."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from cei.plugins.waste import WEEKS_PER_YEAR, WastePlugin, estimate_base_load
from tests.plugins.known_truth import make_site


def run(site, now=None, **params):
    return WastePlugin().run(site.context(now=now, tariff=0.2, currency="EUR", params=params))


def test_a_known_night_load_is_measured_exactly():
    site = make_site(base=50, shift=200, night_waste=30)
    result = run(site)
    data = result.data
    night_per_week = site.night_kwh / site.weeks  # 5 nights x 12 h x 30 kWh
    assert night_per_week == 1800
    assert data["state"] == "ready" and data["weeks_analysed"] == 8
    assert data["base_load_kw"] == pytest.approx(50, abs=1e-6)
    assert data["night_waste_kwh_per_week"] == pytest.approx(night_per_week)
    assert data["weekend_waste_kwh_per_week"] == pytest.approx(0, abs=1e-6)
    assert data["waste_kwh_per_year"] == pytest.approx(1800 * WEEKS_PER_YEAR, rel=1e-4)
    assert data["cost_per_week"] == pytest.approx(1800 * 0.2)
    assert data["cost_per_year"] == pytest.approx(1800 * WEEKS_PER_YEAR * 0.2, rel=1e-4)
    operating = ~(site.category["night"] | site.category["off"])
    out_of_hours = ~operating
    values = site.series.to_numpy()
    assert data["out_of_hours_share"] == pytest.approx(
        values[out_of_hours].sum() / values.sum(), abs=1e-4
    )
    [opportunity] = result.opportunities
    assert opportunity.kind == "night_waste"
    assert opportunity.kwh_per_week == pytest.approx(1800)
    assert opportunity.kwh_per_year == pytest.approx(1800 * WEEKS_PER_YEAR, rel=1e-4)
    assert opportunity.details["cost_per_year"] == pytest.approx(1800 * WEEKS_PER_YEAR * 0.2, 1e-4)
    assert "Base load" in opportunity.method and "median" in opportunity.method


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_night_and_weekend_waste_with_noise_are_within_five_percent(seed):
    site = make_site(base=50, shift=200, night_waste=30, weekend_waste=60, noise=0.05, seed=seed)
    data = run(site).data
    assert data["night_waste_kwh_per_week"] == pytest.approx(site.night_kwh / site.weeks, rel=0.05)
    assert data["weekend_waste_kwh_per_week"] == pytest.approx(
        site.weekend_kwh / site.weeks, rel=0.05
    )
    assert data["base_load_kw"] == pytest.approx(50, rel=0.02)


def test_weekend_load_alone_is_weekend_waste():
    site = make_site(base=50, shift=200, weekend_waste=60, noise=0.05)
    result = run(site)
    assert site.weekend_kwh / site.weeks == 60 * 16
    assert result.data["weekend_waste_kwh_per_week"] == pytest.approx(960, rel=0.05)
    assert result.data["night_waste_kwh_per_week"] < 0.05 * 960
    assert [o.kind for o in result.opportunities] == ["weekend_waste"]


def test_sydney_nights_are_site_local_not_utc():
    site = make_site("Australia/Sydney", date(2026, 6, 1), 56, night_waste=30)
    # The planted nights (19:00-07:00 in Sydney) are mostly daytime in UTC.
    utc_hours = site.series.index.tz_convert("UTC").hour[site.category["night"]]
    assert np.mean((utc_hours >= 7) & (utc_hours < 19)) > 0.8
    expected = site.night_kwh / site.weeks
    data = run(site).data
    assert data["night_waste_kwh_per_week"] == pytest.approx(expected)
    assert data["weekend_waste_kwh_per_week"] == pytest.approx(0, abs=1e-6)
    # the same instants given in UTC give the same answer
    site.series = site.series.tz_convert("UTC")
    assert run(site).data["night_waste_kwh_per_week"] == pytest.approx(expected)


@pytest.mark.parametrize(
    ("first_day", "week_start", "sunday_hours"),
    [(date(2026, 2, 2), date(2026, 3, 23), 23), (date(2026, 8, 31), date(2026, 10, 19), 25)],
)
def test_dst_weeks_in_rome_count_their_real_hours(first_day, week_start, sunday_hours):
    # Weekend waste from midnight to 06:00: 5 such hours on the spring-forward Sunday, 7 on
    # the fall-back one.
    site = make_site(
        "Europe/Rome", first_day, 56, night_waste=30, weekend_waste=80, weekend_hours=(0, 6)
    )
    weekend_hours = 6 + 6 + (sunday_hours - 24)
    zone = ZoneInfo("Europe/Rome")
    sunday = week_start + timedelta(days=6)
    length = datetime.combine(sunday + timedelta(days=1), datetime.min.time(), zone).astimezone(
        UTC
    ) - datetime.combine(sunday, datetime.min.time(), zone).astimezone(UTC)
    assert length == timedelta(hours=sunday_hours)
    result = run(site)
    week = result.data["last_week"]
    assert week["start"].startswith(week_start.isoformat())
    assert week["weekend_waste_kwh"] == pytest.approx(80 * weekend_hours)
    assert week["night_waste_kwh"] == pytest.approx(30 * 5 * 12)
    kinds = {f.kind: f for f in result.findings}
    assert kinds["weekend_waste"].kwh_impact == pytest.approx(80 * weekend_hours)
    assert kinds["weekend_waste"].key == f"weekend_waste:{week_start.isoformat()}"
    assert kinds["weekend_waste"].period_end - kinds["weekend_waste"].period_start == timedelta(
        hours=24 * 7 + sunday_hours - 24
    )


def test_a_holiday_counts_with_the_weekend():
    holiday = date(2026, 2, 25)  # a Wednesday of the last week
    site = make_site(night_waste=30, weekend_waste=20, holidays=(holiday,))
    week = run(site).data["last_week"]
    assert week["start"].startswith("2026-02-23")
    assert week["weekend_waste_kwh"] == pytest.approx(20 * 8 * 3)
    assert week["night_waste_kwh"] == pytest.approx(30 * 4 * 12)


def test_missing_hours_do_not_bias_the_weekly_figures():
    site = make_site(night_waste=30, weekend_waste=60, noise=0.05, seed=7)
    rng = np.random.default_rng(3)
    series = site.series.copy()
    series.iloc[rng.choice(len(series), size=len(series) // 6, replace=False)] = np.nan
    site.series = series
    data = run(site).data
    assert data["coverage"] == pytest.approx(5 / 6, abs=0.01)
    assert data["night_waste_kwh_per_week"] == pytest.approx(1800, rel=0.05)
    assert data["weekend_waste_kwh_per_week"] == pytest.approx(960, rel=0.05)


def test_base_load_drift_of_twenty_percent_is_found():
    site = make_site(base=50, night_waste=30, noise=0.05, base_from=(date(2026, 2, 23), 60))
    result = run(site)
    [drift] = [f for f in result.findings if f.kind == "baseload_drift"]
    assert drift.severity == "warning"
    assert drift.details["change_pct"] == pytest.approx(20, abs=3)
    assert drift.kwh_impact == pytest.approx(10 * 168, rel=0.15)
    year, week, _ = (site.end - pd.Timedelta(hours=1)).tz_convert("Europe/Rome").isocalendar()
    assert drift.key == f"baseload_drift:{year}-W{week:02d}"
    assert drift.period_end - drift.period_start == timedelta(days=7)


def test_base_load_ten_percent_higher_is_not_drift():
    site = make_site(base=50, noise=0.05, base_from=(date(2026, 2, 23), 55))
    result = run(site)
    assert result.data["drift"]["change_pct"] == pytest.approx(10, abs=3)
    assert not [f for f in result.findings if f.kind == "baseload_drift"]


def test_a_clean_site_raises_nothing_on_any_day():
    site = make_site(days=77, noise=0.05, seed=11)
    for days_back in range(0, 21):
        result = run(site, now=site.end - pd.Timedelta(days=days_back, hours=days_back))
        assert result.findings == [], days_back
        assert result.opportunities == []


def test_findings_keep_their_key_through_the_week_and_follow_the_thresholds():
    site = make_site(night_waste=30)
    first = run(site)
    later = run(site, now=site.end + pd.Timedelta(hours=30))
    assert [(f.kind, f.key, f.severity) for f in first.findings] == [
        ("night_waste", "night_waste:2026-02-23", "info")
    ]
    assert [(f.key, f.period_start) for f in later.findings] == [
        (f.key, f.period_start) for f in first.findings
    ]
    share = first.findings[0].details["share_of_consumption"]
    assert share == pytest.approx(1800 / (50 * 168 + 200 * 60 + 1800), abs=1e-4)
    stricter = run(site, warning_share=0.05)
    assert stricter.findings[0].severity == "warning"
    assert run(site, info_share=0.5, warning_share=0.6, critical_share=0.7).findings == []


def test_less_than_a_week_of_data_is_insufficient():
    site = make_site(days=5, night_waste=30)
    result = run(site)
    assert result.data["state"] == "insufficient_data"
    assert result.findings == [] and result.opportunities == []


def test_base_load_is_the_median_of_the_quiet_hours_not_a_low_percentile():
    rng = np.random.default_rng(5)
    quiet = 100 * (1 + 0.05 * rng.standard_normal(24 * 28))
    busy = np.where(np.arange(quiet.size) % 24 >= 8, 150, 0) * (
        1 + 0.05 * rng.standard_normal(quiet.size)
    )
    series = pd.Series(quiet + busy)
    assert np.percentile(series, 5) < 95  # the naive floor sits well below the truth
    assert estimate_base_load(series).level == pytest.approx(100, rel=0.015)


def test_a_site_that_switches_everything_off_has_no_base_load_and_its_waste_counts_in_full():
    site = make_site(base=0, shift=200, night_waste=10)
    data = run(site).data
    assert data["base_load_kw"] == 0
    assert data["night_waste_kwh_per_week"] == pytest.approx(10 * 60)


def test_a_site_working_around_the_clock_has_no_out_of_hours_waste():
    site = make_site(hours=(0, 24), workdays=tuple(range(7)), noise=0.05)
    result = run(site)
    assert result.data["out_of_hours_share"] == 0
    assert result.data["waste_kwh_per_week"] == 0
    assert [f.kind for f in result.findings] == []
