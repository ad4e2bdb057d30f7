"""Build the input of one site's analysis: hourly series, meters, schedule, tariff, carbon."""

from __future__ import annotations

import time as clock
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from cei.plugins.base import AnalysisContext, OperatingSchedule
from cei.services.analytics import inputs
from cei.services.analytics.factors import site_factors

HOUR = 3600
# Nine weeks: the baseline's eight trailing weeks plus the week it is checked against.
DEFAULT_HISTORY_DAYS = 63


def local_hour_end(now_ts, zone):
    """Return the UTC epoch at which the site-local hour holding ``now_ts`` started.

    The hours before it have all ended; it is the exclusive end of the analysed series.
    """
    offset = int(datetime.fromtimestamp(now_ts, UTC).astimezone(zone).utcoffset().total_seconds())
    return now_ts - (now_ts + offset) % HOUR


def hourly_series(site, zone, end_ts, hours):
    """Return the site's hourly kWh ending before ``end_ts``, NaN where data is missing."""
    start_ts = end_ts - hours * HOUR
    rows = inputs.site_hourly_series(site, start_ts, end_ts)
    starts = np.arange(start_ts, end_ts, HOUR, dtype="int64")
    values = np.full(len(starts), np.nan)
    if rows:
        found = {int(ts): kwh for ts, kwh in rows if kwh is not None}
        if found:
            positions = (np.fromiter(found.keys(), dtype="int64") - start_ts) // HOUR
            keep = (positions >= 0) & (positions < len(starts))
            values[positions[keep]] = np.fromiter(found.values(), dtype=float)[keep]
    index = pd.DatetimeIndex(pd.to_datetime(starts, unit="s", utc=True)).tz_convert(zone)
    return pd.Series(values, index=index, name="kwh")


def operating_schedule(schedule):
    """Turn the site's schedule JSON into an :class:`OperatingSchedule`."""
    schedule = schedule or {}

    def parse(text, default):
        if not text:
            return default
        hours, minutes = (int(part) for part in str(text).split(":"))
        # "24:00" ends the day: an end at midnight (at or before the start) means just that.
        return time(hours % 24, minutes)

    holidays = tuple(
        date.fromisoformat(day) for day in schedule.get("holidays", ()) if isinstance(day, str)
    )
    return OperatingSchedule(
        days=tuple(int(day) for day in schedule.get("days", (0, 1, 2, 3, 4))),
        start=parse(schedule.get("start"), time(7, 0)),
        end=parse(schedule.get("end"), time(19, 0)),
        holidays=holidays,
    )


def build_context(site, organization, now, history_days=DEFAULT_HISTORY_DAYS):
    """Return ``(context, factors, read_ms)`` for analysing ``site`` at ``now`` (aware)."""
    zone = ZoneInfo(site.timezone)
    now_ts = int(now.timestamp())
    started = clock.perf_counter()
    end_ts = local_hour_end(now_ts, zone)
    series = hourly_series(site, zone, end_ts, history_days * 24)
    meters = inputs.meter_statuses(site, now_ts)
    read_ms = (clock.perf_counter() - started) * 1000
    factors = site_factors(site, organization)
    context = AnalysisContext(
        site_id=site.site_id,
        timezone=site.timezone,
        now=pd.Timestamp(now_ts, unit="s", tz="UTC"),
        series=series,
        schedule=operating_schedule(site.schedule),
        tariff=factors.tariff,
        currency=factors.currency,
        emission_factor=factors.emission_factor,
        meters=meters,
    )
    return context, factors, read_ms


def organization_overrides(organization):
    """Return the per-plugin parameters an organization sets (deviation thresholds)."""
    return {
        "deviation": {
            "warning_pct": float(organization.deviation_warning_pct),
            "critical_pct": float(organization.deviation_critical_pct),
        }
    }
