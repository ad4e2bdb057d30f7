"""PLACEHOLDER for the ``spikes`` plugin, written by another helper (H5) in parallel.

It exists only so that this branch loads every entry point of setup.cfg; at merge, H5's
module replaces this file entirely.
"""

from cei.plugins.base import AnalysisContext, PluginResult


class SpikesPlugin:
    """spikes: placeholder (replaced at merge)."""

    name = "spikes"
    version = "0.0.placeholder"
    requires: tuple[str, ...] = ("baseline",)
    default_params: dict = {}

    def run(self, context: AnalysisContext) -> PluginResult:
        """Return an empty result (the real plugin arrives at merge)."""
        return PluginResult(data={"state": "warming_up", "expected": None, "placeholder": True})
