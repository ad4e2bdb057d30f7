"""The time-of-week arithmetic under the baseline, forecast and spikes plugins."""

import numpy as np
import pandas as pd
import pytest

from cei.plugins.profile import (
    end_of_last_full_day,
    fill_matrix,
    relative_residuals,
    robust_mean,
    site_hours,
    week_grid,
)

nan = np.nan


def test_robust_mean_drops_a_quarter_at_each_end_by_hand():
    rows = np.array(
        [
            [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 1000.0],  # 8 values: mean of 3..6
            [10.0, 20.0, 30.0, nan, nan, nan, nan, nan],  # 3 values: the middle one
            [10.0, 20.0, nan, nan, nan, nan, nan, nan],  # 2 values: their mean
            [nan] * 8,
        ]
    )
    np.testing.assert_allclose(robust_mean(rows), [4.5, 20.0, 15.0, nan])
    np.testing.assert_allclose(robust_mean(rows, min_count=3), [4.5, 20.0, nan, nan])


def test_week_rows_end_with_the_last_full_day_and_slots_follow_local_time():
    index = pd.date_range("2026-10-24 00:00", "2026-10-28 13:00", freq="h", tz="Europe/Rome")
    anchor = end_of_last_full_day(index[-1])
    assert anchor == pd.Timestamp("2026-10-28 00:00")
    grid = week_grid(index, anchor)
    assert set(grid.row) == {-1, 0}
    # Both 02:00 hours of Sunday 25 October share a slot; 03:00 is the next one.
    sunday = (index.day == 25) & (index.hour == 2)
    assert len(set(grid.slot[sunday])) == 1 and sunday.sum() == 2
    matrix = fill_matrix(np.arange(len(index), dtype=float), grid.row + 1, grid.slot, 2)
    first, second = np.flatnonzero(sunday)
    assert matrix[0, grid.slot[first]] == (first + second) / 2


def test_relative_residuals_measure_against_the_base_level_not_a_low_estimate():
    expected = np.array([16.0] + [40.0] * 17 + [200.0] * 12)
    actual = expected.copy()
    actual[0] = 51.0
    residual, floor = relative_residuals(actual, expected)
    assert floor == pytest.approx(40.0)
    assert residual[0] == pytest.approx((51 - 16) / 40)
    assert residual[-1] == 0.0


def test_site_hours_fills_missing_hours_and_converts_the_zone():
    index = pd.date_range("2026-11-01 00:00", periods=5, freq="h", tz="UTC")
    series = pd.Series([1, 2, 3, 4, 5], index=index).drop(index[2])
    hours = site_hours(series, "Australia/Sydney")
    assert str(hours.index.tz) == "Australia/Sydney" and len(hours) == 5
    assert np.isnan(hours.iloc[2]) and hours.iloc[0] == 1.0
