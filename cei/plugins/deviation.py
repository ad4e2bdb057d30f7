"""The ``deviation`` plugin: last 24 h and last 7 d actual consumption against the baseline."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cei.plugins.base import AnalysisContext, Finding, PluginResult
from cei.plugins.periods import hour_floor, hourly

PERIODS = {"24h": 24, "7d": 168}

METHOD = (
    "Actual kWh against the baseline's expected kWh over the last {label} of whole hours "
    "ending now, both summed over the hours that have a reading (so a gap is neither a saving "
    "nor an excess). Deviation % = (actual - expected) / expected. Warning at |deviation| >= "
    "{warning:g} %, critical at >= {critical:g} %; no finding while the baseline warms up or "
    "when readings cover less than {coverage:.0%} of the period."
)


class DeviationPlugin:
    """deviation: last 24 h and last 7 d actual kWh against the baseline's expected kWh.

    Needs the ``baseline`` result (``state`` and ``expected``, an hourly Series). Thresholds
    are parameters (``warning_pct``, ``critical_pct``) so an organization can override them.
    """

    name = "deviation"
    version = "1.0.0"
    requires = ("baseline",)
    default_params = {
        "warning_pct": 10.0,
        "critical_pct": 30.0,
        "min_coverage": 0.8,  # share of the period's hours with a reading (and an expectation)
    }

    def run(self, context: AnalysisContext) -> PluginResult:
        """Compare actual and expected consumption over the last 24 hours and 7 days."""
        params = {**self.default_params, **(context.params or {})}
        found = context.results.get("baseline")
        baseline = found.data if found is not None else {"state": "missing"}
        state = baseline.get("state", "warming_up")
        expected = baseline.get("expected")
        if state == "ready" and expected is None:
            state = "without_expected"
        end = hour_floor(context.now)
        result = PluginResult(
            data={
                "state": state,
                "baseline_state": state,
                "warning_pct": params["warning_pct"],
                "critical_pct": params["critical_pct"],
            }
        )
        for period, hours in PERIODS.items():
            figures = _compare(context, expected, end, hours, params)
            if result.data["state"] != "ready":
                figures["status"] = "baseline_" + str(state)
            result.data[f"last_{period}"] = figures
            result.data[f"method_{period}"] = METHOD.format(
                label="24 hours" if hours == 24 else "7 days",
                warning=params["warning_pct"],
                critical=params["critical_pct"],
                coverage=params["min_coverage"],
            )
            finding = _finding(context, period, hours, figures, end)
            if finding is not None and result.data["state"] == "ready":
                result.findings.append(finding)
        result.data["prev_7d"] = _previous_week(context, end)
        return result


def _previous_week(context, end):
    """Actual kWh of the 7 days before the last 7 (the KPIs' week-on-week comparison)."""
    start, stop = end - pd.Timedelta(days=14), end - pd.Timedelta(days=7)
    values = hourly(context.series, start, stop, context.timezone).to_numpy()
    return {
        "start": start.tz_convert(context.timezone).isoformat(),
        "end": stop.tz_convert(context.timezone).isoformat(),
        "actual_kwh": round(float(np.nansum(values)), 3),
        "coverage": round(float(np.isfinite(values).mean()), 4),
    }


def _compare(context, expected, end, hours, params):
    """Sum actual and expected over the period's hours that have both; grade the deviation."""
    start = end - pd.Timedelta(hours=hours)
    actual = hourly(context.series, start, end, context.timezone)
    values = actual.to_numpy()
    figures = {
        "start": start.tz_convert(context.timezone).isoformat(),
        "end": end.tz_convert(context.timezone).isoformat(),
        "hours": hours,
        "actual_kwh": round(float(np.nansum(values)), 3),
        "coverage": round(float(np.isfinite(values).mean()), 4),
        "expected_kwh": None,
        "deviation_kwh": None,
        "deviation_pct": None,
        "severity": None,
    }
    if expected is None:
        figures["status"] = "no_baseline"
        return figures
    wanted = hourly(expected, start, end, context.timezone).to_numpy()
    both = np.isfinite(values) & np.isfinite(wanted)
    coverage = float(both.mean())
    figures["compared_coverage"] = round(coverage, 4)
    figures["expected_full_kwh"] = round(float(np.nansum(wanted)), 3)
    if coverage < params["min_coverage"]:
        figures["status"] = "low_coverage"
        return figures
    actual_kwh, expected_kwh = float(values[both].sum()), float(wanted[both].sum())
    figures.update(
        compared_actual_kwh=round(actual_kwh, 3),
        expected_kwh=round(expected_kwh, 3),
        deviation_kwh=round(actual_kwh - expected_kwh, 3),
    )
    if expected_kwh <= 0:
        figures["status"] = "no_expected_consumption"
        return figures
    pct = 100.0 * (actual_kwh - expected_kwh) / expected_kwh
    figures["deviation_pct"] = round(pct, 2)
    figures["status"] = "ok"
    if abs(pct) >= params["critical_pct"]:
        figures["severity"] = "critical"
    elif abs(pct) >= params["warning_pct"]:
        figures["severity"] = "warning"
    return figures


def _finding(context, period, hours, figures, end):
    """One finding per period, keyed by the site-local day (24 h) or ISO week (7 d) it ends in,
    so hourly re-runs update the same alert."""
    if figures["severity"] is None:
        return None
    last_hour = (end - pd.Timedelta(hours=1)).tz_convert(context.timezone)
    if period == "24h":
        stamp = last_hour.date().isoformat()
        label = "last 24 hours"
    else:
        year, week, _ = last_hour.isocalendar()
        stamp = f"{year}-W{week:02d}"
        label = "last 7 days"
    pct = figures["deviation_pct"]
    direction = "above" if pct > 0 else "below"
    return Finding(
        kind=f"deviation_{period}",
        severity=figures["severity"],
        key=f"deviation_{period}:{stamp}",
        period_start=(end - pd.Timedelta(hours=hours)).tz_convert(context.timezone),
        period_end=end.tz_convert(context.timezone),
        message=(
            f"Consumption over the {label} was {abs(pct):.1f} % {direction} the baseline: "
            f"{figures['compared_actual_kwh']:,.0f} kWh vs {figures['expected_kwh']:,.0f} kWh "
            "expected"
        ),
        kwh_impact=figures["deviation_kwh"],
        details={
            "deviation_pct": pct,
            "direction": direction,
            "actual_kwh": figures["compared_actual_kwh"],
            "expected_kwh": figures["expected_kwh"],
            "coverage": figures["coverage"],
            "cost": round(figures["deviation_kwh"] * context.tariff, 2),
            "currency": context.currency,
        },
    )
