"""Time-of-week arithmetic shared by the baseline, forecast and spikes plugins.

Hours are placed on a grid of weeks × 168 slots (site-local weekday and hour), with the week
rows ending at the end of the last full local day, so that the last full week is one row and
can be held out. Site-local wall time decides the slot: on a 25-hour day both 02:00 hours share
a slot (their mean is kept), on a 23-hour day one slot is simply empty.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

HOUR = pd.Timedelta(hours=1)
DAY = pd.Timedelta(days=1)
SLOTS = 168


def site_hours(series: pd.Series, timezone: str) -> pd.Series:
    """Return ``series`` as float kWh on a complete hourly index in ``timezone``.

    Missing hours become NaN; the index is sorted and tz-aware in the site's zone.
    """
    if not isinstance(series.index, pd.DatetimeIndex) or series.index.tz is None:
        raise ValueError("the series needs a tz-aware DatetimeIndex")
    values = pd.to_numeric(series, errors="coerce").astype(float)
    values.index = values.index.tz_convert(timezone)
    values = values[~values.index.duplicated(keep="last")].sort_index()
    if len(values) == 0:
        return values
    full = pd.date_range(values.index[0], values.index[-1], freq="h", name=values.index.name)
    return values.reindex(full)


class WeekGrid(NamedTuple):
    """Where each hour sits: its week row and its time-of-week slot."""

    anchor: pd.Timestamp  # naive local midnight that ends the last full day
    row: np.ndarray  # week rows counted from the anchor (-1 = the last full week)
    slot: np.ndarray  # day since the anchor's weekday × 24 + local hour


def week_grid(index: pd.DatetimeIndex, anchor: pd.Timestamp) -> WeekGrid:
    """Place each hour of ``index`` (tz-aware, site-local) on the grid anchored at ``anchor``."""
    local = index.tz_localize(None)
    days = np.asarray((local.normalize() - anchor) // DAY, dtype=np.int64)
    row = np.floor_divide(days, 7)
    slot = np.mod(days, 7) * 24 + np.asarray(local.hour, dtype=np.int64)
    return WeekGrid(anchor, row, slot)


def end_of_last_full_day(last_hour: pd.Timestamp) -> pd.Timestamp:
    """Return the naive local midnight that ends the last full day up to ``last_hour``."""
    return (last_hour + HOUR).tz_localize(None).floor("D")


def slot_weekday(anchor: pd.Timestamp) -> np.ndarray:
    """Return the weekday (Monday = 0) of each of the 168 slots."""
    return (anchor.day_of_week + np.arange(SLOTS) // 24) % 7


def fill_matrix(values: np.ndarray, row: np.ndarray, slot: np.ndarray, rows: int) -> np.ndarray:
    """Return a rows × 168 matrix of the mean value per (row, slot), NaN where none."""
    total = np.zeros(rows * SLOTS)
    count = np.zeros(rows * SLOTS)
    valid = ~np.isnan(values)
    flat = row[valid] * SLOTS + slot[valid]
    np.add.at(total, flat, values[valid])
    np.add.at(count, flat, 1.0)
    mean = np.full(rows * SLOTS, np.nan)
    np.divide(total, count, out=mean, where=count > 0)
    return mean.reshape(rows, SLOTS)


def robust_mean(values: np.ndarray, min_count: int = 1) -> np.ndarray:
    """Return the interquartile-style trimmed mean over the last axis, ignoring NaN.

    A quarter of the values (at least one when there are three or more) is dropped at each
    end, so one spike or one anomalous week among eight does not move the result. NaN where
    fewer than ``min_count`` values are present.
    """
    ordered = np.sort(values, axis=-1)  # NaN sort last
    n = np.sum(~np.isnan(values), axis=-1)
    trim = np.where(n >= 3, np.maximum(1, n // 4), 0)
    position = np.arange(values.shape[-1])
    keep = (position >= trim[..., None]) & (position < (n - trim)[..., None])
    total = np.where(keep, np.nan_to_num(ordered), 0.0).sum(axis=-1)
    kept = keep.sum(axis=-1)
    out = np.full(n.shape, np.nan)
    np.divide(total, kept, out=out, where=(kept > 0) & (n >= max(min_count, 1)))
    return out


def mad_spread(values: np.ndarray) -> float:
    """Return 1.4826 × the median absolute deviation of the finite values (NaN if none)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return float("nan")
    return float(1.4826 * np.median(np.abs(finite - np.median(finite))))


def relative_residuals(actual: np.ndarray, expected: np.ndarray) -> tuple[np.ndarray, float]:
    """Return (actual − expected) / max(expected, floor) and the floor used.

    The floor keeps hours expected near zero from turning small differences into huge ratios:
    the site's base level (the 10th percentile of the expectations), at least 5 % of their
    median. With a noisy meter an expectation can come out well under the base load; measured
    against the base load instead, an ordinary hour after it does not look like a spike.
    """
    positive = expected[np.isfinite(expected) & (expected > 0)]
    if positive.size:
        floor = max(0.05 * float(np.median(positive)), float(np.percentile(positive, 10)))
    else:
        floor = 1.0
    floor = max(floor, 1e-9)
    scale = np.maximum(np.nan_to_num(expected, nan=floor), floor)
    return (actual - expected) / scale, floor
