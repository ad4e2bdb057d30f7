"""Time windows the plugins share: whole hours ending at ``now``, site-local days and weeks.

Windows are measured in absolute time (a "last 24 h" window is 24 hours on a 23- or 25-hour
DST day too); days and weeks are site-local calendar days (midnight to midnight).
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

HOUR = pd.Timedelta(hours=1)


def hour_floor(now: pd.Timestamp) -> pd.Timestamp:
    """Return the start of the hour containing ``now``, in UTC: the end of the last whole hour."""
    stamp = pd.Timestamp(now)
    if stamp.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return stamp.tz_convert("UTC").floor("h")


def hourly(series: pd.Series, start: pd.Timestamp, end: pd.Timestamp, timezone: str) -> pd.Series:
    """Return ``series`` on every hour of ``[start, end)`` in ``timezone``; NaN where missing.

    The input may be in any zone and may lack hours; the output has one entry per hour.
    """
    start, end = pd.Timestamp(start).tz_convert("UTC"), pd.Timestamp(end).tz_convert("UTC")
    hours = pd.date_range(start, end, freq="h", inclusive="left")
    stamps = pd.DatetimeIndex(series.index).tz_convert("UTC")
    inside = (stamps >= start) & (stamps < end)
    values = pd.Series(series.to_numpy(dtype=float)[inside], index=stamps[inside])
    values = values[~values.index.duplicated(keep="last")]
    return values.reindex(hours).tz_convert(timezone)


def local_midnight(day: date, timezone: str) -> pd.Timestamp:
    """Return the first instant of a site-local calendar day (midnight, or the first hour after
    a DST gap at midnight)."""
    return pd.Timestamp(day).tz_localize(timezone, nonexistent="shift_forward", ambiguous=True)


def week_start(stamp: pd.Timestamp, timezone: str) -> pd.Timestamp:
    """Return the start of the site-local Monday-to-Monday week containing ``stamp``."""
    local = pd.Timestamp(stamp).tz_convert(timezone)
    monday = local.date() - timedelta(days=local.day_of_week)
    return local_midnight(monday, timezone)


def next_local_day(day_start: pd.Timestamp, days: int, timezone: str) -> pd.Timestamp:
    """Return the start of the local day ``days`` calendar days after ``day_start``'s day."""
    local = pd.Timestamp(day_start).tz_convert(timezone)
    return local_midnight(local.date() + timedelta(days=days), timezone)


def non_working_days(index: pd.DatetimeIndex, days, holidays) -> np.ndarray:
    """Return True where the local calendar day of each hour is not a working day
    (its weekday is not in ``days``, or it is a holiday)."""
    off = ~np.isin(index.day_of_week, np.asarray(days))
    if holidays:
        dates = np.asarray(index.date, dtype=object)
        off |= np.isin(dates, np.asarray(holidays, dtype=object))
    return off


def first_valid(series: pd.Series) -> pd.Timestamp | None:
    """Return the time of the first non-NaN value, or None."""
    valid = series.first_valid_index()
    return None if valid is None else pd.Timestamp(valid)
