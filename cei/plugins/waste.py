"""The ``waste`` plugin: out-of-hours energy above the base load, and base-load drift."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cei.plugins.base import AnalysisContext, Finding, Opportunity, PluginResult
from cei.plugins.periods import (
    HOUR,
    first_valid,
    hour_floor,
    hourly,
    next_local_day,
    non_working_days,
    week_start,
)

WEEK = pd.Timedelta(days=7)
WEEKS_PER_YEAR = 365.25 / 7
CATEGORIES = {
    "night_waste": "working days outside working hours",
    "weekend_waste": "weekends and holidays",
}
KIND_CODES = {"night_waste": 1, "weekend_waste": 2}

METHOD = (
    "Base load = the median of the site's quietest hours over the trailing {weeks} weeks: the "
    "hours within 3.5 noise widths of the {pct:g}th percentile of hourly kWh, the noise width "
    "being measured from hour-to-hour changes among those quiet hours (so neither noise nor "
    "occasional low readings pull it down). Waste = kWh above that base load in the hours "
    "outside the operating schedule (nights of working days; weekends and holidays), in site-"
    "local time; hours below the base load count down to three noise widths, so noise cancels "
    "out. A week's figure is the median over the window's 7-day blocks (a missing hour counts "
    "as the average of the same kind of hour at the same time of day), so spikes or a short "
    "level shift do not set it; "
    "per year = per week x 52.18; cost = kWh x tariff. Base-load drift: the base load of the "
    "last 7 days at least {drift:g} % above that of the {weeks} weeks before them."
)


@dataclass(frozen=True)
class BaseLoad:
    """A site's always-on load (kWh per hour = average kW) and the width of its noise."""

    level: float
    noise: float  # one standard deviation of the quiet hours' hour-to-hour noise, kWh


def estimate_base_load(values: pd.Series, floor_percentile: float = 5.0) -> BaseLoad | None:
    """Return the base load of an hourly kWh series (in time order), or None with < 24 values.

    A low percentile alone sits below the true level by about 1.6 noise widths; the median
    of the hours near that floor does not.
    """
    x = np.asarray(values, dtype=float)
    finite = np.isfinite(x)
    if finite.sum() < 24:
        return None
    floor = float(np.percentile(x[finite], floor_percentile))
    near = finite & (x <= floor * 1.5 + 1e-9)
    steps = np.diff(x)[near[1:] & near[:-1]]
    if steps.size >= 10:
        noise = 1.4826 * float(np.median(np.abs(steps - np.median(steps)))) / float(np.sqrt(2.0))
    else:
        noise = 0.05 * abs(floor)
    noise = max(noise, 0.003 * abs(floor))
    quiet = x[finite & (x <= floor + 3.5 * noise + 1e-9)]
    return BaseLoad(level=float(np.median(quiet)), noise=noise)


