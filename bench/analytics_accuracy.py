"""Analytics accuracy: the plugins on synthetic factories with known truth (no app, no database).

Each section generates factories with ``cei.synthetic.make_factory`` (a two-shift weekday
profile, lower weekends, 5 % noise, a night load that is pure waste, planted one-hour spikes, a
+20 % level shift lasting three days, gaps, DST changes, a site in Australia/Sydney), runs the
plugins the way the analysis service does (each with the results of those it requires), and
prints its figures with PASS/FAIL against the targets of issue 9:

- baseline: CV(RMSE) ≤ 15 % and |NMBE| ≤ 5 % on the held-out week (Rome, a week holding the
  autumn DST change, Sydney);
- spikes: precision and recall ≥ 0.9;
- level shift: detection delay ≤ 6 hours (the analysis re-run hour by hour after it starts);
- waste: kWh per week within 10 % of the planted out-of-hours waste (plain, spikes + shift +
  gaps, Sydney, across DST);
- false alerts: 0 findings from all enabled plugins run daily over 8 weeks of clean factories;
- forecast: on a noisy site (30 % noise, a weather-like swing) the 7-day CV(RMSE) at least
  15 % below seasonal-naive's (the same hour a week earlier).

A section is a function returning ``Check`` rows; add one to ``SECTIONS`` to extend the bench.

    .venv/bin/python bench/analytics_accuracy.py [--seeds N] [--only SECTION ...]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import waste_checks  # noqa: E402  (bench/, beside this file)

from cei.plugins.base import AnalysisContext  # noqa: E402
from cei.plugins.baseline import BaselinePlugin, fit_quality  # noqa: E402
from cei.plugins.forecast import ForecastPlugin  # noqa: E402
from cei.plugins.spikes import SpikesPlugin  # noqa: E402
from cei.synthetic import make_factory  # noqa: E402

HOUR = pd.Timedelta(hours=1)
ROME, SYDNEY = "Europe/Rome", "Australia/Sydney"
PLUGINS = {"baseline": BaselinePlugin, "forecast": ForecastPlugin, "spikes": SpikesPlugin}


class Check(NamedTuple):
    """One printed figure and whether it meets its target."""

    section: str
    name: str
    figure: str
    target: str
    passed: bool | None  # None: information only


def analyse(series, timezone, names, params=None, now=None, **context):
    """Return {name: PluginResult} for ``names`` (in dependency order) run on ``series``."""
    now = series.index[-1] + HOUR if now is None else now
    results = {}
    for name in names:
        plugin = PLUGINS[name]()
        results[name] = plugin.run(
            AnalysisContext(
                site_id="bench",
                timezone=timezone,
                now=now,
                series=series,
                params=(params or {}).get(name, {}),
                results={need: results[need] for need in plugin.requires},
                **context,
            )
        )
    return results


def factory(seed, timezone=ROME, end="2026-11-23 00:00", **overrides):
    """Return the issue's factory: 10 weeks, 5 % noise, night waste, spikes, a shift, gaps."""
    stop = pd.Timestamp(end)
    recipe = {
        "timezone": timezone,
        "days": 70,
        "end": end,
        "noise": 0.05,
        "night_waste_kw": 30.0,
        "spikes": 6,
        "spike_window_days": 14,
        "level_shift_start": stop - pd.Timedelta(days=10) + pd.Timedelta(hours=seed % 24),
        "level_shift_pct": 20.0,
        "level_shift_hours": 72,
        "gaps": 4,
        "seed": seed,
    }
    return make_factory(**{**recipe, **overrides})


def anomalous(index, truth):
    """Return a mask of the hours where something was planted (spikes, the level shift)."""
    mask = index.isin(list(truth.spike_times))
    if truth.shift_start is not None:
        mask |= (index >= truth.shift_start) & (index < truth.shift_end)
    return mask


def pct(value):
    return f"{value:.2f} %"


# --- sections -------------------------------------------------------------------------------


