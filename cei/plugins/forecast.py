"""Forecast: the next 24 hours and 7 days, hour by hour, with an interval.

The point forecast is the baseline's time-of-week profile for the hours ahead, scaled by the
site's recent level: the ratio of actual to expected kWh over the last days (exponentially
weighted, so yesterday counts most), fading back toward the profile the further ahead the hour.
The interval comes from the baseline's own errors: empirical quantiles of its relative residuals
per site-local hour of day over the trailing weeks, placed around the point forecast.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cei.plugins.base import AnalysisContext, Plugin, PluginResult
from cei.plugins.profile import mad_spread, relative_residuals, site_hours

FALLBACK_SPREAD = 0.25  # ± share of the forecast when there are too few residuals to measure
MIN_RESIDUALS_PER_HOUR = 14

METHOD = (
    "Baseline time-of-week profile × recent level (actual ÷ expected kWh over the last "
    "{level_days} days, exponentially weighted with a {half_life} h half-life), the level "
    "fading toward the profile by {fade} % per day ahead. Interval: the {low:g}–{high:g} % "
    "empirical quantiles of the baseline's relative errors for the same local hour of day over "
    "the last {weeks} weeks."
)


class ForecastPlugin(Plugin):
    """Forecast: expected kWh for the next 24 h and 7 d, with lower and upper bounds."""

    name = "forecast"
    version = "1.0"
    requires = ("baseline",)
    default_params = {
        "hours": 168,
        "level_days": 7,
        "level_half_life_hours": 36,
        "level_persistence": 0.9,  # share of the level departure kept per day ahead
        "interval": 0.9,
        "weeks": 8,
    }

    def run(self, context: AnalysisContext) -> PluginResult:
        """Return the hourly forecast and its 24-hour and 7-day totals."""
        params = {**self.default_params, **context.params}
        baseline = context.results["baseline"].data
        ahead = baseline["expected_ahead"].iloc[: int(params["hours"])]
        series = site_hours(context.series, context.timezone)
        expected = baseline["expected"].set_axis(context.series.index.tz_convert(context.timezone))
        expected = expected[~expected.index.duplicated(keep="last")].reindex(series.index)

        actual = series.to_numpy(float)
        base = expected.to_numpy(float)
        residual, floor = relative_residuals(actual, base)
        level = recent_level(series.index, actual, base, residual, floor, params)

        days_ahead = np.arange(1, len(ahead) + 1) / 24.0
        factor = 1.0 + (level - 1.0) * float(params["level_persistence"]) ** days_ahead
        point = ahead.to_numpy(float) * factor
        low, high = residual_bands(series.index, residual, ahead.index, params)
        scale = np.maximum(point, floor)
        hourly = pd.DataFrame(
            {
                "expected": point,
                "lower": np.maximum(point + low * scale, 0.0),
                "upper": point + high * scale,
            },
            index=ahead.index,
        )
        coverage = float(params["interval"])
        method = METHOD.format(
            level_days=params["level_days"],
            half_life=params["level_half_life_hours"],
            fade=round((1 - float(params["level_persistence"])) * 100),
            low=round((1 - coverage) / 2 * 100, 1),
            high=round((1 + coverage) / 2 * 100, 1),
            weeks=params["weeks"],
        )
        return PluginResult(
            data={
                "hourly": hourly,
                "next_24h_kwh": total(point[:24]),
                "next_7d_kwh": total(point[:168]),
                "level_factor": round(float(level), 4),
                "interval": coverage,
                "state": baseline.get("state", "ready"),
                "method": method,
            }
        )


def total(values: np.ndarray) -> float | None:
    """Return the sum of the finite values, or None when there is none (no data yet)."""
    finite = values[np.isfinite(values)]
    return float(finite.sum()) if finite.size else None


def recent_level(index, actual, expected, residual, floor, params) -> float:
    """Return actual ÷ expected kWh over the recent days, weighted toward the newest hours.

    Residuals are clipped at 4 robust spreads first, so a spike does not lift the level.
    """
    if len(index) == 0:
        return 1.0
    age = (index[-1] - index) / pd.Timedelta(hours=1)
    recent = np.asarray(age < float(params["level_days"]) * 24) & np.isfinite(residual)
    recent &= np.isfinite(expected)
    if recent.sum() < 12:
        return 1.0
    centre = float(np.median(residual[recent]))
    spread = max(mad_spread(residual[recent]), 0.01)
    clipped = np.clip(residual[recent], centre - 4 * spread, centre + 4 * spread)
    weight = 0.5 ** (np.asarray(age)[recent] / float(params["level_half_life_hours"]))
    scale = np.maximum(expected[recent], floor)
    denominator = float(np.sum(weight * expected[recent]))
    if denominator <= 0:
        return 1.0
    level = 1.0 + float(np.sum(weight * clipped * scale)) / denominator
    return float(np.clip(level, 0.5, 2.0))


def residual_bands(index, residual, ahead_index, params) -> tuple[np.ndarray, np.ndarray]:
    """Return the lower and upper relative offsets for each hour ahead.

    Offsets are quantiles of the relative residuals of the same local hour of day over the
    last ``weeks`` weeks, minus their median (the level adjustment already removes the bias).
    """
    coverage = float(params["interval"])
    q_low, q_high = (1 - coverage) / 2, (1 + coverage) / 2
    age = (index[-1] - index) / pd.Timedelta(hours=1) if len(index) else np.array([])
    window = np.asarray(age < float(params["weeks"]) * 168) & np.isfinite(residual)
    values = residual[window]
    hours = np.asarray(index.hour)[window]
    if values.size < MIN_RESIDUALS_PER_HOUR:
        low = np.full(len(ahead_index), -FALLBACK_SPREAD)
        return low, -low
    pooled = np.quantile(values, [q_low, 0.5, q_high])
    table = np.tile(pooled, (24, 1))
    for h in range(24):
        own = values[hours == h]
        if own.size >= MIN_RESIDUALS_PER_HOUR:
            table[h] = np.quantile(own, [q_low, 0.5, q_high])
    rows = table[np.asarray(ahead_index.hour)]
    return rows[:, 0] - rows[:, 1], rows[:, 2] - rows[:, 1]