class WastePlugin:
    """waste: energy used outside the site's operating hours above its base load.

    Reports kWh and cost per week and per year for nights and for weekends/holidays, the
    out-of-hours share of consumption, a finding per category for the last complete
    site-local week when the waste is notable, and base-load drift (the Energy Sparks rule:
    last 7 days' base load >= 15 % above the trailing 8 weeks') as its own finding.
    """

    name = "waste"
    version = "1.0.0"
    requires: tuple[str, ...] = ()
    default_params = {
        "window_weeks": 8,
        "min_history_days": 7,
        "floor_percentile": 5.0,
        "min_coverage": 0.8,  # of a week's hours, for its findings
        "info_share": 0.03,  # waste as a share of consumption: info, warning, critical
        "warning_share": 0.10,
        "critical_share": 0.25,
        "drift_pct": 15.0,  # base-load drift: warning at +15 %, critical at +drift_critical_pct
        "drift_critical_pct": 50.0,
    }

    def run(self, context: AnalysisContext) -> PluginResult:
        """Measure out-of-hours waste and base-load drift on the trailing weeks."""
        params = {**self.default_params, **(context.params or {})}
        tz = context.timezone
        end = hour_floor(context.now)
        weeks = int(params["window_weeks"])
        method = METHOD.format(
            weeks=weeks, pct=params["floor_percentile"], drift=params["drift_pct"]
        )
        x = hourly(context.series, end - weeks * WEEK, end, tz)
        first = first_valid(x)
        observed = int(np.isfinite(x.to_numpy()).sum())
        if first is None or observed < params["min_history_days"] * 24:
            return PluginResult(
                data={"state": "insufficient_data", "observed_hours": observed, "method": method}
            )
        x = x[x.index >= first]
        base = estimate_base_load(x, params["floor_percentile"])
        kinds = _kinds(context, x.index)
        typical = _Typical(x, kinds, base)
        weekly = _weekly_figures(x, kinds, typical)

        result = PluginResult()
        result.data = {
            "state": "ready",
            "method": method,
            "window_start": x.index[0].isoformat(),
            "window_end": end.tz_convert(tz).isoformat(),
            "coverage": round(observed / len(x), 4),
            "base_load_kw": round(base.level, 3),
            "noise_kw": round(base.noise, 3),
            "currency": context.currency,
            **weekly,
            **_money(weekly, context.tariff),
        }
        total = weekly["total_kwh_per_week"]
        for kind, label in CATEGORIES.items():
            per_week = weekly[f"{kind}_kwh_per_week"]
            if total > 0 and per_week / total >= params["info_share"]:
                result.opportunities.append(
                    Opportunity(
                        kind=kind,
                        title=f"Out-of-hours consumption above base load: {label}",
                        kwh_per_week=round(per_week, 2),
                        kwh_per_year=round(per_week * WEEKS_PER_YEAR, 1),
                        method=method,
                        details={
                            "cost_per_week": round(per_week * context.tariff, 2),
                            "cost_per_year": round(per_week * WEEKS_PER_YEAR * context.tariff, 2),
                            "currency": context.currency,
                            "share_of_consumption": round(per_week / total, 4),
                            "base_load_kw": round(base.level, 3),
                        },
                    )
                )
        last_week, findings = self._last_week(context, base, typical, params)
        result.data["last_week"] = last_week
        result.findings.extend(findings)
        drift, finding = self._drift(context, x, end, params)
        result.data["drift"] = drift
        if finding is not None:
            result.findings.append(finding)
        return result

    def _last_week(self, context, base, typical, params):
        """Findings for the last complete site-local week (Monday to Monday)."""
        tz = context.timezone
        week_end = week_start(hour_floor(context.now), tz)
        week_begin = next_local_day(week_end, -7, tz)
        x = hourly(context.series, week_begin, week_end, tz)
        coverage = float(np.isfinite(x.to_numpy()).mean()) if len(x) else 0.0
        summary = {
            "start": week_begin.isoformat(),
            "end": week_end.isoformat(),
            "coverage": round(coverage, 4),
        }
        if coverage < params["min_coverage"]:
            summary["state"] = "low_coverage"
            return summary, []
        kinds = _kinds(context, x.index)
        values, excess = typical.fill(x, kinds)
        total = float(values.sum())
        summary.update(state="ready", total_kwh=round(total, 2))
        findings = []
        for kind, label in CATEGORIES.items():
            mask = kinds == KIND_CODES[kind]
            kwh = max(0.0, float(excess[mask].sum()))
            share = float(kwh / total) if total > 0 else 0.0
            summary[f"{kind}_kwh"] = round(kwh, 2)
            summary[f"{kind}_share"] = round(share, 4)
            severity = _severity(share, params)
            if severity is None:
                continue
            findings.append(
                Finding(
                    kind=kind,
                    severity=severity,
                    key=f"{kind}:{week_begin.date().isoformat()}",
                    period_start=week_begin,
                    period_end=week_end,
                    message=(
                        f"{kwh:,.0f} kWh used above the base load during {label} in the week "
                        f"of {week_begin.date().isoformat()} ({share:.0%} of the week's "
                        "consumption)"
                    ),
                    kwh_impact=round(kwh, 2),
                    details={
                        "share_of_consumption": round(share, 4),
                        "hours": int(mask.sum()),
                        "base_load_kw": round(base.level, 3),
                        "cost": round(kwh * context.tariff, 2),
                        "currency": context.currency,
                    },
                )
            )
        return summary, findings

    @staticmethod
    def _drift(context, x, end, params):
        """Compare the last 7 days' base load with that of the window's weeks before them."""
        tz = context.timezone
        recent_start = end - WEEK
        recent = x[x.index >= recent_start.tz_convert(tz)]
        before = hourly(
            context.series, recent_start - params["window_weeks"] * WEEK, recent_start, tz
        )
        drift = {"threshold_pct": params["drift_pct"]}
        enough_recent = np.isfinite(recent.to_numpy()).sum() >= 84
        enough_before = np.isfinite(before.to_numpy()).sum() >= params["min_history_days"] * 24
        if not (enough_recent and enough_before):
            drift["state"] = "insufficient_data"
            return drift, None
        now_base = estimate_base_load(recent, params["floor_percentile"])
        then_base = estimate_base_load(before, params["floor_percentile"])
        drift.update(
            state="ready",
            recent_base_load_kw=round(now_base.level, 3),
            reference_base_load_kw=round(then_base.level, 3),
        )
        if then_base.level <= 0:
            drift["change_pct"] = None
            return drift, None
        change = 100.0 * (now_base.level / then_base.level - 1.0)
        drift["change_pct"] = round(change, 2)
        if change < params["drift_pct"]:
            return drift, None
        severity = "critical" if change >= params["drift_critical_pct"] else "warning"
        extra = (now_base.level - then_base.level) * 168
        year, week, _ = (end - HOUR).tz_convert(tz).isocalendar()
        finding = Finding(
            kind="baseload_drift",
            severity=severity,
            key=f"baseload_drift:{year}-W{week:02d}",
            period_start=recent_start.tz_convert(tz),
            period_end=end.tz_convert(tz),
            message=(
                f"Base load rose {change:.0f} % to {now_base.level:,.1f} kW over the last "
                f"7 days (was {then_base.level:,.1f} kW): about {extra:,.0f} kWh a week more"
            ),
            kwh_impact=round(extra, 2),
            details={
                "change_pct": round(change, 2),
                "recent_base_load_kw": round(now_base.level, 3),
                "reference_base_load_kw": round(then_base.level, 3),
                "cost_per_week": round(extra * context.tariff, 2),
                "currency": context.currency,
            },
        )
        return drift, finding