def baseline_section(seeds):
    """Baseline fit on the held-out week: CV(RMSE) and NMBE, normal hours and all hours."""
    cases = {
        "Rome": {"timezone": ROME},
        "Rome, autumn DST day held out": {"timezone": ROME, "end": "2026-10-29"},
        "Rome, spring DST day in the fit": {"timezone": ROME, "end": "2026-05-04"},
        "Sydney (UTC+10/+11)": {"timezone": SYDNEY},
    }
    checks = []
    for label, case in cases.items():
        normal_y, normal_hat, all_y, all_hat = [], [], [], []
        passes = 0
        for seed in range(seeds):
            series, truth = factory(seed, **case)
            data = analyse(series, case["timezone"], ["baseline"])["baseline"].data
            quality = data["quality"]
            passes += bool(quality["passes_ashrae14"])
            start = pd.Timestamp(quality["holdout_start"])
            end = pd.Timestamp(quality["holdout_end"])
            held = (series.index >= start) & (series.index < end)
            normal = held & ~anomalous(series.index, truth)
            normal_y.append(series[normal].to_numpy())
            normal_hat.append(data["expected"][normal].to_numpy())
            all_y.append(series[held].to_numpy())
            all_hat.append(data["expected"][held].to_numpy())
        normal_fit = fit_quality(np.concatenate(normal_y), np.concatenate(normal_hat))
        all_fit = fit_quality(np.concatenate(all_y), np.concatenate(all_hat))
        cv, nmbe = normal_fit["cv_rmse_pct"], normal_fit["nmbe_pct"]
        checks += [  # fmt: skip
            Check("baseline", f"{label}: CV(RMSE), normal hours", pct(cv), "≤ 15 %", cv <= 15),
            Check(
                "baseline", f"{label}: NMBE, normal hours", pct(nmbe), "|·| ≤ 5 %", abs(nmbe) <= 5
            ),
            Check(
                "baseline",
                f"{label}: CV(RMSE) / NMBE, all hours",
                f"{pct(all_fit['cv_rmse_pct'])} / {pct(all_fit['nmbe_pct'])}",
                "info",
                None,
            ),
            Check(
                "baseline",
                f"{label}: plugin's ASHRAE 14 verdict",
                f"{passes}/{seeds} pass",
                "info",
                None,
            ),
        ]
    return checks


def spikes_section(seeds):
    """Planted one-hour spikes found (recall) and findings that are planted spikes (precision)."""
    checks = []
    for timezone in (ROME, SYDNEY):
        true_positive = false_positive = missed = 0
        for seed in range(seeds):
            series, truth = factory(seed, timezone=timezone)
            params = {"spikes": {"lookback_days": 14}}
            result = analyse(series, timezone, ["baseline", "spikes"], params)["spikes"]
            found = {f.period_start for f in result.findings if f.kind == "spike"}
            planted = set(truth.spike_times)
            true_positive += len(found & planted)
            false_positive += len(found - planted)
            missed += len(planted - found)
        precision = true_positive / max(true_positive + false_positive, 1)
        recall = true_positive / max(true_positive + missed, 1)
        detail = f"({true_positive} found, {false_positive} false, {missed} missed)"
        checks += [
            Check("spikes", f"{timezone}: precision {detail}", f"{precision:.3f}", "≥ 0.9",
                  precision >= 0.9),
            Check("spikes", f"{timezone}: recall", f"{recall:.3f}", "≥ 0.9", recall >= 0.9),
        ]  # fmt: skip
    return checks


def level_shift_section(seeds, max_hours=24):
    """Hours from a +20 % shift's start to the first hourly analysis that flags it.

    The delay counts the hours with data since the start (a gap that swallows the first hours
    of a shift delays any detector; the clock hours are printed beside it). The analysis is
    re-run every hour for ``max_hours`` hours after the start; the runs also count what else
    they report: spike findings that are not planted spikes (a shift's first hours must not
    read as spikes) and how many keys the shift's finding went by (one, or the service would
    open several alerts for one shift).
    """
    checks = []
    for timezone in (ROME, SYDNEY):
        delays, raw, offsets, stray, shift_keys = [], [], [], set(), 0
        for seed in range(seeds):
            series, truth = factory(seed, timezone=timezone)
            start = truth.shift_start
            delay, keys = None, set()
            for hours in range(1, max_hours + 1):
                now = start + hours * HOUR
                seen = series[series.index < now]
                result = analyse(seen, timezone, ["baseline", "spikes"], now=now)["spikes"]
                for finding in result.findings:
                    if finding.kind == "spike" and finding.period_start not in truth.spike_times:
                        stray.add((seed, finding.key))
                shifts = [
                    f
                    for f in result.findings
                    if f.kind == "level_shift" and abs(f.period_start - start) <= 6 * HOUR
                ]
                keys |= {f.key for f in shifts}
                if shifts and delay is None:
                    # Hours the meter reported since the start: a gap delays any detector.
                    delay = int(seen[seen.index >= start].notna().sum())
                    raw.append(hours)
                    offsets.append((shifts[0].period_start - start) / HOUR)
            delays.append(delay if delay is not None else np.inf)
            shift_keys = max(shift_keys, len(keys))
        worst = max(delays)
        checks += [
            Check(
                "level shift",
                f"{timezone}: delay, hours with data (median {np.median(delays):g} h)",
                f"{worst:g} h",
                "≤ 6 h",
                worst <= 6,
            ),
            Check(
                "level shift",
                f"{timezone}: delay, clock hours (a gap may hide the start)",
                f"{max(raw, default=np.inf):g} h",
                "info",
                None,
            ),
            Check(
                "level shift",
                f"{timezone}: change point found vs planted start (mean)",
                f"{np.mean(offsets):+.1f} h" if offsets else "n/a",
                "info",
                None,
            ),
            Check(
                "level shift",
                f"{timezone}: keys per shift over {max_hours} hourly runs (worst)",
                str(shift_keys),
                "1",
                shift_keys == 1,
            ),
            Check(
                "level shift",
                f"{timezone}: false spikes in those runs",
                str(len(stray)),
                "0",
                not stray,
            ),
        ]
    return checks


