"""The deviation plugin: last 24 h and 7 d actual against a known baseline."""

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from cei.plugins.base import AnalysisContext, PluginResult
from cei.plugins.deviation import DeviationPlugin
from cei.plugins.registry import load_registry, run_plugins
from tests.plugins.fake_plugins import entry

TZ = "Europe/Rome"
END = pd.Timestamp("2026-03-10 12:00", tz=TZ)  # a Tuesday


def flat_site(days=21, end=END, level=100.0, tz=TZ):
    index = pd.date_range(end - pd.Timedelta(days=days), end, freq="h", inclusive="left")
    index = index.tz_convert(tz)
    expected = pd.Series(level, index=index)
    return expected.copy(), expected


def run(actual, expected, now=END, state="ready", tz=TZ, **params):
    context = AnalysisContext(
        site_id="s",
        timezone=tz,
        now=now,
        series=actual,
        tariff=0.3,
        params=params,
        results={"baseline": PluginResult(data={"state": state, "expected": expected})},
    )
    return DeviationPlugin().run(context)


def scale_last(actual, hours, factor, now=END):
    start = now - pd.Timedelta(hours=hours)
    actual.loc[(actual.index >= start) & (actual.index < now)] *= factor
    return actual


def test_twenty_percent_over_the_last_day_is_a_warning():
    actual, expected = flat_site()
    result = run(scale_last(actual, 24, 1.2), expected)
    day, week = result.data["last_24h"], result.data["last_7d"]
    assert (day["actual_kwh"], day["expected_kwh"]) == (2880, 2400)
    assert day["deviation_pct"] == pytest.approx(20)
    assert day["severity"] == "warning" and day["coverage"] == 1
    assert week["deviation_pct"] == pytest.approx(100 * 480 / 16800, abs=0.01)
    assert week["severity"] is None
    [finding] = result.findings
    assert (finding.kind, finding.severity) == ("deviation_24h", "warning")
    assert finding.key == "deviation_24h:2026-03-10"
    assert finding.kwh_impact == pytest.approx(480)
    assert finding.details["cost"] == pytest.approx(144)
    assert finding.details["direction"] == "above"
    assert finding.period_end - finding.period_start == timedelta(hours=24)


@pytest.mark.parametrize(
    ("factor", "severity_24h", "severity_7d"),
    [
        (1.05, None, None),
        (1.35, "critical", None),
        (0.6, "critical", None),
        (1.12, "warning", None),
    ],
)
def test_thresholds_on_both_sides(factor, severity_24h, severity_7d):
    actual, expected = flat_site()
    result = run(scale_last(actual, 24, factor), expected)
    assert result.data["last_24h"]["severity"] == severity_24h
    assert result.data["last_7d"]["severity"] == severity_7d
    assert [f.severity for f in result.findings] == [s for s in (severity_24h,) if s]


def test_a_week_thirty_five_percent_up_is_critical_on_both_periods():
    actual, expected = flat_site()
    actual.iloc[-170] = np.nan  # in the week before
    result = run(scale_last(actual, 168, 1.35), expected)
    assert result.data["prev_7d"]["actual_kwh"] == 167 * 100
    assert result.data["prev_7d"]["coverage"] == pytest.approx(167 / 168, abs=1e-4)
    assert result.data["last_7d"]["actual_kwh"] == pytest.approx(168 * 135)
    assert {f.kind: f.severity for f in result.findings} == {
        "deviation_24h": "critical",
        "deviation_7d": "critical",
    }
    week = next(f for f in result.findings if f.kind == "deviation_7d")
    assert week.key == "deviation_7d:2026-W11"
    assert week.kwh_impact == pytest.approx(0.35 * 16800)


def test_organizations_can_override_the_thresholds():
    actual, expected = flat_site()
    actual = scale_last(actual, 24, 1.2)
    assert run(actual, expected, warning_pct=25).findings == []
    assert [f.severity for f in run(actual, expected, critical_pct=15).findings] == ["critical"]


def test_no_finding_while_the_baseline_warms_up():
    actual, expected = flat_site(days=5)
    result = run(scale_last(actual, 24, 1.5), expected, state="warming_up")
    assert result.findings == []
    assert result.data["state"] == "warming_up"
    assert result.data["last_24h"]["status"] == "baseline_warming_up"
    assert result.data["last_24h"]["actual_kwh"] == 3600


