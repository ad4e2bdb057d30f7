"""Report content from known hourly data: KPIs, days, peak hours, profile, gaps, DST days."""

from datetime import date

import numpy as np
import pytest

from cei.services.reports.content import SiteInputs, assemble_site, portfolio_totals
from cei.services.reports.periods import period_ending
from tests.reports import samples

HOUR = 3600


def test_kpis_and_days_of_a_site_ten_percent_above_its_baseline():
    site = samples.site_report()
    # Mon-Fri: 12 working hours at 20 kWh + 12 at 5 kWh = 300 kWh; weekend 24 x 5 = 120 kWh.
    assert [day.kwh for day in site.days] == [300.0] * 5 + [120.0] * 2
    assert [day.baseline_kwh for day in site.days] == [270.0] * 5 + [108.0] * 2
    assert {day.deviation_pct for day in site.days} == {11.11}
    assert [day.cost for day in site.days] == [75.0] * 5 + [30.0] * 2
    assert [day.peak_hour for day in site.days] == ["07:00"] * 5 + ["00:00"] * 2
    kpis = site.kpis
    assert (kpis.kwh, kpis.baseline_kwh, kpis.deviation_pct) == (1740.0, 1566.0, 11.11)
    assert (kpis.cost, kpis.co2e_kg, kpis.baseline_cost) == (435.0, 348.0, 391.5)
    assert (kpis.previous_kwh, kpis.change_pct, kpis.coverage_pct) == (1740.0, 0.0, 100.0)
    assert site.profile[3].kwh == pytest.approx(5.0)
    assert site.profile[10].kwh == pytest.approx((5 * 20 + 2 * 5) / 7, abs=1e-3)
    assert site.profile[10].baseline_kwh == pytest.approx(0.9 * (5 * 20 + 2 * 5) / 7, abs=1e-3)
    assert not site.methodology.has_gaps and site.methodology.gaps == []


def test_gaps_are_counted_not_saved():
    period = period_ending(date(2026, 11, 22), "UTC")
    tuesday_9 = period.start_ts + 24 * HOUR + 9 * HOUR
    missing = [tuesday_9, tuesday_9 + HOUR, tuesday_9 + 2 * HOUR, period.end_ts - HOUR]
    site = samples.site_report(missing=missing)
    tuesday, sunday = site.days[1], site.days[6]
    assert (tuesday.hours_with_data, tuesday.kwh, tuesday.baseline_kwh) == (21, 240.0, 216.0)
    # The baseline of the missing hours is left out too: the deviation stays +11.11 %.
    assert tuesday.deviation_pct == 11.11
    assert (sunday.hours_with_data, sunday.kwh) == (23, 115.0)
    method = site.methodology
    assert (method.hours_expected, method.hours_with_data, method.missing_hours) == (168, 164, 4)
    assert [(gap.start.hour, gap.end.hour, gap.hours) for gap in method.gaps] == [
        (9, 12, 3),
        (23, 0, 1),
    ]
    assert site.kpis.coverage_pct == round(100 * 164 / 168, 1)
    assert site.kpis.kwh == 1740.0 - 60.0 - 5.0


def test_hours_absent_from_the_series_are_gaps_too():
    period = period_ending(date(2026, 11, 22), "UTC")
    actual, expected = samples.hourly(period, "UTC", samples.working_load, expected=lambda t: 4.0)
    kept = actual.index < actual.index[-5]  # the last 5 hours never arrived at all
    site = assemble_site(
        samples.site(), period, SiteInputs(actual[kept], expected[kept]), samples.Factors()
    )
    assert site.methodology.missing_hours == 5
    assert site.days[-1].hours_with_data == 19


def test_dst_days_have_23_and_25_hours_and_local_peaks():
    rome = samples.site(timezone="Europe/Rome")
    spring = samples.site_report(last=date(2026, 3, 29), site_ref=rome)
    assert [day.hours for day in spring.days] == [24] * 6 + [23]
    assert spring.days[-1].kwh == 23 * 5.0
    assert spring.methodology.hours_expected == 167
    autumn = samples.site_report(last=date(2026, 10, 25), site_ref=rome)
    assert [day.hours for day in autumn.days] == [24] * 6 + [25]
    assert autumn.days[-1].kwh == 25 * 5.0
    # Working hours start at 07:00 local time in both offsets.
    assert {day.peak_hour for day in autumn.days[:5]} == {"07:00"}


def test_a_warming_up_baseline_is_not_compared():
    site = samples.site_report(quality={"state": "warming_up"})
    assert site.kpis.baseline_kwh is None and site.kpis.deviation_pct is None
    assert {day.baseline_kwh for day in site.days} == {None}
    assert site.methodology.baseline_state == "warming_up"


def test_a_baseline_missing_for_many_hours_is_not_used():
    period = period_ending(date(2026, 11, 22), "UTC")
    actual, expected = samples.hourly(period, "UTC", samples.working_load, expected=lambda t: 4.0)
    expected[np.arange(len(expected)) % 5 == 0] = np.nan  # 20 % of hours without expectation
    site = assemble_site(
        samples.site(), period, SiteInputs(actual, expected, {"state": "ready"}), samples.Factors()
    )
    assert site.kpis.baseline_kwh is None and site.kpis.deviation_pct is None


def test_portfolio_totals_sum_the_sites():
    one = samples.site_report()
    two = samples.site_report(
        site_ref=samples.site("plant-2"), load=lambda ts: 10.0, expected=lambda ts: 12.5
    )
    totals = portfolio_totals([one, two])
    assert totals.kwh == 1740.0 + 1680.0
    assert totals.baseline_kwh == 1566.0 + 2100.0
    assert totals.cost == 435.0 + 420.0
    assert totals.deviation_pct == round((3420.0 - 3666.0) / 3666.0 * 100, 2)
    assert totals.coverage_pct == 100.0
