"""Tiny plugins with known answers, registered by the tests instead of the built-ins.

They follow ``cei.plugins.base`` like any plugin: the analytics services cannot tell them
from the real ones, so the tests check the services' arithmetic and bookkeeping against
figures fixed here.
"""

import pandas as pd

from cei.plugins.base import Finding, Opportunity, Plugin, PluginResult

LEVEL = 8.0  # expected kWh per hour
SPIKE_THRESHOLD = 30.0


class FlatBaseline(Plugin):
    """Expects ``level`` kWh every hour."""

    name = "baseline"
    version = "1.0"
    default_params = {"level": LEVEL}

    def run(self, context):
        expected = pd.Series(float(context.params["level"]), index=context.series.index)
        return PluginResult(
            data={
                "expected": expected,
                "state": "ready",
                "quality": {"cv_rmse_pct": 5.0, "nmbe_pct": 0.5, "ashrae14_pass": True},
            }
        )


class FlatForecast(Plugin):
    """Forecasts the baseline's level for the next 168 hours, ±1 kWh."""

    name = "forecast"
    version = "1.0"
    requires = ("baseline",)

    def run(self, context):
        level = float(context.results["baseline"].data["expected"].iloc[-1])
        start = context.series.index[-1] + pd.Timedelta(hours=1)
        index = pd.date_range(start, periods=168, freq="h")
        frame = pd.DataFrame({"expected": level, "lower": level - 1, "upper": level + 1}, index)
        return PluginResult(data={"forecast": frame, "method": "flat-test-profile"})


class SpikeFinder(Plugin):
    """One finding per hour above ``threshold`` kWh; one per meter silent for 3 intervals."""

    name = "finder"
    version = "1.0"
    requires = ("baseline",)
    default_params = {"threshold": SPIKE_THRESHOLD}

    def run(self, context):
        expected = context.results["baseline"].data["expected"]
        findings = []
        for moment, value in context.series.items():
            if value > context.params["threshold"]:
                findings.append(
                    Finding(
                        kind="spike",
                        severity="warning",
                        key=f"spike:{moment.isoformat()}",
                        period_start=moment,
                        period_end=moment + pd.Timedelta(hours=1),
                        message=f"{value:.1f} kWh at {moment}",
                        kwh_impact=float(value - expected[moment]),
                        details={"actual_kwh": value, "at": moment},
                    )
                )
        for meter in context.meters:
            interval = pd.Timedelta(minutes=meter.interval_minutes)
            if meter.last_seen is not None and context.now - meter.last_seen > 3 * interval:
                findings.append(
                    Finding(
                        kind="meter_silent",
                        severity="critical",
                        key=f"meter_silent:{meter.meter_id}:{meter.last_seen.isoformat()}",
                        period_start=meter.last_seen + interval,
                        period_end=context.now.floor("h"),
                        message=f"{meter.meter_id} silent since {meter.last_seen}",
                        meter_id=meter.meter_id,
                    )
                )
        return PluginResult(data={"checked_hours": len(context.series)}, findings=findings)


class NightSaver(Plugin):
    """A fixed opportunity: 70 kWh a week, 3,640 a year."""

    name = "saver"
    version = "1.0"

    def run(self, context):
        return PluginResult(
            data={"threshold_seen": context.params.get("warning_pct")},
            opportunities=[
                Opportunity(
                    kind="night_waste",
                    title="Switch off the compressors at night",
                    kwh_per_week=70.0,
                    kwh_per_year=3640.0,
                    method="test: fixed figures",
                )
            ],
        )


class Exploding(Plugin):
    """Always fails."""

    name = "exploding"
    version = "0.1"

    def run(self, context):
        raise RuntimeError("boom")


class NeedsExploding(Plugin):
    """Requires a plugin that fails, so it is skipped."""

    name = "dependent"
    version = "0.1"
    requires = ("exploding",)

    def run(self, context):  # pragma: no cover - never reached
        return PluginResult()


class Deviation(Plugin):
    """Reports the thresholds it was given (per-organization overrides reach plugins)."""

    name = "deviation"
    version = "0.1"
    default_params = {"warning_pct": 10.0, "critical_pct": 30.0}

    def run(self, context):
        return PluginResult(data=dict(context.params))


STANDARD = (FlatBaseline(), FlatForecast(), SpikeFinder(), NightSaver())


class FixedDeviation(Plugin):
    """Reports fixed comparisons, the shape the built-in ``deviation`` plugin gives."""

    name = "deviation"
    version = "0.2"
    requires = ("baseline",)
    default_params = {"warning_pct": 10.0, "critical_pct": 30.0}  # as the built-in's

    def run(self, context):
        return PluginResult(
            data={
                "last_24h": {"actual_kwh": 240.0, "expected_kwh": 200.0, "deviation_pct": 20.0},
                "last_7d": {"actual_kwh": 1680.0, "expected_kwh": None, "deviation_pct": None},
            }
        )


class ForecastWithTotals(FlatForecast):
    """The flat forecast plus the totals the built-in one reports."""

    def run(self, context):
        result = super().run(context)
        result.data["next_24h_kwh"] = 24 * LEVEL
        return result
