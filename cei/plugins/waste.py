"""The ``waste`` plugin: out-of-hours energy above the base load, and base-load drift."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cei.plugins.base import AnalysisContext, Finding, Opportunity, PluginResult
from cei.plugins.periods import (
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
    "night_waste": "nights of working days",
    "weekend_waste": "weekends and holidays",
}

METHOD = (
    "Base load = the median of the site's quietest hours over the trailing {weeks} weeks: the "
    "hours within 3.5 noise widths of the {pct:g}th percentile of hourly kWh, the noise width "
    "being measured from hour-to-hour changes among those quiet hours (so neither noise nor "
    "occasional low readings pull it down). Waste = kWh above that base load in the hours "
    "outside the operating schedule (nights of working days; weekends and holidays), in site-"
    "local time; hours below the base load count down to one noise width, so noise cancels "
    "out. Weekly figures average the window (a missing hour counts as the average of its kind); "
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
        noise = 1.4826 * float(np.median(np.abs(steps - np.median(steps)))) / np.sqrt(2.0)
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
        categories = self._categories(context, x.index)
        weekly = _weekly_figures(x, base, categories)

        result = PluginResult()
        result.data = {
            "state": "ready",
            "method": method,
            "window_start": x.index[0].isoformat(),
            "window_end": end.tz_convert(tz).isoformat(),
            "weeks_analysed": round(len(x) / 168, 2),
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
        last_week, findings = self._last_week(context, base, params)
        result.data["last_week"] = last_week
        result.findings.extend(findings)
        drift, finding = self._drift(context, x, end, params)
        result.data["drift"] = drift
        if finding is not None:
            result.findings.append(finding)
        return result

    @staticmethod
    def _categories(context, index):
        operating = context.schedule.is_operating(index)
        off_day = non_working_days(index, context.schedule.days, context.schedule.holidays)
        return {"night_waste": ~operating & ~off_day, "weekend_waste": ~operating & off_day}

    def _last_week(self, context, base, params):
        """Findings for the last complete site-local week (Monday to Monday)."""
        tz = context.timezone
        week_end = week_start(hour_floor(context.now), tz)
        week_begin = next_local_day(week_end, -7, tz)
        x = hourly(context.series, week_begin, week_end, tz)
        values = x.to_numpy()
        finite = np.isfinite(values)
        coverage = float(finite.mean()) if len(x) else 0.0
        summary = {
            "start": week_begin.isoformat(),
            "end": week_end.isoformat(),
            "coverage": round(coverage, 4),
        }
        if coverage < params["min_coverage"]:
            summary["state"] = "low_coverage"
            return summary, []
        categories = self._categories(context, x.index)
        excess = np.clip(values - base.level, -base.noise, None)
        scale = len(x) / finite.sum()  # missing hours count as the average hour
        total = float(np.nansum(values)) * scale
        summary.update(state="ready", total_kwh=round(total, 2))
        findings = []
        for kind, label in CATEGORIES.items():
            mask = categories[kind]
            seen = mask & finite
            kwh = max(0.0, float(excess[seen].mean()) * mask.sum()) if seen.any() else 0.0
            share = kwh / total if total > 0 else 0.0
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
        year, week, _ = end.tz_convert(tz).isocalendar()
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


def _weekly_figures(x, base, categories):
    """Average kWh per week over the window: total, out-of-hours, and waste per category."""
    values = x.to_numpy()
    finite = np.isfinite(values)
    weeks = len(x) / 168
    excess = np.clip(values - base.level, -base.noise, None)

    def per_week(mask, of):
        seen = mask & finite
        if not seen.any():
            return 0.0
        return float(of[seen].mean()) * mask.sum() / weeks

    everything = np.ones(len(x), dtype=bool)
    out_of_hours = categories["night_waste"] | categories["weekend_waste"]
    figures = {
        "total_kwh_per_week": per_week(everything, values),
        "out_of_hours_kwh_per_week": per_week(out_of_hours, values),
    }
    for kind in CATEGORIES:
        figures[f"{kind}_kwh_per_week"] = max(0.0, per_week(categories[kind], excess))
    figures["waste_kwh_per_week"] = (
        figures["night_waste_kwh_per_week"] + figures["weekend_waste_kwh_per_week"]
    )
    figures["waste_kwh_per_year"] = figures["waste_kwh_per_week"] * WEEKS_PER_YEAR
    total = figures["total_kwh_per_week"]
    figures["out_of_hours_share"] = figures["out_of_hours_kwh_per_week"] / total if total else 0.0
    figures["waste_share"] = figures["waste_kwh_per_week"] / total if total else 0.0
    return {key: round(value, 4 if key.endswith("share") else 2) for key, value in figures.items()}


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
