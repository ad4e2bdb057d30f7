"""Accuracy of the waste plugin, and false alerts of the whole pipeline on a clean factory.

Helpers behind two sections of ``bench/analytics_accuracy.py`` (issue 9):

- waste kWh per week against the planted out-of-hours waste (night load after working days,
  plus weekend daytime load) on synthetic factories from ``cei.synthetic.make_factory``:
  a plain one, one with spikes, a +20 % three-day level shift and gaps, one in a UTC+10 zone,
  one across the October DST change, and a noisy one (30 % noise, weather-like swing).
  Target: within 10 % of planted (the noisy site is printed for information).
- false alerts on clean factories (no waste, spikes, shift or gaps; one per seed): the
  installed, enabled plugins (``run_plugins`` over ``load_registry()``) are run once a day, at
  a different hour each day, over 8 weeks; every distinct finding key is a false alert.
  Target: 0.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cei.plugins.base import AnalysisContext, MeterStatus  # noqa: E402
from cei.plugins.registry import load_registry, run_plugins  # noqa: E402
from cei.plugins.waste import WastePlugin  # noqa: E402

WASTE_TARGET_PCT = 10.0
WASTE_SCENARIOS = {
    "plain": {"night_waste_kw": 25.0},
    "night+weekend": {"night_waste_kw": 25.0, "weekend_kw": 30.0},
    "spikes, shift, gaps": {
        "night_waste_kw": 25.0,
        "spikes": 10,
        "level_shift_start": "2026-11-16 10:00",
        "gaps": 12,
    },
    "UTC+10 (Sydney)": {"night_waste_kw": 25.0, "timezone": "Australia/Sydney", "gaps": 6},
    "across DST (Rome)": {"night_waste_kw": 25.0, "end": "2026-11-02 00:00"},
}
NOISY = {"night_waste_kw": 25.0, "noise": 0.30, "swing": 0.15}


def context_for(site, now=None, tariff=0.25):
    """An analysis context for a synthetic site, cut at ``now`` (default: end of its data)."""
    truth = site.truth
    now = truth.end if now is None else now
    series = site.series[site.series.index < now]
    return AnalysisContext(
        site_id=f"synthetic-{truth.seed}",
        timezone=truth.timezone,
        now=now,
        series=series,
        schedule=truth.schedule,
        tariff=tariff,
        meters=(meter_status(series, now),),
    )


def meter_status(series, now, meter_id="main", interval_minutes=60):
    """The status of a single hourly main meter whose readings are ``series`` (NaN = missing)."""
    seen = series.dropna()
    last = seen.index[-1].tz_convert("UTC") if len(seen) else None
    end = pd.Timestamp(now).tz_convert("UTC").floor("h")
    recent = series[series.index.tz_convert("UTC") >= end - pd.Timedelta(hours=24)]
    return MeterStatus(
        meter_id=meter_id,
        interval_minutes=interval_minutes,
        is_main=True,
        last_seen=last,
        expected_24h=24,
        received_24h=int(recent.notna().sum()),
    )


def waste_accuracy(make_factory, scenario, seeds):
    """Return (planted, found, error %) per seed for one scenario."""
    rows = []
    for seed in seeds:
        site = make_factory(seed=seed, **scenario)
        data = WastePlugin().run(context_for(site)).data
        planted = site.truth.waste_kwh_per_week
        found = data["waste_kwh_per_week"]
        rows.append((planted, found, 100.0 * (found - planted) / planted))
    return rows


def false_alerts(make_factory, seed=0, weeks=8, registry=None):
    """Run the enabled plugins daily over ``weeks`` weeks of a clean factory; return
    (distinct findings, runs, plugins run, plugins not ok)."""
    registry = registry or load_registry()
    site = make_factory(seed=seed, days=7 * weeks + 14)
    end = site.truth.end
    keys, not_ok = {}, set()
    runs = 0
    for day in range(7 * weeks):
        now = end - pd.Timedelta(days=day, hours=day % 24)
        for name, outcome in run_plugins(registry, context_for(site, now)).items():
            if outcome.status != "ok":
                not_ok.add(f"{name}: {outcome.status} ({outcome.error})")
                continue
            for finding in outcome.result.findings:
                keys.setdefault((name, finding.key), finding)
        runs += 1
    return keys, runs, registry.order, sorted(not_ok)
