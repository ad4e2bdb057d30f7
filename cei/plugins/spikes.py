"""Spikes: single hours far above the baseline, and level shifts that persist.

Both work on the baseline's relative residuals, (actual − expected) / expected, the expectation
floored at the site's base level.

- A spike is one hour whose residual, less the local level of the residuals (a centred 25-hour
  rolling median, so a level shift is not read as a string of spikes), is at least
  ``spike_z`` robust spreads above it, while the hour before stays under half that and the
  median of the ``confirm_hours`` hours after is back within two spreads of the level before
  it (so a spike is reported once the next hours have been seen, and the first hour of a level
  shift is not taken for a spike). The spread is 1.4826 × the median absolute deviation over
  the last ``window_days`` days, never below ``min_spread`` (a share of the expectation), so a
  very steady meter does not turn small blips into alerts.
- A level shift is a change point in the residuals of the last ``window_days`` days (ruptures
  binary segmentation on an "l2" cost kept as running sums, a BIC-like penalty on residuals
  scaled by their hour-to-hour noise) after which the residuals stay at least
  ``shift_min_pct`` % away from the baseline for at least ``shift_min_hours`` hours, the step
  standing ``shift_min_z`` noise units out over its length; a drop that lies mostly on the
  schedule's holidays is not one. Two weeks of hours keep the search to milliseconds whatever
  the length of the history (bench/analytics_speed.py: spikes ≈ 12 ms on a year of hours).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import ruptures

from cei.plugins.base import AnalysisContext, Finding, Plugin, PluginResult
from cei.plugins.profile import HOUR, mad_spread, relative_residuals, site_hours

METHOD = (
    "Spikes: one hour ≥ {spike_z} robust spreads (MAD, at least {min_spread:.0%} of expected) "
    "above the 25-hour median of the residuals, the next {confirm_hours} hours back to the level "
    "before. Level shifts: ruptures binary segmentation (l2) on the last {window_days} days of "
    "residuals, kept when ≥ {shift_min_pct} % for ≥ {shift_min_hours} h."
)


class SpikesPlugin(Plugin):
    """Spikes: one-hour spikes and persistent level shifts against the baseline."""

    name = "spikes"
    version = "1.0"
    requires = ("baseline",)
    default_params = {
        "spike_z": 6.0,
        "confirm_hours": 3,
        "min_spread": 0.03,
        "lookback_days": 7,
        "window_days": 14,
        "shift_min_pct": 10.0,
        "shift_min_hours": 4,
        "shift_min_z": 5.0,  # step × √hours ÷ hour-to-hour noise
        "penalty": 3.0,  # × log(n), in units of the residuals' hour-to-hour variance
    }

    def run(self, context: AnalysisContext) -> PluginResult:
        """Return spike and level-shift findings over the recent days."""
        params = {**self.default_params, **context.params}
        series = site_hours(context.series, context.timezone)
        method = METHOD.format(**params)
        if len(series) == 0:
            return PluginResult(
                data={"spikes": 0, "level_shifts": 0, "window_start": None, "method": method}
            )
        expected = context.results["baseline"].data["expected"]
        expected = expected.set_axis(context.series.index.tz_convert(context.timezone))
        expected = expected[~expected.index.duplicated(keep="last")].reindex(series.index)

        window = series.index > series.index[-1] - pd.Timedelta(days=float(params["window_days"]))
        actual = series[window]
        base = expected[window]
        residual, _ = relative_residuals(actual.to_numpy(float), base.to_numpy(float))
        residual = pd.Series(residual, index=actual.index)

        spikes = find_spikes(actual, base, residual, params)
        shifts = find_level_shifts(actual, base, residual, params, context.schedule.holidays)
        data = {
            "spikes": len(spikes),
            "level_shifts": len(shifts),
            "window_start": actual.index[0].isoformat(),
            "method": method,
        }
        return PluginResult(data=data, findings=spikes + shifts)


class CumulativeL2(ruptures.base.BaseCost):
    """The "l2" cost (squared deviations from the segment mean) from running sums.

    Each segment's cost is O(1) instead of a pass over the segment. On two weeks of hours
    (336 values, one change): PELT with ruptures' "l2" 5.5 s, binary segmentation with it
    121 ms, binary segmentation with this cost 1.1 ms (bench/analytics_speed.py, spikes line:
    2.06 s with PELT before, about 12 ms now).
    """

    model = "l2_cumulative"
    min_size = 2

    def fit(self, signal):
        """Precompute running sums of the signal and of its square."""
        values = np.asarray(signal, dtype=float).reshape(-1)
        self.signal = values.reshape(-1, 1)  # read by the search's sanity checks
        self.sums = np.concatenate([[0.0], np.cumsum(values)]).tolist()
        self.squares = np.concatenate([[0.0], np.cumsum(values**2)]).tolist()
        return self

    def error(self, start, end):
        """Return the sum of squared deviations from the mean on ``[start, end)``."""
        total = self.sums[end] - self.sums[start]
        return self.squares[end] - self.squares[start] - total * total / (end - start)


def find_spikes(actual, expected, residual, params) -> list[Finding]:
    """Return a finding for each single-hour spike of the last ``lookback_days`` days."""
    local_level = residual.rolling(25, center=True, min_periods=5).median()
    detrended = (residual - local_level).to_numpy()
    spread = max(mad_spread(detrended), float(params["min_spread"]))
    z = np.nan_to_num(detrended / spread, nan=0.0)
    threshold = float(params["spike_z"])
    high = z >= threshold
    # Single hour: the hour before is ordinary (under half the threshold), and the median of
    # the next ``confirm_hours`` hours is back within two spreads of the level before the
    # spike; otherwise it is the first hour of a level shift. The newest hours wait for them.
    ordinary = z < threshold / 2
    single = high & np.concatenate([[True], ordinary[:-1]])
    confirm = int(params["confirm_hours"])
    before = residual.shift(1).rolling(12, min_periods=3).median().fillna(local_level)
    after = residual[::-1].rolling(confirm, min_periods=1).median()[::-1].shift(-1)
    settled = ((after - before) / spread < 2.0) | after.isna()
    settled &= np.arange(len(z)) < len(z) - confirm  # the hours after must have been seen
    single &= settled.to_numpy()
    since = actual.index[-1] - pd.Timedelta(days=float(params["lookback_days"]))
    single &= np.asarray(actual.index > since)

    findings = []
    for i in np.flatnonzero(single):
        start = actual.index[i]
        excess = float(actual.iloc[i] - expected.iloc[i])
        if excess <= 0:
            continue
        ratio = excess / expected.iloc[i] if expected.iloc[i] > 0 else math.inf
        findings.append(
            Finding(
                kind="spike",
                severity="critical" if ratio >= 1.0 else "warning",
                key=f"spike:{start.tz_convert('UTC'):%Y-%m-%dT%H:%MZ}",
                period_start=start,
                period_end=start + HOUR,
                message=(
                    f"Spike at {start:%Y-%m-%d %H:%M %Z}: {actual.iloc[i]:.1f} kWh against "
                    f"{expected.iloc[i]:.1f} kWh expected (+{excess:.1f} kWh)."
                ),
                kwh_impact=round(excess, 3),
                details={
                    "actual_kwh": round(float(actual.iloc[i]), 3),
                    "expected_kwh": round(float(expected.iloc[i]), 3),
                    "z": round(float(z[i]), 2),
                    "spread": round(spread, 4),
                },
            )
        )
    return findings


def find_level_shifts(actual, expected, residual, params, holidays=()) -> list[Finding]:
    """Return a finding for each persistent level shift in the residuals of the window.

    A drop that lies mostly on the schedule's holidays is the holiday itself, not a finding.
    """
    valid = residual.dropna()
    min_hours = int(params["shift_min_hours"])
    if len(valid) < 2 * min_hours:
        return []
    values = valid.to_numpy()
    noise = max(mad_spread(np.diff(values)) / math.sqrt(2), float(params["min_spread"]))
    centre = float(np.median(values))
    # Clip single-hour extremes so a spike cannot pose as a short segment.
    scaled = np.clip(values, centre - 4 * noise, centre + 4 * noise) / noise
    penalty = float(params["penalty"]) * math.log(len(scaled))
    cost = CumulativeL2()
    # Segments as short as two hours place a fresh change point at its hour (a longer minimum
    # would pull it back); only segments of at least ``min_hours`` become findings.
    search = ruptures.Binseg(custom_cost=cost, min_size=2, jump=1).fit(scaled)
    bounds = [0, *search.predict(pen=penalty)]

    threshold = float(params["shift_min_pct"]) / 100.0
    findings = []
    for left, start, stop in zip(bounds[:-2], bounds[1:-1], bounds[2:], strict=True):
        level = float(np.mean(values[start:stop]))
        before = float(np.mean(values[left:start]))
        if abs(level) < threshold or abs(level - before) < threshold or stop - start < min_hours:
            continue
        # The step must also stand out of the noise for its length (a few noisy hours do not).
        if abs(level - before) * math.sqrt(stop - start) / noise < float(params["shift_min_z"]):
            continue
        first = valid.index[start]
        ongoing = bool(stop == len(values))
        end = actual.index[-1] + HOUR if ongoing else valid.index[stop - 1] + HOUR
        period = (actual.index >= first) & (actual.index < end)
        excess = float(np.nansum(actual[period].to_numpy() - expected[period].to_numpy()))
        direction = "up" if level > 0 else "down"
        if direction == "down" and holidays:
            days = np.asarray(actual.index[period].tz_localize(None).normalize().date, dtype=object)
            if np.isin(days, np.asarray(holidays, dtype=object)).mean() >= 0.5:
                continue
        severity = "info" if direction == "down" else "critical" if level >= 0.3 else "warning"
        findings.append(
            Finding(
                kind="level_shift",
                severity=severity,
                key=f"level_shift:{direction}:{first.tz_convert('UTC'):%Y-%m-%d}",
                period_start=first,
                period_end=end,
                message=(
                    f"Consumption {'above' if level > 0 else 'below'} the baseline by "
                    f"{abs(level):.0%} since {first:%Y-%m-%d %H:%M %Z} ({excess:+.1f} kWh so far)."
                    if ongoing
                    else f"Consumption {'above' if level > 0 else 'below'} the baseline by "
                    f"{abs(level):.0%} from {first:%Y-%m-%d %H:%M %Z} to {end:%Y-%m-%d %H:%M %Z} "
                    f"({excess:+.1f} kWh)."
                ),
                kwh_impact=round(excess, 3),
                details={
                    "shift_pct": round(level * 100, 1),
                    "previous_pct": round(before * 100, 1),
                    "ongoing": ongoing,
                    "hours": int(period.sum()),
                },
            )
        )
    return findings
