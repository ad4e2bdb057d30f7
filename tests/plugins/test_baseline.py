"""The baseline plugin on synthetic factories with known truth."""

import numpy as np
import pandas as pd
import pytest

from cei.plugins.baseline import BaselinePlugin, fit_quality
from cei.synthetic import local_hours, make_factory
from tests.plugins.running import analyse


def baseline(series, timezone="Europe/Rome", **params):
    return analyse(series, timezone, ("baseline",), {"baseline": params})["baseline"].data


def relative_error(expected, truth, hours):
    return ((expected[hours] - truth[hours]) / truth[hours]).abs()


def test_the_plugin_names_itself():
    assert BaselinePlugin.name == "baseline" and BaselinePlugin.requires == ()


def test_eight_weeks_give_a_ready_baseline_close_to_the_truth():
    series, truth = make_factory(days=63, seed=11)
    data = baseline(series)
    assert data["state"] == "ready"
    assert data["history_days"] == pytest.approx(63, abs=0.1)
    expected = data["expected"]
    assert expected.index.equals(series.index) and expected.notna().all()
    last_week = series.index[-168:]
    assert relative_error(expected, truth.normal, last_week).median() < 0.05
    quality = data["quality"]
    assert quality["holdout_hours"] == 168 and quality["passes_ashrae14"] is True
    assert quality["cv_rmse_pct"] < 15 and abs(quality["nmbe_pct"]) < 5
    assert "time-of-week" in data["method"].lower()
    assert len(data["expected_ahead"]) == 192
    assert data["expected_ahead"].index[0] == series.index[-1] + pd.Timedelta(hours=1)


def test_five_days_are_warming_up_but_still_give_an_expectation():
    series, truth = make_factory(days=5, seed=4)
    data = baseline(series)
    assert data["state"] == "warming_up"
    assert data["history_days"] == pytest.approx(5, abs=0.1)
    assert data["expected"].notna().all() and data["expected_ahead"].notna().all()
    assert data["quality"]["cv_rmse_pct"] is None and data["quality"]["passes_ashrae14"] is None
    # Even from five days the working hours are told from the nights.
    expected = data["expected"]
    weekday = expected[expected.index.day_of_week < 5]
    assert weekday[weekday.index.hour == 10].min() > 3 * expected[expected.index.hour == 3].max()
    saturday = expected[expected.index.day_of_week == 5]
    assert saturday.max() == pytest.approx(truth.base_load_kw, rel=0.1)


def test_the_history_threshold_is_a_parameter():
    series, _ = make_factory(days=10, seed=4)
    assert baseline(series)["state"] == "warming_up"
    assert baseline(series, min_history_days=7)["state"] == "ready"


def test_spikes_and_last_weeks_level_shift_do_not_move_the_expectation():
    start = pd.Timestamp("2026-11-10 06:00")
    clean, truth = make_factory(days=70, seed=5)
    dirty, dirty_truth = make_factory(
        days=70, seed=5, spikes=6, spike_window_days=21, level_shift_start=start
    )
    last_week = clean.index[-168:]
    moved = relative_error(baseline(dirty)["expected"], baseline(clean)["expected"], last_week)
    assert moved.max() < 0.1
    # and the anomalous hours themselves are judged against a normal expectation
    during = dirty.index[(dirty.index >= dirty_truth.shift_start)][:72]
    assert relative_error(baseline(dirty)["expected"], truth.normal, during).median() < 0.06


def test_dst_days_in_rome_keep_each_local_hour_in_its_slot():
    # The series ends on the Wednesday after the autumn change (25 October 2026) and holds the
    # spring change too (29 March, four weeks in): local hours must line up across both.
    series, truth = make_factory(days=242, end="2026-10-29 00:00", noise=0.02, seed=6)
    data = baseline(series)
    expected = data["expected"]
    for day in ("2026-03-29", "2026-03-30", "2026-10-25", "2026-10-26", "2026-10-27"):
        hours = expected[day].index
        assert len(hours) == {"2026-03-29": 23, "2026-10-25": 25}.get(day, 24)
        assert relative_error(expected, truth.normal, hours).max() < 0.15, day
    # 06:00 on the Monday after the change is the cold start, not base load or full shift.
    monday_six = pd.Timestamp("2026-10-26 06:00", tz="Europe/Rome")
    assert expected[monday_six] == pytest.approx(truth.normal[monday_six], rel=0.1)


