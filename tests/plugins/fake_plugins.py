"""Small plugins for the registry and runner tests, loaded through ``EntryPoint`` objects."""

from importlib.metadata import EntryPoint

from cei.plugins.base import PluginResult
from cei.plugins.registry import ENTRY_POINT_GROUP


def entry(name, target):
    """An entry point of the ``cei.analytics`` group pointing into this module (or elsewhere)."""
    value = target if ":" in target else f"{__name__}:{target}"
    return EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP)


class Source:
    """source: returns its parameters and the length of the series it saw."""

    name = "source"
    version = "1.2.3"
    default_params = {"factor": 2, "label": "default"}

    def run(self, context):
        return PluginResult(
            data={
                "params": dict(context.params),
                "hours": len(context.series),
                "results": sorted(context.results),
            }
        )


class Doubler:
    """doubler: needs source; doubles its factor."""

    name = "doubler"
    version = "1"
    requires = ("source",)

    def run(self, context):
        factor = context.results["source"].data["params"]["factor"]
        return PluginResult(data={"value": factor * 2, "results": sorted(context.results)})


class Boom:
    """boom: always raises."""

    name = "boom"
    version = "1"

    def run(self, context):
        raise RuntimeError("the boom plugin exploded")


class NeedsBoom:
    """needs_boom: requires boom, so it is skipped when boom fails."""

    name = "needs_boom"
    version = "1"
    requires = ("boom",)

    def run(self, context):
        return PluginResult(data={"ran": True})


class NotAResult:
    """not_a_result: returns a dict instead of a PluginResult."""

    name = "not_a_result"
    version = "1"

    def run(self, context):
        return {"oops": True}


class Mutator:
    """mutator: overwrites the series it was given."""

    name = "mutator"
    version = "1"

    def run(self, context):
        context.series.iloc[:] = -1.0
        return PluginResult()


class Reader:
    """reader: requires mutator; reports the sum of the series it sees."""

    name = "reader"
    version = "1"
    requires = ("mutator",)

    def run(self, context):
        return PluginResult(data={"total": float(context.series.sum())})


class WrongName:
    name = "something_else"
    version = "1"

    def run(self, context):
        return PluginResult()


class NoRun:
    name = "no_run"
    version = "1"


class NoVersion:
    name = "no_version"
    version = ""

    def run(self, context):
        return PluginResult()


class NeedsGhost:
    name = "needs_ghost"
    version = "1"
    requires = ("ghost",)

    def run(self, context):
        return PluginResult()


class CycleA:
    name = "cycle_a"
    version = "1"
    requires = ("cycle_b",)

    def run(self, context):
        return PluginResult()


class CycleB:
    name = "cycle_b"
    version = "1"
    requires = ("cycle_a",)

    def run(self, context):
        return PluginResult()


class BrokenConstructor:
    name = "broken_constructor"
    version = "1"

    def __init__(self):
        raise ValueError("cannot start")

    def run(self, context):
        return PluginResult()


class FlatBaseline:
    """baseline (stand-in): expects ``level`` kWh every hour."""

    name = "baseline"
    version = "test"
    default_params = {"level": 100.0, "state": "ready"}

    def run(self, context):
        expected = context.series * 0.0 + context.params["level"]
        return PluginResult(data={"state": context.params["state"], "expected": expected})
