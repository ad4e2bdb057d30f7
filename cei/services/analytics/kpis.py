"""Key figures of a site: the last 24 h and 7 d against the baseline, in kWh, money and CO2e.

Windows end with the last site-local hour that has ended. Actual is the sum of the hours that
have data; the baseline over a window sums the expected kWh of those same hours, so a gap
does not count as a saving. Coverage says how many of the window's hours had data.

When the ``deviation`` plugin ran, its figures (expected kWh and deviation % of the last 24 h
and 7 d, with its coverage rule) are the KPIs' baseline and deviation, so a deviation alert
and the KPI card never disagree; without it they are computed here the same way.
"""

from __future__ import annotations

import numpy as np

from cei.services.analytics.factors import priced
from cei.services.analytics.shapes import epoch_seconds, number

HOUR = 3600
WINDOWS = {"24h": 24, "7d": 168}


def _window(stamps, end_ts, hours, offset_hours=0):
    stop = end_ts - offset_hours * HOUR
    return (stamps >= stop - hours * HOUR) & (stamps < stop)


def deviation_pct(actual, expected):
    """Return (actual - expected) / expected in %, or None without a positive expectation."""
    if actual is None or expected is None or expected <= 0:
        return None
    return round((actual - expected) / expected * 100.0, 2)


def _plugin_figures(deviation, label):
    """Return ``(expected kWh, deviation %)`` the deviation plugin found for a window, or None."""
    figures = deviation.get(f"last_{label}") if isinstance(deviation, dict) else None
    if not isinstance(figures, dict) or "expected_kwh" not in figures:
        return None
    return number(figures.get("expected_kwh")), number(figures.get("deviation_pct"), 2)


def compute_kpis(series, expected, end_ts, factors, quality, deviation=None):
    """Return the KPI dict of a site (JSON-able)."""
    stamps = epoch_seconds(series.index)
    actual = series.to_numpy(dtype=float)
    has_data = ~np.isnan(actual)
    baseline = None
    if expected is not None:
        baseline = (
            expected.tz_convert("UTC")
            .reindex(series.index.tz_convert("UTC"))
            .to_numpy(dtype=float, na_value=np.nan)
        )
    kpis = {"currency": factors.currency, "period_end": int(end_ts)}
    for label, hours in WINDOWS.items():
        inside = _window(stamps, end_ts, hours)
        present = inside & has_data
        last = float(actual[present].sum()) if present.any() else None
        base = None
        if baseline is not None:
            usable = present & ~np.isnan(baseline)
            # Only a baseline for (almost) every hour with data is a fair comparison.
            if usable.any() and usable.sum() >= 0.9 * present.sum():
                base = float(baseline[usable].sum())
                last_matched = float(actual[usable].sum())
            else:
                last_matched = None
        pct = deviation_pct(last_matched, base) if base is not None else None
        from_plugin = _plugin_figures(deviation, label)
        if from_plugin is not None:
            base, pct = from_plugin
        kpis.update(priced(f"last_{label}", last, factors))
        kpis.update(priced(f"baseline_{label}", base, factors))
        kpis[f"deviation_pct_{label}"] = pct
        kpis[f"coverage_{label}_pct"] = number(100.0 * present.sum() / hours, 1)
    previous = _window(stamps, end_ts, WINDOWS["7d"], offset_hours=WINDOWS["7d"]) & has_data
    prev = float(actual[previous].sum()) if previous.any() else None
    kpis.update(priced("prev_7d", prev, factors))
    kpis["change_pct_7d_vs_prev"] = deviation_pct(kpis["last_7d_kwh"], prev)
    kpis["baseline_quality"] = quality
    kpis["emission_factor_kg_per_kwh"] = factors.emission_factor
    kpis["tariff_per_kwh"] = factors.tariff
    return kpis
