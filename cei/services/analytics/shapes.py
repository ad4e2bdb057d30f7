"""Turn plugin results (pandas, numpy) into the JSON the analytics store and serve.

The built-in ``baseline`` and ``forecast`` plugins are read by the names below; anything else
a plugin returns is kept, made JSON-able, in the run's per-plugin outcome.
"""

from __future__ import annotations

import math
from datetime import date, datetime

import numpy as np
import pandas as pd

from cei.services.analytics.factors import priced

# Keys under which the baseline and forecast plugins return their series.
BASELINE_SERIES_KEYS = ("expected", "baseline")
FORECAST_FRAME_KEYS = ("forecast", "next_7d", "hourly", "next_24h")
FORECAST_COLUMNS = ("expected", "lower", "upper")
# A plugin's own data kept in the run row: scalars and small structures only.
MAX_SUMMARY_ITEMS = 50


def epoch_seconds(index):
    """Return the UTC epoch seconds of a tz-aware ``DatetimeIndex`` as int64."""
    return np.asarray(pd.DatetimeIndex(index).tz_convert("UTC").as_unit("s").asi8, dtype="int64")


def number(value, digits=3):
    """Return ``value`` as a rounded float, or None for NaN/None/infinite."""
    if value is None:
        return None
    value = float(value)
    if not math.isfinite(value):
        return None
    return round(value, digits)


def jsonable(value, depth=0):
    """Return ``value`` as plain JSON types (pandas and numpy included); big things dropped."""
    if depth > 6:
        return None
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return number(value, 6)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, pd.Timestamp | datetime):
        if pd.isna(value):
            return None
        stamp = pd.Timestamp(value)
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert("UTC")
            return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
        return stamp.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, pd.Timedelta):
        return value.total_seconds()
    if isinstance(value, dict):
        items = list(value.items())[:MAX_SUMMARY_ITEMS]
        return {str(key): jsonable(item, depth + 1) for key, item in items}
    if isinstance(value, list | tuple | set):
        items = list(value)[:MAX_SUMMARY_ITEMS]
        return [jsonable(item, depth + 1) for item in items]
    if isinstance(value, pd.Series | pd.DataFrame | np.ndarray):
        return None  # series are served through the baseline/forecast endpoints
    if hasattr(value, "__dict__"):
        return jsonable(vars(value), depth + 1)
    return str(value)


def plugin_summary(data):
    """Return a plugin's ``data`` without its series, as JSON (for the run's outcomes)."""
    if not isinstance(data, dict):
        return None
    kept = {
        key: value
        for key, value in data.items()
        if not isinstance(value, pd.Series | pd.DataFrame | np.ndarray)
    }
    return jsonable(kept)


def baseline_series(data):
    """Return the baseline's expected kWh per hour (a Series), or None."""
    if not isinstance(data, dict):
        return None
    for key in BASELINE_SERIES_KEYS:
        value = data.get(key)
        if isinstance(value, pd.Series):
            return value
        if isinstance(value, pd.DataFrame) and "expected" in value:
            return value["expected"]
    return None


def baseline_quality(data):
    """Return the baseline's state and fit quality as JSON (empty without a baseline)."""
    if not isinstance(data, dict):
        return {}
    quality = data.get("quality")
    quality = jsonable(quality) if isinstance(quality, dict) else {}
    state = data.get("state") or quality.get("state")
    for key in ("state", "method", "history_days", "weeks"):
        if key in data and key not in quality and not isinstance(data[key], pd.Series):
            quality[key] = jsonable(data[key])
    if state is not None:
        quality["state"] = str(state)
    return quality


def forecast_frame(data):
    """Return the forecast as a DataFrame with expected/lower/upper per future hour, or None."""
    if not isinstance(data, dict):
        return None
    for key in FORECAST_FRAME_KEYS:
        value = data.get(key)
        if isinstance(value, pd.DataFrame) and "expected" in value:
            frame = value.copy()
            for column in FORECAST_COLUMNS:
                if column not in frame:
                    frame[column] = np.nan
            return frame[list(FORECAST_COLUMNS)]
    if isinstance(data.get("expected"), pd.Series):
        return pd.DataFrame({column: data.get(column) for column in FORECAST_COLUMNS})
    return None


def forecast_json(data, factors):
    """Return ``{"method", "points": [[ts, expected, lower, upper], ...], "details"}`` or ``{}``.

    ``details`` keeps the plugin's other figures; each ``*_kwh`` total gets its cost and CO2e.
    """
    frame = forecast_frame(data)
    if frame is None or frame.empty:
        return {}
    stamps = epoch_seconds(frame.index)
    points = [
        [int(ts), number(expected), number(lower), number(upper)]
        for ts, expected, lower, upper in zip(
            stamps, frame["expected"], frame["lower"], frame["upper"], strict=True
        )
    ]
    extra = {
        key: jsonable(value)
        for key, value in data.items()
        if key not in (*FORECAST_FRAME_KEYS, "method")
        and not isinstance(value, pd.Series | pd.DataFrame)
    }
    for key, value in list(extra.items()):
        if key.endswith("_kwh") and (value is None or isinstance(value, float | int)):
            extra.update(priced(key[: -len("_kwh")], value, factors))
    return {"method": str(data.get("method") or "unnamed"), "points": points, "details": extra}
