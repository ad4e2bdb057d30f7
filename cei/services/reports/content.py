"""The content of a report: from a site's hourly data and baseline to the report's figures.

``assemble_site`` is a pure function of pandas data (tested without a database): the hourly
kWh of the site (NaN = no data), the baseline's expected kWh per hour, its fit quality, the
deviation plugin's comparison, the savings opportunities and the alerts.

The 7-day KPIs are the analytics' own (:func:`~cei.services.analytics.kpis.compute_kpis` as of
the period's end), so a report says what the API said for that period. Each day of the daily
table follows the same rules on its own local hours:

- actual energy is the sum of the hours that have data;
- the baseline sums the expected kWh of those same hours, and is only given when (almost)
  every hour with data has an expectation (90 %), so a gap never reads as a saving;
- deviation compares the actual and expected kWh of the hours that have both;
- money and carbon come from the site's factors beside every kWh figure.

Days are site-local calendar days (23, 24 or 25 hours).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from cei.services.analytics.kpis import compute_kpis, deviation_pct
from cei.services.reports.data import (
    DayRow,
    Gap,
    Kpis,
    Methodology,
    OpportunityRow,
    ProfileHour,
    SiteReport,
)
from cei.services.reports.periods import local_midnight_ts

HOUR = 3600
# Only a baseline for (almost) every hour with data is a fair comparison (as in the KPIs).
BASELINE_MIN_SHARE = 0.9


@dataclass
class SiteInputs:
    """What the analytics give a report about one site.

    ``series``: hourly kWh indexed by tz-aware hour starts, NaN where data is missing,
    covering at least the 7 days before the period and the period itself. ``expected``: the
    baseline's kWh for the same hours (None without a baseline).
    """

    series: pd.Series
    expected: pd.Series | None = None
    quality: dict = field(default_factory=dict)
    opportunities: list = field(default_factory=list)  # the analytics' priced JSON items
    deviation: dict | None = None  # the deviation plugin's data, which the KPIs follow


def _round(value, digits=3):
    return None if value is None else round(float(value), digits)


def epoch_seconds(index):
    """Return the UTC epoch seconds of a tz-aware ``DatetimeIndex`` as int64."""
    return np.asarray(pd.DatetimeIndex(index).tz_convert("UTC").as_unit("s").asi8, dtype="int64")


class HourTable:
    """The hours of the inputs as aligned numpy arrays: start, actual, expected."""

    def __init__(self, inputs: SiteInputs):
        series = inputs.series
        self.stamps = epoch_seconds(series.index)
        self.actual = series.to_numpy(dtype=float, na_value=np.nan)
        self.has_data = ~np.isnan(self.actual)
        if inputs.expected is not None:
            aligned = inputs.expected.copy()
            aligned.index = epoch_seconds(aligned.index)
            aligned = aligned[~aligned.index.duplicated()]
            self.expected = aligned.reindex(self.stamps).to_numpy(dtype=float, na_value=np.nan)
        else:
            self.expected = np.full(len(self.stamps), np.nan)

    def between(self, start_ts, end_ts):
        """Boolean mask of the hours starting in ``[start_ts, end_ts)``."""
        return (self.stamps >= start_ts) & (self.stamps < end_ts)

    def figures(self, mask):
        """Return ``(actual kWh, baseline kWh, deviation %, hours with data)`` over ``mask``."""
        present = mask & self.has_data
        hours = int(present.sum())
        actual = float(self.actual[present].sum()) if hours else None
        usable = present & ~np.isnan(self.expected)
        baseline = deviation = None
        if usable.any() and usable.sum() >= BASELINE_MIN_SHARE * hours:
            baseline = float(self.expected[usable].sum())
            deviation = deviation_pct(float(self.actual[usable].sum()), baseline)
        return _round(actual), _round(baseline), deviation, hours


def _kpis(inputs, expected, deviation, period, factors):
    """The 7-day KPIs exactly as the analytics compute them for an analysis at the period's end.

    The analytics' 7 days are the 168 hours before that moment: on a DST week (167 or 169
    local hours) they start an hour earlier or later than the period's first local day.
    """
    kpis = compute_kpis(inputs.series, expected, period.end_ts, factors, inputs.quality, deviation)
    return Kpis(
        kwh=kpis["last_7d_kwh"],
        cost=kpis["last_7d_cost"],
        co2e_kg=kpis["last_7d_co2e_kg"],
        baseline_kwh=kpis["baseline_7d_kwh"],
        baseline_cost=kpis["baseline_7d_cost"],
        deviation_pct=kpis["deviation_pct_7d"],
        previous_kwh=kpis["prev_7d_kwh"],
        change_pct=kpis["change_pct_7d_vs_prev"],
        coverage_pct=kpis["coverage_7d_pct"],
    )


def _days(table, period, factors, zone):
    rows = []
    day = period.first
    while day <= period.last:
        start = local_midnight_ts(day, zone)
        end = local_midnight_ts(day + timedelta(days=1), zone)
        mask = table.between(start, end)
        kwh, baseline, deviation, hours = table.figures(mask)
        peak_hour = peak_kwh = None
        present = mask & table.has_data
        if present.any():
            positions = np.flatnonzero(present)
            top = positions[int(np.argmax(table.actual[positions]))]
            peak_hour = datetime.fromtimestamp(int(table.stamps[top]), zone).strftime("%H:%M")
            peak_kwh = _round(table.actual[top])
        rows.append(
            DayRow(
                day=day,
                hours=(end - start) // HOUR,
                hours_with_data=hours,
                kwh=kwh,
                baseline_kwh=baseline,
                deviation_pct=deviation,
                cost=factors.cost(kwh),
                co2e_kg=factors.co2e_kg(kwh),
                peak_hour=peak_hour,
                peak_kwh=peak_kwh,
            )
        )
        day += timedelta(days=1)
    return rows


def _profile(table, period, zone):
    mask = table.between(period.start_ts, period.end_ts)
    local_hours = np.array(
        [datetime.fromtimestamp(int(ts), zone).hour for ts in table.stamps[mask]], dtype=int
    )
    actual, expected = table.actual[mask], table.expected[mask]
    present = ~np.isnan(actual)
    profile = []
    for hour in range(24):
        at = local_hours == hour
        with_data = at & present
        both = with_data & ~np.isnan(expected)
        profile.append(
            ProfileHour(
                hour=hour,
                kwh=_round(actual[with_data].mean()) if with_data.any() else None,
                baseline_kwh=_round(expected[both].mean()) if both.any() else None,
            )
        )
    return profile


def _gaps(table, period, zone):
    """Runs of hours without data inside the period (hours missing from the series too)."""
    expected_starts = np.arange(period.start_ts, period.end_ts, HOUR, dtype="int64")
    with_data = set(table.stamps[table.has_data & table.between(period.start_ts, period.end_ts)])
    gaps, run_start, previous = [], None, None
    for ts in expected_starts:
        if int(ts) in with_data:
            if run_start is not None:
                gaps.append((run_start, previous))
                run_start = None
            continue
        if run_start is None:
            run_start = int(ts)
        previous = int(ts)
    if run_start is not None:
        gaps.append((run_start, previous))
    return [
        Gap(
            start=datetime.fromtimestamp(first, zone),
            end=datetime.fromtimestamp(last + HOUR, zone),
            hours=(last - first) // HOUR + 1,
        )
        for first, last in gaps
    ], len(expected_starts) - len(with_data)


def _methodology(inputs, table, period, zone):
    quality = inputs.quality or {}
    gaps, missing = _gaps(table, period, zone)
    state = quality.get("state") or ("ready" if inputs.expected is not None else "unavailable")
    if inputs.expected is None:
        state = "unavailable"
    return Methodology(
        baseline_state=str(state),
        baseline_method=str(quality.get("method") or "Baseline: expected kWh per hour."),
        cv_rmse_pct=quality.get("cv_rmse_pct"),
        nmbe_pct=quality.get("nmbe_pct"),
        history_days=quality.get("history_days"),
        hours_expected=period.hours,
        hours_with_data=period.hours - missing,
        gaps=gaps,
    )


def _opportunities(site_id, items):
    return [
        OpportunityRow(
            site_id=site_id,
            title=str(item.get("title") or item.get("kind") or "Opportunity"),
            kind=str(item.get("kind") or ""),
            kwh_per_week=item.get("per_week_kwh"),
            cost_per_week=item.get("per_week_cost"),
            kwh_per_year=item.get("per_year_kwh"),
            cost_per_year=item.get("per_year_cost"),
            method=str(item.get("method") or ""),
        )
        for item in items
    ]


def assemble_site(site, period, inputs, factors, alerts=()):
    """Return the :class:`SiteReport` of ``site`` for ``period`` from the analytics' inputs.

    ``site`` needs ``site_id``, ``name``, ``timezone`` and ``location``; ``factors`` the
    analytics' ``Factors`` (``tariff``, ``currency``, ``emission_factor``, ``cost()``,
    ``co2e_kg()``); ``alerts`` are :class:`~cei.services.reports.data.AlertRow`.
    """
    zone = ZoneInfo(period.timezone)
    table = HourTable(inputs)
    expected, deviation = inputs.expected, inputs.deviation
    if (inputs.quality or {}).get("state", "ready") != "ready":
        # A warming-up baseline is not shown as a comparison (as the methodology says).
        table.expected = np.full(len(table.stamps), np.nan)
        expected = deviation = None
    return SiteReport(
        site_id=site.site_id,
        name=site.name,
        timezone=period.timezone,
        location=getattr(site, "location", None),
        currency=factors.currency,
        tariff_per_kwh=factors.tariff,
        emission_factor_kg_per_kwh=factors.emission_factor,
        period=period,
        kpis=_kpis(inputs, expected, deviation, period, factors),
        days=_days(table, period, factors, zone),
        profile=_profile(table, period, zone),
        alerts=list(alerts),
        opportunities=_opportunities(site.site_id, inputs.opportunities),
        methodology=_methodology(inputs, table, period, zone),
    )


def portfolio_totals(site_reports):
    """Return the portfolio's :class:`Kpis`: sums, and deviation over sites with a baseline."""

    def total(name):
        values = [getattr(site.kpis, name) for site in site_reports]
        values = [value for value in values if value is not None]
        return round(sum(values), 3) if values else None

    compared_actual = compared_expected = 0.0
    for site in site_reports:
        if site.kpis.baseline_kwh is not None and site.kpis.deviation_pct is not None:
            compared_expected += site.kpis.baseline_kwh
            compared_actual += site.kpis.baseline_kwh * (1 + site.kpis.deviation_pct / 100)
    hours = sum(site.period.hours for site in site_reports)
    covered = sum(site.methodology.hours_with_data for site in site_reports)
    kwh, previous = total("kwh"), total("previous_kwh")
    return Kpis(
        kwh=kwh,
        cost=total("cost"),
        co2e_kg=total("co2e_kg"),
        baseline_kwh=total("baseline_kwh"),
        baseline_cost=total("baseline_cost"),
        deviation_pct=deviation_pct(compared_actual, compared_expected or None),
        previous_kwh=previous,
        change_pct=deviation_pct(kwh, previous),
        coverage_pct=round(100.0 * covered / hours, 1) if hours else None,
    )


def generated_now():
    """The report's generation time (module-level so tests can freeze it)."""
    return datetime.now(UTC)
