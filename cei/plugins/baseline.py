"""Baseline: the kWh each hour was expected to use, from a time-of-week profile.

Every hour's expectation comes from the same site-local weekday-hour slot in the ``weeks``
weeks before the hour's own week (a trimmed mean: a quarter of the values dropped at each end
once there are three or more), so the hour itself, and the anomalies of its week, never shape
it. A slot with no earlier value falls back to the same hour of the same day type (weekday or
weekend) pooled over those weeks, then to the whole history. Fit quality is measured on the
last full week, whose expectations come only from the weeks before it: CV(RMSE) and NMBE
against the ASHRAE Guideline 14 hourly limits (30 %, ±10 %).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from cei.plugins.base import AnalysisContext, Plugin, PluginResult
from cei.plugins.profile import (
    DAY,
    HOUR,
    SLOTS,
    end_of_last_full_day,
    fill_matrix,
    robust_mean,
    site_hours,
    slot_weekday,
    week_grid,
)

ASHRAE14_CV_RMSE_PCT = 30.0  # Guideline 14, hourly data
ASHRAE14_NMBE_PCT = 10.0

METHOD = (
    "Time-of-week profile: for each hour, the trimmed mean (a quarter dropped at each end) of "
    "the same site-local weekday and hour over the {weeks} weeks before that hour's week (while "
    "fewer than three weeks exist, their plain mean); a slot with no earlier value uses the "
    "same hour of the same day type (weekday or weekend). Quality: CV(RMSE) and NMBE on the "
    "last full week, predicted from the weeks before it."
)


class BaselinePlugin(Plugin):
    """Baseline: expected kWh per hour from a time-of-week profile, with fit quality."""

    name = "baseline"
    version = "1.0"
    requires = ()
    default_params = {"weeks": 8, "min_history_days": 14, "ahead_hours": 192}

    def run(self, context: AnalysisContext) -> PluginResult:
        """Return the expected kWh for every hour of the history and of the hours ahead."""
        params = {**self.default_params, **context.params}
        weeks = int(params["weeks"])
        series = site_hours(context.series, context.timezone)
        if len(series):
            last = series.index[-1]
        else:
            last = context.now.tz_convert("UTC").floor("h").tz_convert(context.timezone) - HOUR
        ahead = pd.date_range(last + HOUR, periods=int(params["ahead_hours"]), freq="h")
        expected, ahead_expected = expected_hours(series, ahead, weeks)

        valid = series.dropna()
        history_days = 0.0 if valid.empty else (last + HOUR - valid.index[0]) / DAY
        ready = history_days >= float(params["min_history_days"])
        quality = holdout_quality(series, expected, last)
        return PluginResult(
            data={
                "state": "ready" if ready else "warming_up",
                "expected": expected.reindex(context.series.index.tz_convert(context.timezone))
                .set_axis(context.series.index)
                .rename("expected"),
                "expected_ahead": ahead_expected.rename("expected"),
                "quality": quality,
                "method": METHOD.format(weeks=weeks),
                "history_days": round(float(history_days), 2),
                "weeks": weeks,
            }
        )


def expected_hours(
    series: pd.Series, ahead: pd.DatetimeIndex, weeks: int
) -> tuple[pd.Series, pd.Series]:
    """Return the expected kWh for the hours of ``series`` and for the hours ``ahead``.

    ``series`` is a complete hourly series in the site's zone (see ``site_hours``).
    """
    if len(series) == 0:
        return series.astype(float), pd.Series(np.nan, index=ahead)
    anchor = end_of_last_full_day(series.index[-1])
    past = week_grid(series.index, anchor)
    future = week_grid(ahead, anchor)
    first_row = int(past.row.min())
    rows = int(max(past.row.max(), future.row.max() if len(ahead) else 0)) - first_row + 1
    values = series.to_numpy(dtype=float)
    matrix = fill_matrix(values, past.row - first_row, past.slot, rows)
    profile = rolling_profile(matrix, weeks, slot_weekday(anchor))

    def lookup(grid):
        return profile[grid.row - first_row, grid.slot]

    return (
        pd.Series(lookup(past), index=series.index),
        pd.Series(lookup(future), index=ahead),
    )


def rolling_profile(matrix: np.ndarray, weeks: int, weekday: np.ndarray) -> np.ndarray:
    """Return, for each week row, the expected value of each slot from the rows before it."""
    rows = matrix.shape[0]
    padded = np.vstack([np.full((weeks, SLOTS), np.nan), matrix])
    # windows[r] holds rows r-weeks .. r-1 of the matrix, slot by slot.
    windows = np.lib.stride_tricks.sliding_window_view(padded, weeks, axis=0)[:rows]
    # One or two earlier weeks are used as they are: pooling weekdays would blur what is
    # particular to a weekday (a slow Monday start, a short Friday) into false deviations.
    profile = robust_mean(windows)
    if not np.isnan(profile).any():
        return profile

    day_type = (weekday >= 5).astype(int)
    hour = np.arange(SLOTS) % 24
    history = matrix.T[None, :, :]  # the whole history, for rows with nothing before them
    for kind in (0, 1):
        for h in range(24):
            slots = np.flatnonzero((day_type == kind) & (hour == h))
            pooled = robust_mean(windows[:, slots, :].reshape(rows, -1))
            whole = robust_mean(history[:, slots, :].reshape(1, -1))[0]
            pooled = np.where(np.isnan(pooled), whole, pooled)
            block = profile[:, slots]
            profile[:, slots] = np.where(np.isnan(block), pooled[:, None], block)
    if np.isnan(profile).any():
        # A day type never seen yet (e.g. five weekdays of data): same hour on any day.
        for h in range(24):
            slots = np.flatnonzero(hour == h)
            whole = robust_mean(history[:, slots, :].reshape(1, -1))[0]
            block = profile[:, slots]
            profile[:, slots] = np.where(np.isnan(block), whole, block)
        overall = robust_mean(matrix.reshape(1, -1))[0]
        profile = np.where(np.isnan(profile), overall, profile)
    return profile


def fit_quality(actual: np.ndarray, expected: np.ndarray) -> dict:
    """Return CV(RMSE) and NMBE in % (ASHRAE Guideline 14, no fitted parameters counted).

    CV(RMSE) = √(Σ(y − ŷ)² / n) / ȳ × 100; NMBE = Σ(y − ŷ) / (n × ȳ) × 100, so a positive
    NMBE means the baseline under-predicts. Hours where either value is missing are skipped.
    """
    both = np.isfinite(actual) & np.isfinite(expected)
    y, y_hat = actual[both], expected[both]
    n = int(both.sum())
    mean = float(y.mean()) if n else 0.0
    if n == 0 or mean <= 0:
        return {"cv_rmse_pct": None, "nmbe_pct": None, "holdout_hours": n, "passes_ashrae14": None}
    cv = math.sqrt(float(np.mean((y - y_hat) ** 2))) / mean * 100.0
    nmbe = float(np.sum(y - y_hat)) / (n * mean) * 100.0
    return {
        "cv_rmse_pct": round(cv, 3),
        "nmbe_pct": round(nmbe, 3),
        "holdout_hours": n,
        "passes_ashrae14": bool(cv <= ASHRAE14_CV_RMSE_PCT and abs(nmbe) <= ASHRAE14_NMBE_PCT),
    }


def holdout_quality(series: pd.Series, expected: pd.Series, last: pd.Timestamp) -> dict:
    """Return the fit quality on the last full local week, predicted from the weeks before."""
    end = end_of_last_full_day(last)
    start = end - pd.Timedelta(days=7)
    local = series.index.tz_localize(None)
    held = (local >= start) & (local < end)
    before = series[local < start].dropna()
    enough = bool(held.any()) and not before.empty
    enough = enough and (series.index[held][0] - before.index[0]) / DAY >= 7
    if enough:
        quality = fit_quality(series[held].to_numpy(float), expected[held].to_numpy(float))
        quality["holdout_start"] = series.index[held][0].isoformat()
        quality["holdout_end"] = (series.index[held][-1] + HOUR).isoformat()
    else:
        quality = fit_quality(np.array([]), np.array([]))
        quality["holdout_start"] = quality["holdout_end"] = None
    quality["limits"] = {"cv_rmse_pct": ASHRAE14_CV_RMSE_PCT, "nmbe_pct": ASHRAE14_NMBE_PCT}
    return quality
