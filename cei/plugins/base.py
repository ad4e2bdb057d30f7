"""What every analytics plugin receives and returns.

A plugin is a small class with ``name``, ``version``, optional ``requires`` (names of the
plugins whose results it needs) and ``run(context) -> PluginResult``. It works on pandas data
only: this module, and every plugin, imports nothing but the standard library, pandas, numpy
and ruptures (no Flask, no SQLAlchemy, no CEI models).

Energy figures are kWh. Money (``tariff`` × kWh) and carbon (``emission_factor`` × kWh) are
added to findings and opportunities by the service that persists them; a plugin may also
report them in its ``data``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time
from typing import Any

import numpy as np
import pandas as pd

SEVERITIES = ("info", "warning", "critical")


@dataclass(frozen=True)
class OperatingSchedule:
    """When a site works, in site-local time: weekdays (Monday = 0), hours, holidays.

    ``end`` at or before ``start`` means the working window crosses midnight (e.g. 22:00–06:00
    belongs to the day it starts on).
    """

    days: tuple[int, ...] = (0, 1, 2, 3, 4)
    start: time = time(7, 0)
    end: time = time(19, 0)
    holidays: tuple[date, ...] = ()

    def is_operating(self, index: pd.DatetimeIndex) -> np.ndarray:
        """Return a boolean array: True where the hour starting at each index entry is worked.

        ``index`` is tz-aware in the site's timezone (local wall-clock time is what counts).
        """
        minutes = index.hour * 60 + index.minute
        start = self.start.hour * 60 + self.start.minute
        end = self.end.hour * 60 + self.end.minute
        weekday = index.day_of_week
        days = np.asarray(self.days)
        if start < end:
            working = np.isin(weekday, days) & (minutes >= start) & (minutes < end)
            day_of_shift = index.normalize()
        else:
            # Overnight shift: the early-morning part belongs to the previous day's shift.
            late = minutes >= start
            early = minutes < end
            previous = (weekday - 1) % 7
            working = (late & np.isin(weekday, days)) | (early & np.isin(previous, days))
            day_of_shift = index.normalize() - pd.to_timedelta(early.astype(int), unit="D")
        if self.holidays:
            holiday = np.isin(
                np.asarray(day_of_shift.date, dtype=object), np.asarray(self.holidays, dtype=object)
            )
            working = working & ~holiday
        return np.asarray(working, dtype=bool)


@dataclass(frozen=True)
class MeterStatus:
    """What the site knows about one of its meters, for the ``gaps`` plugin."""

    meter_id: str
    interval_minutes: int
    is_main: bool
    last_seen: pd.Timestamp | None  # UTC start of the newest reading, or None
    expected_24h: int  # intervals of the last 24 h that have ended
    received_24h: int  # of those, how many have a reading


@dataclass
class AnalysisContext:
    """The input of one analysis of one site.

    ``series``: hourly kWh of the site's main meters (the site total), indexed by the start
    of each site-local hour as a tz-aware ``DatetimeIndex`` in ``timezone``, one entry per
    hour (23 on a spring-forward day, 25 on a fall-back day), NaN where data is missing. It
    ends with the last hour that has ended at ``now``.
    """

    site_id: str
    timezone: str
    now: pd.Timestamp  # tz-aware (any zone)
    series: pd.Series
    schedule: OperatingSchedule = field(default_factory=OperatingSchedule)
    tariff: float = 0.0  # currency per kWh
    currency: str = "EUR"
    emission_factor: float = 0.0  # kgCO2e per kWh
    meters: tuple[MeterStatus, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)  # this plugin's parameters
    results: dict[str, PluginResult] = field(default_factory=dict)  # of required plugins


@dataclass
class Finding:
    """A condition worth an alert. ``key`` is stable for the same condition and period, so
    running the analysis again updates the alert instead of adding another."""

    kind: str  # e.g. "spike", "level_shift", "night_waste", "deviation_24h", "meter_silent"
    severity: str  # one of SEVERITIES
    key: str
    period_start: pd.Timestamp  # tz-aware
    period_end: pd.Timestamp  # tz-aware, exclusive
    message: str
    kwh_impact: float = 0.0  # energy above (positive) or below expectation
    meter_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)  # JSON-able


@dataclass
class Opportunity:
    """A saving the energy manager could make, with how it was estimated."""

    kind: str
    title: str
    kwh_per_week: float
    kwh_per_year: float
    method: str  # plain words: how the figure was estimated
    details: dict[str, Any] = field(default_factory=dict)  # JSON-able


@dataclass
class PluginResult:
    """What a plugin returns: its own data, and any findings and opportunities.

    ``data`` is plugin-specific; values may be pandas objects for the plugins that require
    this one (e.g. the baseline's ``expected`` series), and are made JSON-able by the service.
    """

    data: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    opportunities: list[Opportunity] = field(default_factory=list)


class Plugin:
    """Base class of analytics plugins (subclassing it is optional; the attributes are not)."""

    name: str = ""
    version: str = "0"
    requires: tuple[str, ...] = ()
    default_params: dict[str, Any] = {}

    def run(self, context: AnalysisContext) -> PluginResult:  # pragma: no cover - interface
        """Analyse ``context`` and return a :class:`PluginResult`."""
        raise NotImplementedError
