"""The spikes plugin: planted spikes and level shifts are found, clean data stays quiet."""

from dataclasses import replace

import pandas as pd
import pytest

from cei.plugins.base import AnalysisContext
from cei.plugins.baseline import BaselinePlugin
from cei.plugins.spikes import SpikesPlugin
from cei.synthetic import make_factory
from tests.plugins.running import analyse, until

HOUR = pd.Timedelta(hours=1)


def findings(series, timezone="Europe/Rome", kind=None, **params):
    result = analyse(series, timezone, ("baseline", "spikes"), {"spikes": params})["spikes"]
    return [f for f in result.findings if kind is None or f.kind == kind]


def test_the_plugin_names_itself_and_needs_the_baseline():
    assert SpikesPlugin.name == "spikes" and SpikesPlugin.requires == ("baseline",)


@pytest.mark.parametrize("seed", [31, 32, 33])
def test_planted_spikes_are_found_at_their_hour_with_their_excess(seed):
    series, truth = make_factory(
        days=63, seed=seed, spikes=5, spike_window_days=7, night_waste_kw=20, gaps=4
    )
    spikes = findings(series, kind="spike")
    assert [f.period_start for f in spikes] == list(truth.spike_times)
    for finding, planted in zip(spikes, truth.spike_kwh, strict=True):
        assert finding.period_end - finding.period_start == HOUR
        assert finding.kwh_impact == pytest.approx(planted, rel=0.2)
        assert finding.severity in ("warning", "critical")
        assert finding.key.startswith("spike:")


@pytest.mark.parametrize("timezone", ["Europe/Rome", "Australia/Sydney"])
def test_clean_factories_raise_nothing(timezone):
    for seed in (34, 35):
        series, _ = make_factory(timezone=timezone, days=70, seed=seed, night_waste_kw=20, gaps=4)
        assert findings(series, timezone) == []


def test_a_sydney_spike_at_local_night_is_found():
    series, truth = make_factory(
        timezone="Australia/Sydney", days=56, seed=36, spikes=6, spike_window_days=7
    )
    found = [f.period_start for f in findings(series, "Australia/Sydney", kind="spike")]
    assert found == list(truth.spike_times)
    assert str(found[0].tz) == "Australia/Sydney"


def test_keys_stay_the_same_from_one_hourly_run_to_the_next():
    series, truth = make_factory(
        days=63, seed=37, spikes=3, spike_window_days=5, level_shift_start="2026-11-20 14:00"
    )
    first = {f.key for f in findings(until(series, series.index[-2]))}
    second = {f.key for f in findings(until(series, series.index[-1]))}
    third = {f.key for f in findings(series)}
    assert len(third) == 4 and first == second == third


def test_a_level_shift_is_found_from_its_start_with_its_excess_so_far():
    start = pd.Timestamp("2026-11-17 10:00", tz="Europe/Rome")
    series, truth = make_factory(days=63, seed=38, level_shift_start=start.tz_localize(None))
    shifts = findings(series, kind="level_shift")
    assert len(shifts) == 1
    shift = shifts[0]
    assert abs(shift.period_start - start) <= 2 * HOUR
    assert abs(shift.period_end - truth.shift_end) <= 2 * HOUR
    assert shift.details["shift_pct"] == pytest.approx(20, abs=4)
    assert shift.details["ongoing"] is False
    planted = (0.2 * truth.normal[truth.shift_start : truth.shift_end - HOUR]).sum()
    assert shift.kwh_impact == pytest.approx(planted, rel=0.25)
    assert findings(series, kind="spike") == []  # a shift is not a string of spikes


def test_a_level_shift_is_flagged_within_six_hours_of_its_start():
    start = pd.Timestamp("2026-11-19 13:00", tz="Europe/Rome")
    series, _ = make_factory(days=63, seed=39, level_shift_start=start.tz_localize(None))
    assert findings(until(series, start), kind="level_shift") == []
    flagged = next(
        hours
        for hours in range(1, 25)
        if findings(until(series, start + hours * HOUR), kind="level_shift")
    )
    assert flagged <= 6
    shift = findings(until(series, start + flagged * HOUR), kind="level_shift")[0]
    assert shift.details["ongoing"] is True and shift.period_end == start + flagged * HOUR


def test_a_drop_is_reported_as_a_level_shift_down():
    series, truth = make_factory(
        days=63, seed=40, level_shift_start="2026-11-18 08:00", level_shift_pct=-30
    )
    shifts = findings(series, kind="level_shift")
    assert [(f.details["shift_pct"] < 0, f.severity) for f in shifts] == [(True, "info")]
    assert shifts[0].kwh_impact < 0


def test_gaps_and_a_silent_last_day_do_not_break_the_search():
    series, truth = make_factory(days=63, seed=41, spikes=3, spike_window_days=6, gaps=8)
    series = series.copy()
    series.iloc[-24:] = float("nan")
    spikes = findings(series, kind="spike")
    assert [f.period_start for f in spikes] == [
        t for t in truth.spike_times if t < series.index[-24]
    ]


def test_hourly_runs_through_the_start_of_a_shift_report_one_shift_and_no_spike():
    # A night-time start (03:00) with the hours around it as the noise happened to fall: an
    # hour of the shift's first hours once looked like a lone spike.
    start = pd.Timestamp("2026-11-13 03:00", tz="Europe/Rome")
    series, _ = make_factory(
        days=70, seed=3, night_waste_kw=30, gaps=4, level_shift_start=start.tz_localize(None)
    )
    keys = set()
    for hours in range(0, 30):
        for finding in findings(until(series, start + hours * HOUR)):
            keys.add((finding.kind, finding.key))
    assert keys == {("level_shift", "level_shift:up:2026-11-13")}


def test_a_clean_factory_analysed_daily_from_its_third_week_raises_nothing():
    # The first weeks have one or two earlier weeks per slot: a short Friday evening must not
    # read as a drop against weekdays pooled together.
    series, truth = make_factory(days=70, seed=0)
    found = set()
    for day in range(14, 36):
        now = truth.start + pd.Timedelta(days=day, hours=22)  # at the end of the shifts
        found |= {f.key for f in findings(until(series, now))}
    assert found == set()


def test_a_holiday_in_the_schedule_is_not_a_drop():
    series, truth = make_factory(days=63, seed=42)
    holiday = pd.Timestamp("2026-11-19").date()  # a Thursday: the factory stays shut
    closed = series.copy()
    closed[closed.index.date == holiday] = truth.base_load_kw
    plain = findings(closed, kind="level_shift")
    assert [(f.details["shift_pct"] < -50, f.period_start.date()) for f in plain] == [
        (True, holiday)
    ]
    schedule = replace(truth.schedule, holidays=(holiday,))
    context = AnalysisContext("site-1", "Europe/Rome", truth.end, closed, schedule=schedule)
    context.results = {"baseline": BaselinePlugin().run(context)}
    assert SpikesPlugin().run(context).findings == []