def _kinds(context, index):
    """Code each hour: 0 = operating, 1 = night of a working day, 2 = weekend or holiday."""
    operating = context.schedule.is_operating(index)
    off_day = non_working_days(index, context.schedule.days, context.schedule.holidays)
    return np.where(operating, 0, np.where(off_day, KIND_CODES["weekend_waste"], 1))


class _Typical:
    """Mean kWh and mean excess over the base load for each kind of hour and local hour of the
    day over the window: what a missing hour counts as (waste keeps to its hours of the day)."""

    def __init__(self, x, kinds, base):
        self.base = base
        values = x.to_numpy()
        keys = kinds * 24 + np.asarray(x.index.hour)
        self.values = _means(values, keys, fallback=float(np.nanmean(values)))
        self.excess = _means(self.excess_of(values), keys, fallback=0.0)

    def excess_of(self, values):
        # Hours below the base load count down to three noise widths (noise cancels out);
        # a reading far below (a meter glitch) does not cancel real waste.
        return np.clip(values - self.base.level, -3.0 * self.base.noise, None)

    def fill(self, x, kinds):
        """Return the hour values and excesses of ``x`` with missing hours filled in."""
        values = x.to_numpy()
        keys = kinds * 24 + np.asarray(x.index.hour)
        missing = ~np.isfinite(values)
        excess = self.excess_of(values)
        return (
            np.where(missing, self.values[keys], values),
            np.where(missing, self.excess[keys], excess),
        )


def _means(values, keys, fallback):
    finite = np.isfinite(values)
    sums = np.bincount(keys[finite], weights=values[finite], minlength=72)
    counts = np.bincount(keys[finite], minlength=72)
    return np.where(counts > 0, sums / np.maximum(counts, 1), fallback)


def _weekly_figures(x, kinds, typical):
    """kWh in a typical week of the window: total, out-of-hours, and waste per category.

    The window is cut into 7-day blocks counted back from its end, missing hours filled in
    from the typical hour of their kind; a figure is the median over the blocks with at least
    half their hours, so spikes or a temporary level shift in one or two weeks do not set it.
    """
    finite = np.isfinite(x.to_numpy())
    values, excess = typical.fill(x, kinds)
    columns = {
        "total_kwh_per_week": (np.ones(len(x), dtype=bool), values),
        "out_of_hours_kwh_per_week": (kinds > 0, values),
        **{f"{kind}_kwh_per_week": (kinds == code, excess) for kind, code in KIND_CODES.items()},
    }
    blocks = [slice(max(0, stop - 168), stop) for stop in range(len(x), 0, -168)]
    full = [block for block in blocks if block.stop - block.start == 168] or blocks[:1]
    used = [block for block in full if finite[block].mean() >= 0.5] or full[:1]
    figures = {}
    for column, (mask, of) in columns.items():
        weekly = [
            float(of[block][mask[block]].sum()) * 168 / (block.stop - block.start) for block in used
        ]
        figures[column] = float(np.median(weekly))
    for kind in CATEGORIES:
        figures[f"{kind}_kwh_per_week"] = max(0.0, figures[f"{kind}_kwh_per_week"])
    figures["waste_kwh_per_week"] = (
        figures["night_waste_kwh_per_week"] + figures["weekend_waste_kwh_per_week"]
    )
    figures["waste_kwh_per_year"] = figures["waste_kwh_per_week"] * WEEKS_PER_YEAR
    total = figures["total_kwh_per_week"]
    figures["out_of_hours_share"] = figures["out_of_hours_kwh_per_week"] / total if total else 0.0
    figures["waste_share"] = figures["waste_kwh_per_week"] / total if total else 0.0
    figures = {
        key: round(value, 4 if key.endswith("share") else 2) for key, value in figures.items()
    }
    figures["weeks_analysed"] = len(used)
    return figures


def _money(weekly, tariff):
    return {
        "cost_per_week": round(weekly["waste_kwh_per_week"] * tariff, 2),
        "cost_per_year": round(weekly["waste_kwh_per_year"] * tariff, 2),
    }


def _severity(share, params):
    if share >= params["critical_share"]:
        return "critical"
    if share >= params["warning_share"]:
        return "warning"
    if share >= params["info_share"]:
        return "info"
    return None
