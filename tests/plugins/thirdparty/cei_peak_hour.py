"""A third-party CEI analytics plugin: the hour with the most consumption in a recent window."""

import pandas as pd

from cei.plugins.base import Finding, PluginResult


class PeakHourPlugin:
    """peak_hour: the site-local hour that used the most kWh in the last ``window_hours``."""

    name = "peak_hour"
    version = "0.1.0"
    requires = ()
    default_params = {"window_hours": 24}

    def run(self, context):
        end = pd.Timestamp(context.now).tz_convert("UTC").floor("h")
        start = end - pd.Timedelta(hours=context.params["window_hours"])
        series = context.series.dropna()
        utc = series.index.tz_convert("UTC")
        recent = series[(utc >= start) & (utc < end)]
        if recent.empty:
            return PluginResult(data={"peak_hour": None})
        peak = recent.idxmax()
        return PluginResult(
            data={"peak_hour": peak.isoformat(), "peak_kwh": float(recent.max())},
            findings=[
                Finding(
                    kind="peak_hour",
                    severity="info",
                    key=f"peak_hour:{peak.date().isoformat()}",
                    period_start=peak,
                    period_end=peak + pd.Timedelta(hours=1),
                    message=f"Peak hour {peak:%H:%M}: {recent.max():.1f} kWh",
                )
            ],
        )