def test_a_sydney_factory_works_in_its_own_daytime():
    series, truth = make_factory(timezone="Australia/Sydney", days=56, seed=8)
    data = baseline(series, timezone="Australia/Sydney")
    expected = data["expected"]
    assert data["state"] == "ready" and data["quality"]["passes_ashrae14"]
    last_week = series.index[-168:]
    assert relative_error(expected, truth.normal, last_week).median() < 0.05
    # 10:00 in Sydney is midnight UTC: a model keyed on UTC hours would expect base load.
    tuesday_ten = expected[(expected.index.day_of_week == 1) & (expected.index.hour == 10)]
    assert tuesday_ten.iloc[-1] > 150


def test_gaps_leave_an_expectation_for_every_hour_and_are_skipped_in_the_quality():
    series, truth = make_factory(days=56, seed=9, gaps=6)
    series = series.copy()
    series.iloc[-60:-20] = np.nan  # a long gap inside the held-out week
    data = baseline(series)
    assert data["expected"].notna().all()
    assert (
        data["quality"]["holdout_hours"]
        == 168
        - 40
        - truth.gap_times.isin(series.index[-168:]).sum()
        + truth.gap_times.isin(series.index[-60:-20]).sum()
    )
    assert data["quality"]["passes_ashrae14"] is True


def test_missing_rows_and_a_utc_index_are_accepted():
    series, _ = make_factory(days=35, seed=10)
    utc = series.drop(series.index[100:130]).tz_convert("UTC")
    data = baseline(utc)
    assert data["expected"].index.equals(utc.index)
    assert data["expected"].notna().all()


def test_fit_quality_by_hand():
    y = np.array([10.0, 20.0, 30.0, 40.0, np.nan])
    y_hat = np.array([12.0, 18.0, 30.0, 36.0, 99.0])
    quality = fit_quality(y, y_hat)
    # residuals -2, 2, 0, 4; mean 25; RMSE √6; bias 4/4
    assert quality["holdout_hours"] == 4
    assert quality["cv_rmse_pct"] == pytest.approx(np.sqrt(6) / 25 * 100, abs=1e-3)
    assert quality["nmbe_pct"] == pytest.approx(4.0, abs=1e-3)
    assert quality["passes_ashrae14"] is True
    worse = fit_quality(np.array([10.0, 10.0]), np.array([5.0, 14.0]))
    assert worse["cv_rmse_pct"] == pytest.approx(np.sqrt((25 + 16) / 2) / 10 * 100, abs=1e-3)
    assert worse["passes_ashrae14"] is False


def test_the_plugin_measures_the_held_out_week_against_the_weeks_before():
    # Four identical weeks, then a held-out week 10 % higher everywhere: the expectation is
    # the old profile p, so y − ŷ = 0.1 p, NMBE = 0.1 / 1.1 and CV(RMSE) = 0.1 √mean(p²) /
    # (1.1 mean(p)).
    index = local_hours("Europe/Rome", "2026-11-23 00:00", 35)
    slot = index.day_of_week * 24 + index.hour
    values = pd.Series(50.0 + slot % 37, index=index, dtype=float)
    values.iloc[-168:] *= 1.1
    quality = baseline(values)["quality"]
    assert quality["holdout_hours"] == 168
    assert quality["holdout_start"] == "2026-11-16T00:00:00+01:00"
    profile = values.iloc[-168:].to_numpy() / 1.1
    cv = 0.1 * np.sqrt(np.mean(profile**2)) / (1.1 * profile.mean()) * 100
    assert quality["cv_rmse_pct"] == pytest.approx(cv, abs=1e-3)
    assert quality["nmbe_pct"] == pytest.approx(100 / 11, abs=1e-3)
