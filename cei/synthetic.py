"""Synthetic factories with known truth, for tests, the accuracy bench and demo data.

``make_factory(...)`` returns the hourly kWh series a site's main meters would report (a
tz-aware index in the site's zone, one entry per local hour, 23 or 25 on DST days, NaN in the
gaps) and a :class:`Truth` that says what was planted: the spikes and their hours, the level
shift and its period, the night load that is pure waste, the base load. The same seed gives
the same factory; each ingredient draws from its own random stream, so adding spikes to a
factory leaves its noise unchanged (a "clean" and a "spiky" factory differ only in the spikes).

The load, in kW (= kWh per hour), is::

    (base + shift profile + night waste + weekend load) × weather swing × level shift × noise
    + spikes

- two shifts on weekdays, 06:00–14:00 and 14:00–22:00 site-local time (the second at 85 %),
  with a start-up hour, a lunch dip, a slow Monday start and a shorter Friday evening;
- weekends at base load (plus ``weekend_kw`` in the daytime if asked);
- a night load on the nights after working days (22:00–06:00) that is pure waste;
- multiplicative Gaussian noise (``noise`` is its standard deviation, 0.05 = 5 %);
- a weather-like swing: a daily AR(1) process (persistence ``swing_persistence`` per day),
  interpolated to the hour, scaled so its standard deviation is ``swing``.

Imports only the standard library, numpy, pandas and the plugin interface (itself pure).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from cei.plugins.base import OperatingSchedule

#: Share of ``shift_kw`` drawn in each local hour of an ordinary weekday.
WEEKDAY_SHAPE = {
    6: 0.6, 7: 1.0, 8: 1.0, 9: 1.0, 10: 1.0, 11: 1.0, 12: 0.85, 13: 1.0,
    14: 0.85, 15: 0.85, 16: 0.85, 17: 0.85, 18: 0.85, 19: 0.85, 20: 0.85, 21: 0.6,
}  # fmt: skip
MONDAY_START = 0.35  # 06:00 on Mondays: machines start cold
FRIDAY_EVENING = 0.6  # 18:00–22:00 on Fridays: the second shift winds down early
WEEKEND_DAY_HOURS = range(8, 16)  # when the optional weekend load runs
SHIFT_START, SHIFT_END = 6, 22  # the working window of the two shifts
WORKDAYS = (0, 1, 2, 3, 4)


@dataclass(frozen=True)
class Truth:
    """What was planted in a synthetic factory (all timestamps tz-aware, site-local)."""

    timezone: str
    start: pd.Timestamp  # first hour
    end: pd.Timestamp  # exclusive: the series ends with the hour before
    seed: int
    schedule: OperatingSchedule  # the two shifts, Monday to Friday, 06:00–22:00
    base_load_kw: float
    peak_kw: float  # base + full first shift
    noise: float
    swing: float
    night_waste_kw: float
    night_waste_hours_per_week: float  # average over the series
    waste_kwh_per_week: float  # planted night waste (+ weekend load), noise-free
    spike_times: tuple[pd.Timestamp, ...]
    spike_kwh: tuple[float, ...]  # kWh each spike added
    shift_start: pd.Timestamp | None
    shift_end: pd.Timestamp | None  # exclusive
    shift_pct: float
    gap_times: pd.DatetimeIndex  # hours set to NaN
    normal: pd.Series = field(repr=False)  # noise-free load without spikes and level shift

    def as_dict(self) -> dict[str, Any]:
        """Return the truth as plain values (timestamps as ISO strings)."""
        iso = pd.Timestamp.isoformat
        return {
            "timezone": self.timezone,
            "start": iso(self.start),
            "end": iso(self.end),
            "seed": self.seed,
            "base_load_kw": self.base_load_kw,
            "peak_kw": self.peak_kw,
            "noise": self.noise,
            "swing": self.swing,
            "night_waste_kw": self.night_waste_kw,
            "night_waste_hours_per_week": self.night_waste_hours_per_week,
            "waste_kwh_per_week": self.waste_kwh_per_week,
            "spike_times": [iso(t) for t in self.spike_times],
            "spike_kwh": list(self.spike_kwh),
            "shift_start": iso(self.shift_start) if self.shift_start is not None else None,
            "shift_end": iso(self.shift_end) if self.shift_end is not None else None,
            "shift_pct": self.shift_pct,
            "gap_hours": len(self.gap_times),
        }


class SyntheticSite(NamedTuple):
    """A synthetic factory: the series a site would report, and what was planted in it."""

    series: pd.Series
    truth: Truth


def local_hours(timezone: str, end: Any, days: int) -> pd.DatetimeIndex:
    """Return the site-local hours of the ``days`` calendar days that end at ``end``.

    ``end`` (naive = site-local wall time, or tz-aware) is floored to the hour; the index
    holds every hour that starts before it, one entry per real hour (DST days included).
    """
    stop = pd.Timestamp(end)
    stop = stop.tz_localize(timezone) if stop.tzinfo is None else stop.tz_convert(timezone)
    stop = stop.floor("h")
    first = (stop.tz_localize(None) - pd.Timedelta(days=days)).tz_localize(
        timezone, nonexistent="shift_forward", ambiguous=False
    )
    return pd.date_range(first, stop, freq="h", inclusive="left", name="start")


def _weekday_load(local: pd.DatetimeIndex, shift_kw: float) -> np.ndarray:
    hour = np.asarray(local.hour)
    weekday = np.asarray(local.day_of_week)
    share = np.array([WEEKDAY_SHAPE.get(h, 0.0) for h in range(24)])[hour]
    share = np.where((weekday == 0) & (hour == SHIFT_START), MONDAY_START, share)
    share = np.where((weekday == 4) & (hour >= 18) & (hour < SHIFT_END), FRIDAY_EVENING, share)
    share = np.where(np.isin(weekday, WORKDAYS), share, 0.0)
    return share * shift_kw


def _night_after_workday(local: pd.DatetimeIndex) -> np.ndarray:
    hour = np.asarray(local.hour)
    weekday = np.asarray(local.day_of_week)
    evening = (hour >= SHIFT_END) & np.isin(weekday, WORKDAYS)
    morning = (hour < SHIFT_START) & np.isin((weekday - 1) % 7, WORKDAYS)
    return evening | morning


def _swing(rng: np.random.Generator, index: pd.DatetimeIndex, size: float, phi: float):
    if size <= 0 or len(index) == 0:
        return np.ones(len(index))
    days = index.tz_localize(None).normalize()
    first = days[0]
    n_days = (days[-1] - first).days + 2
    daily = np.empty(n_days)
    daily[0] = rng.standard_normal()
    for d in range(1, n_days):
        daily[d] = phi * daily[d - 1] + np.sqrt(1 - phi**2) * rng.standard_normal()
    # Daily values sit at local noon; hours in between are interpolated linearly.
    position = (index.tz_localize(None) - first) / pd.Timedelta(days=1) - 0.5
    hourly = np.interp(np.asarray(position, dtype=float), np.arange(n_days), daily)
    return np.clip(1.0 + size * hourly, 0.2, None)


def _local(value: Any, timezone: str) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    return stamp.tz_localize(timezone) if stamp.tzinfo is None else stamp.tz_convert(timezone)


def make_factory(
    *,
    timezone: str = "Europe/Rome",
    days: int = 70,
    end: Any = "2026-11-23 00:00",
    base_kw: float = 40.0,
    shift_kw: float = 160.0,
    weekend_kw: float = 0.0,
    night_waste_kw: float = 0.0,
    noise: float = 0.05,
    swing: float = 0.0,
    swing_persistence: float = 0.97,
    spikes: int = 0,
    spike_window_days: int = 14,
    level_shift_start: Any = None,
    level_shift_pct: float = 20.0,
    level_shift_hours: int = 72,
    gaps: int = 0,
    gap_max_hours: int = 6,
    seed: int = 0,
) -> SyntheticSite:
    """Generate a factory's hourly kWh and the truth of what was planted in it.

    Spikes are placed at random hours of the last ``spike_window_days`` days, at least 12 h
    apart, outside gaps and outside the level shift, and not in the last three hours (a spike
    is told from the start of a level shift by the hours after it); each adds 50–100 % of the
    peak load.
    ``level_shift_start`` (naive = site-local) starts a +``level_shift_pct`` % shift lasting
    ``level_shift_hours`` hours. ``gaps`` runs of 1–``gap_max_hours`` NaN hours are placed
    anywhere but the first week and the spike hours.
    """
    index = local_hours(timezone, end, days)
    streams = np.random.SeedSequence(seed).spawn(4)
    noise_rng, swing_rng, spike_rng, gap_rng = (np.random.default_rng(s) for s in streams)
    n = len(index)

    weekday = np.asarray(index.day_of_week)
    hour = np.asarray(index.hour)
    night = _night_after_workday(index)
    weekend_day = ~np.isin(weekday, WORKDAYS) & np.isin(hour, WEEKEND_DAY_HOURS)
    planned = (
        base_kw + _weekday_load(index, shift_kw) + night_waste_kw * night + weekend_kw * weekend_day
    )
    normal = planned * _swing(swing_rng, index, swing, swing_persistence)

    shift_factor = np.ones(n)
    shift_start = shift_end = None
    in_shift = np.zeros(n, dtype=bool)
    if level_shift_start is not None:
        shift_start = _local(level_shift_start, timezone).floor("h")
        shift_end = shift_start + pd.Timedelta(hours=level_shift_hours)
        in_shift = np.asarray((index >= shift_start) & (index < shift_end))
        shift_factor[in_shift] = 1.0 + level_shift_pct / 100.0

    factor = np.clip(1.0 + noise * noise_rng.standard_normal(n), 0.05, None)
    values = normal * shift_factor * factor

    gap = np.zeros(n, dtype=bool)
    first_week = min(n, 7 * 24)
    for _ in range(gaps):
        length = int(gap_rng.integers(1, gap_max_hours + 1))
        if n - first_week - length <= 0:
            break
        at = int(gap_rng.integers(first_week, n - length))
        gap[at : at + length] = True

    spike_at: list[int] = []
    window = np.flatnonzero(index >= index[-1] - pd.Timedelta(days=spike_window_days)) if n else []
    candidates = [i for i in window if not gap[i] and not in_shift[i]]
    peak = base_kw + shift_kw
    spike_kwh: list[float] = []
    for i in spike_rng.permutation(candidates):
        if len(spike_at) >= spikes:
            break
        if all(abs(int(i) - j) >= 12 for j in spike_at) and 0 < i < n - 3:
            spike_at.append(int(i))
    spike_at.sort()
    for i in spike_at:
        extra = float(spike_rng.uniform(0.5, 1.0) * peak)
        values[i] += extra
        spike_kwh.append(extra)
    gap[spike_at] = False
    values[gap] = np.nan

    series = pd.Series(values, index=index, name="kwh")
    weeks = n / 168 if n else 1.0
    waste_hours = night.sum() / weeks
    waste_kwh = (night_waste_kw * night.sum() + weekend_kw * weekend_day.sum()) / weeks
    truth = Truth(
        timezone=timezone,
        start=index[0] if n else _local(end, timezone),
        end=index[-1] + pd.Timedelta(hours=1) if n else _local(end, timezone),
        seed=seed,
        schedule=OperatingSchedule(days=WORKDAYS, start=time(SHIFT_START), end=time(SHIFT_END)),
        base_load_kw=base_kw,
        peak_kw=peak,
        noise=noise,
        swing=swing,
        night_waste_kw=night_waste_kw,
        night_waste_hours_per_week=float(waste_hours),
        waste_kwh_per_week=float(waste_kwh),
        spike_times=tuple(index[i] for i in spike_at),
        spike_kwh=tuple(spike_kwh),
        shift_start=shift_start,
        shift_end=shift_end,
        shift_pct=level_shift_pct if shift_start is not None else 0.0,
        gap_times=index[gap],
        normal=pd.Series(normal, index=index, name="kwh"),
    )
    return SyntheticSite(series, truth)