def test_no_finding_from_a_ready_baseline_without_expected_values():
    actual, _ = flat_site()
    result = run(scale_last(actual, 24, 1.5), None)
    assert result.findings == [] and result.data["state"] == "without_expected"


def test_no_finding_when_readings_cover_too_little_of_the_period():
    actual, expected = flat_site()
    actual = scale_last(actual, 24, 1.5)
    actual.iloc[-8:] = np.nan  # 16 of the last 24 hours: 67 %
    result = run(actual, expected)
    day = result.data["last_24h"]
    assert day["status"] == "low_coverage" and day["compared_coverage"] == pytest.approx(
        2 / 3, abs=1e-4
    )
    assert day["severity"] is None
    assert [f.kind for f in result.findings] == []  # the week is only +5 %
    assert result.data["last_7d"]["status"] == "ok"


def test_gaps_are_left_out_of_both_sides():
    actual, expected = flat_site()
    actual = scale_last(actual, 24, 1.2)
    actual.iloc[-3:] = np.nan
    day = run(actual, expected).data["last_24h"]
    assert (day["compared_actual_kwh"], day["expected_kwh"]) == (21 * 120, 2100)
    assert day["deviation_pct"] == pytest.approx(20)


def test_keys_stay_the_same_through_the_day_and_change_the_next():
    actual, expected = flat_site(days=22, end=END + pd.Timedelta(days=1))
    actual[:] = 150.0
    keys = {}
    for hour in ("2026-03-10 10:00", "2026-03-10 10:40", "2026-03-10 23:59", "2026-03-11 01:00"):
        now = pd.Timestamp(hour, tz=TZ)
        keys[hour] = sorted(f.key for f in run(actual, expected, now=now).findings)
    assert keys["2026-03-10 10:00"] == keys["2026-03-10 10:40"] == keys["2026-03-10 23:59"]
    assert keys["2026-03-10 10:00"] == ["deviation_24h:2026-03-10", "deviation_7d:2026-W11"]
    assert keys["2026-03-11 01:00"] == ["deviation_24h:2026-03-11", "deviation_7d:2026-W11"]


def test_the_last_24_hours_are_24_real_hours_on_the_fall_back_day():
    now = pd.Timestamp("2026-10-26 00:00", tz=TZ)  # Sunday 25 October had 25 hours
    actual, expected = flat_site(end=now)
    day = run(actual, expected, now=now).data["last_24h"]
    assert day["hours"] == 24 and day["expected_kwh"] == 2400
    assert day["start"] == "2026-10-25T01:00:00+02:00"


def test_sydney_windows_end_at_now_whatever_the_zone_of_now():
    tz = "Australia/Sydney"
    end = pd.Timestamp("2026-07-01 09:00", tz=tz)
    actual, expected = flat_site(end=end, tz=tz)
    actual = scale_last(actual, 24, 1.2, now=end)
    result = run(actual, expected, now=end.tz_convert("UTC"), tz=tz)
    assert result.data["last_24h"]["deviation_pct"] == pytest.approx(20)
    assert result.findings[0].key == "deviation_24h:2026-07-01"


def test_through_the_runner_with_an_organization_override():
    registry = load_registry(
        entry_points=[
            entry("deviation", "cei.plugins.deviation:DeviationPlugin"),
            entry("baseline", "FlatBaseline"),
        ]
    )
    actual, _ = flat_site()
    context = AnalysisContext(site_id="s", timezone=TZ, now=END, series=scale_last(actual, 24, 1.2))
    outcomes = run_plugins(registry, context)
    assert [f.severity for f in outcomes["deviation"].result.findings] == ["warning"]
    stricter = run_plugins(registry, context, overrides={"deviation": {"critical_pct": 15}})
    assert [f.severity for f in stricter["deviation"].result.findings] == ["critical"]
    warming = run_plugins(registry, context, overrides={"baseline": {"state": "warming_up"}})
    assert warming["deviation"].status == "ok" and warming["deviation"].result.findings == []