def forecast_section(seeds, origins=4):
    """7-day forecast vs seasonal-naive on a noisy site (30 % noise, weather-like swing)."""
    squared = {"forecast": [], "naive": [], "profile": []}
    means, covered = [], []
    for seed in range(seeds):
        series, _ = make_factory(days=126, noise=0.3, swing=0.2, seed=1000 + seed)
        for k in range(origins):
            cut = len(series) - 168 * (k + 1) - 37 * k  # origins at different hours of day
            seen, future = series.iloc[:cut], series.iloc[cut : cut + 168]
            results = analyse(seen, ROME, ["baseline", "forecast"])
            hourly = results["forecast"].data["hourly"]
            profile = results["baseline"].data["expected_ahead"].iloc[:168]
            naive = series.reindex(future.index - pd.Timedelta(days=7))
            y = future.to_numpy()
            ok = np.isfinite(y) & np.isfinite(naive.to_numpy())
            squared["forecast"].append((y - hourly["expected"].to_numpy())[ok] ** 2)
            squared["naive"].append((y - naive.to_numpy())[ok] ** 2)
            squared["profile"].append((y - profile.to_numpy())[ok] ** 2)
            means.append(y[ok])
            covered.append((y >= hourly["lower"].to_numpy()) & (y <= hourly["upper"].to_numpy()))
    mean = np.concatenate(means).mean()
    cv = {k: np.sqrt(np.concatenate(v).mean()) / mean * 100 for k, v in squared.items()}
    gain = (1 - cv["forecast"] / cv["naive"]) * 100
    profile_gain = (1 - cv["profile"] / cv["naive"]) * 100
    coverage = np.concatenate(covered).mean()
    runs = f"{seeds} sites × {origins} origins"
    return [
        Check("forecast", f"noisy site, 7-day CV(RMSE), forecast ({runs})", pct(cv["forecast"]),
              "info", None),
        Check("forecast", "noisy site, 7-day CV(RMSE), seasonal-naive", pct(cv["naive"]), "info",
              None),
        Check("forecast", "forecast below seasonal-naive", f"{gain:.1f} %", "≥ 15 %", gain >= 15),
        Check("forecast", "plain profile below seasonal-naive (for comparison)",
              f"{profile_gain:.1f} %", "info", None),
        Check("forecast", "90 % interval: share of actual hours inside", f"{coverage:.3f}",
              "0.8–0.97", 0.8 <= coverage <= 0.97),
    ]  # fmt: skip


def waste_section(seeds):
    """Waste kWh per week against the planted waste, per scenario (worst seed)."""
    checks = []
    for label, scenario in waste_checks.WASTE_SCENARIOS.items():
        rows = waste_checks.waste_accuracy(make_factory, scenario, range(seeds))
        worst = max((row[2] for row in rows), key=abs)
        target = waste_checks.WASTE_TARGET_PCT
        checks.append(
            Check("waste", f"{label}: worst error vs planted", f"{worst:+.1f} %",
                  f"within {target:g} %", abs(worst) <= target)
        )  # fmt: skip
    rows = waste_checks.waste_accuracy(make_factory, waste_checks.NOISY, range(seeds))
    worst = max((row[2] for row in rows), key=abs)
    noisy = "noisy site (30 % noise + swing)"
    checks.append(Check("waste", noisy, f"{worst:+.1f} %", "info", None))
    return checks


def false_alerts_section(seeds):
    """Distinct findings of all enabled plugins, run daily over 8 weeks of clean factories."""
    total = runs = 0
    checks = []
    for seed in range(seeds):
        keys, seed_runs, order, not_ok = waste_checks.false_alerts(make_factory, seed=seed)
        total += len(keys)
        runs += seed_runs
        for (name, key), finding in sorted(keys.items()):
            checks.append(Check("false_alerts", f"seed {seed} {name}: {key}", finding.severity,
                                "info", None))  # fmt: skip
        checks += [Check("false_alerts", f"seed {seed} not run: {line}", "", "", False)
                   for line in not_ok]  # fmt: skip
    checks.append(Check("false_alerts", f"clean factories, {runs} daily runs of "
                        f"{', '.join(order)}", str(total), "0", total == 0))  # fmt: skip
    return checks


SECTIONS = {
    "baseline": baseline_section,
    "spikes": spikes_section,
    "level_shift": level_shift_section,
    "forecast": forecast_section,
    "waste": waste_section,
    "false_alerts": false_alerts_section,
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=6, help="factories per case")
    parser.add_argument("--only", nargs="*", choices=sorted(SECTIONS), help="sections to run")
    args = parser.parse_args(argv)
    failed = 0
    for name in args.only or SECTIONS:
        began = time.perf_counter()
        checks = SECTIONS[name](args.seeds)
        print(f"\n== {name} ({time.perf_counter() - began:.1f} s)")
        for check in checks:
            verdict = "" if check.passed is None else "PASS" if check.passed else "FAIL"
            print(f"  {verdict:4}  {check.name:<60} {check.figure:>18}   target {check.target}")
            failed += check.passed is False
    print(f"\n{'all targets met' if not failed else f'{failed} target(s) missed'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
