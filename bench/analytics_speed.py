"""Analytics speed, part one: one site with one year of hourly data through the plugins.

Generates a synthetic factory (``cei.synthetic``: 365 days of hourly kWh with spikes, a level
shift, gaps and DST changes), then runs every installed plugin on it in dependency order (the
registry and runner an analysis uses: baseline, forecast, spikes, waste, deviation, gaps), with no
app and no database, ``--repeat`` times. Prints the median and worst wall time of the whole
chain (and of each plugin) and the process's peak resident memory (VmHWM from /proc, with the
growth over what the interpreter held after importing pandas).

Targets (issue 9): the chain < 1 s and < 300 MB.

    .venv/bin/python bench/analytics_speed.py [--days 365] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cei.plugins.base import AnalysisContext  # noqa: E402
from cei.plugins.registry import load_registry, run_plugins  # noqa: E402
from cei.synthetic import make_factory  # noqa: E402

TIME_TARGET_S = 1.0
MEMORY_TARGET_MB = 300


def peak_rss_mb() -> float:
    """Return the process's peak resident set size (VmHWM) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_chain(series: pd.Series, timezone: str, registry) -> dict[str, float]:
    """Run every installed plugin in dependency order (as an analysis does) on ``series``;
    return each one's wall time in seconds."""
    now = series.index[-1] + pd.Timedelta(hours=1)
    context = AnalysisContext(site_id="bench", timezone=timezone, now=now, series=series)
    outcomes = run_plugins(registry, context)
    failed = [name for name, outcome in outcomes.items() if outcome.status != "ok"]
    if failed:
        raise SystemExit(f"plugins did not run: {failed}")
    return {name: outcome.duration_ms / 1000 for name, outcome in outcomes.items()}


def part_one(days: int, repeat: int) -> bool:
    """One site, ``days`` of hourly data: print the chain's time and memory; True if on target."""
    before = peak_rss_mb()
    series, truth = make_factory(
        days=days,
        spikes=6,
        night_waste_kw=30,
        level_shift_start=pd.Timestamp("2026-11-23") - pd.Timedelta(days=9),
        gaps=10,
        seed=1,
    )
    registry = load_registry()
    runs = [run_chain(series, truth.timezone, registry) for _ in range(repeat)]
    totals = [sum(run.values()) for run in runs]
    peak = peak_rss_mb()
    median, worst = statistics.median(totals), max(totals)
    print(f"one site, {len(series)} hours ({days} days), {repeat} runs")
    for name in runs[0]:
        print(f"  {name:<10} median {statistics.median(r[name] for r in runs) * 1000:8.1f} ms")
    time_ok = worst < TIME_TARGET_S
    memory_ok = peak < MEMORY_TARGET_MB
    print(
        f"  {'PASS' if time_ok else 'FAIL'}  chain: median {median * 1000:.1f} ms, "
        f"worst {worst * 1000:.1f} ms   target < {TIME_TARGET_S:g} s"
    )
    print(
        f"  {'PASS' if memory_ok else 'FAIL'}  peak RSS {peak:.0f} MB "
        f"(+{peak - before:.0f} MB over the interpreter with pandas loaded)   "
        f"target < {MEMORY_TARGET_MB} MB"
    )
    return time_ok and memory_ok


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    return 0 if part_one(args.days, args.repeat) else 1


if __name__ == "__main__":
    sys.exit(main())
