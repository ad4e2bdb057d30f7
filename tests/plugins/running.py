"""Run the time-series plugins on a series the way the analysis service does, in order."""

import pandas as pd

from cei.plugins.base import AnalysisContext
from cei.plugins.baseline import BaselinePlugin
from cei.plugins.forecast import ForecastPlugin
from cei.plugins.spikes import SpikesPlugin

PLUGINS = {"baseline": BaselinePlugin, "forecast": ForecastPlugin, "spikes": SpikesPlugin}


def analyse(series, timezone, names=("baseline", "forecast", "spikes"), params=None, now=None):
    """Return {name: PluginResult} for ``names`` run on ``series`` (each with its params)."""
    if now is None:
        now = series.index[-1] + pd.Timedelta(hours=1)
    results = {}
    for name in names:
        plugin = PLUGINS[name]()
        required = {need: results[need] for need in plugin.requires}
        context = AnalysisContext(
            site_id="site-1",
            timezone=timezone,
            now=now,
            series=series,
            params=(params or {}).get(name, {}),
            results=required,
        )
        results[name] = plugin.run(context)
    return results


def until(series, moment):
    """Return the part of ``series`` before ``moment`` (what an analysis then would see)."""
    return series[series.index < moment]
