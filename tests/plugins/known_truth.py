"""Synthetic sites with known truth for the waste, deviation and gaps tests.

The truth is computed hour by hour with ``zoneinfo`` and plain ``datetime`` (not with pandas'
timezone code nor with ``OperatingSchedule``), so the plugins' own time handling is checked
against an independent reckoning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from cei.plugins.base import AnalysisContext, OperatingSchedule


@dataclass
class Site:
    """An hourly kWh series and what was planted in it."""

    series: pd.Series
    schedule: OperatingSchedule
    timezone: str
    end: pd.Timestamp  # UTC, exclusive: "now" for a run on the whole series
    night_kwh: float  # planted waste on the nights of working days
    weekend_kwh: float  # planted waste on weekends and holidays
    night_hours: int  # hours with planted night waste
    weekend_hours: int  # hours with planted weekend waste
    hours: int
    category: dict[str, np.ndarray] = field(repr=False, default_factory=dict)

    @property
    def weeks(self) -> float:
        return self.hours / 168

    def context(self, now=None, **kwargs) -> AnalysisContext:
        """An analysis context for this site, ``now`` defaulting to the end of the data."""
        return AnalysisContext(
            site_id="site-1",
            timezone=self.timezone,
            now=self.end if now is None else pd.Timestamp(now),
            series=self.series,
            schedule=self.schedule,
            **kwargs,
        )


def make_site(
    timezone: str = "Europe/Rome",
    first_day: date = date(2026, 1, 5),
    days: int = 56,
    *,
    base: float = 50.0,
    shift: float = 200.0,
    night_waste: float = 0.0,
    weekend_waste: float = 0.0,
    weekend_hours: tuple[int, int] = (8, 16),
    hours: tuple[int, int] = (7, 19),
    workdays: tuple[int, ...] = (0, 1, 2, 3, 4),
    holidays: tuple[date, ...] = (),
    closed_on_holidays: bool = True,
    noise: float = 0.0,
    seed: int = 1,
    base_from: tuple[date, float] | None = None,
) -> Site:
    """Build ``days`` local days of hourly kWh from midnight of ``first_day``.

    Load = base (+ shift in working hours) (+ night_waste on working days outside hours)
    (+ weekend_waste in ``weekend_hours`` of non-working days and holidays), times
    (1 + noise·N(0, 1)). The rest of non-working days runs at base load: a site with waste in
    every out-of-hours hour would have no hour that shows its base load.
    ``base_from=(day, level)`` changes the base load from that local day on.
    """
    zone = ZoneInfo(timezone)
    start = datetime.combine(first_day, time(0), zone).astimezone(UTC)
    end = datetime.combine(first_day + timedelta(days=days), time(0), zone).astimezone(UTC)
    rng = np.random.default_rng(seed)
    stamps, values, night, weekend, off_days = [], [], [], [], []
    moment = start
    while moment < end:
        local = moment.astimezone(zone)
        working_day = local.weekday() in workdays and local.date() not in holidays
        if not closed_on_holidays and local.date() in holidays:
            working_day = True
        operating = working_day and hours[0] <= local.hour < hours[1]
        level = base
        if base_from is not None and local.date() >= base_from[0]:
            level = base_from[1]
        is_night = working_day and not operating
        is_weekend = not working_day and weekend_hours[0] <= local.hour < weekend_hours[1]
        load = level + shift * operating + night_waste * is_night + weekend_waste * is_weekend
        stamps.append(moment)
        values.append(load * (1.0 + noise * rng.standard_normal()))
        night.append(is_night)
        weekend.append(is_weekend)
        off_days.append(not working_day)
        moment += timedelta(hours=1)
    index = pd.DatetimeIndex(stamps).tz_convert(timezone)
    night_mask, weekend_mask = np.array(night), np.array(weekend)
    return Site(
        series=pd.Series(values, index=index, name="kwh"),
        schedule=OperatingSchedule(
            days=workdays, start=time(hours[0]), end=time(hours[1] % 24), holidays=holidays
        ),
        timezone=timezone,
        end=pd.Timestamp(end),
        night_kwh=night_waste * night_mask.sum(),
        weekend_kwh=weekend_waste * weekend_mask.sum(),
        night_hours=int(night_mask.sum()),
        weekend_hours=int(weekend_mask.sum()),
        hours=len(stamps),
        category={"night": night_mask, "weekend": weekend_mask, "off": np.array(off_days)},
    )
