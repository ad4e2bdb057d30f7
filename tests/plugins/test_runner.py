"""Running plugins: dependency order, parameters, results of requirements, isolated failures."""

import pandas as pd

from cei.plugins.base import AnalysisContext
from cei.plugins.registry import load_registry, run_plugins
from tests.plugins.fake_plugins import entry


def context(hours=48):
    index = pd.date_range("2026-03-01", periods=hours, freq="h", tz="Europe/Rome")
    return AnalysisContext(
        site_id="s",
        timezone="Europe/Rome",
        now=index[-1] + pd.Timedelta("1h"),
        series=pd.Series(1.0, index=index),
    )


def test_requirements_results_and_params_reach_each_plugin():
    registry = load_registry(
        params={"source": {"factor": 7}},
        entry_points=[entry("doubler", "Doubler"), entry("source", "Source")],
    )
    outcomes = run_plugins(registry, context(), overrides={"source": {"label": "org-a"}})
    assert list(outcomes) == ["source", "doubler"]
    source, doubler = outcomes["source"], outcomes["doubler"]
    assert (source.status, doubler.status) == ("ok", "ok")
    assert source.result.data == {
        "params": {"factor": 7, "label": "org-a"},
        "hours": 48,
        "results": [],
    }
    assert doubler.result.data == {"value": 14, "results": ["source"]}
    assert source.version == "1.2.3" and source.duration_ms >= 0 and source.error is None


def test_a_failing_plugin_is_recorded_and_the_others_still_run():
    points = [
        entry("boom", "Boom"),
        entry("needs_boom", "NeedsBoom"),
        entry("source", "Source"),
        entry("doubler", "Doubler"),
        entry("not_a_result", "NotAResult"),
    ]
    outcomes = run_plugins(load_registry(entry_points=points), context())
    assert outcomes["boom"].status == "failed"
    assert outcomes["boom"].error == "RuntimeError: the boom plugin exploded"
    assert outcomes["boom"].result is None
    assert outcomes["needs_boom"].status == "skipped"
    assert outcomes["needs_boom"].error == "requires 'boom', which failed"
    assert outcomes["not_a_result"].status == "failed"
    assert "returned dict, not PluginResult" in outcomes["not_a_result"].error
    assert outcomes["source"].status == outcomes["doubler"].status == "ok"


def test_a_bad_override_fails_only_that_plugin():
    registry = load_registry(entry_points=[entry("source", "Source"), entry("boom", "Boom")])
    outcomes = run_plugins(registry, context(), overrides={"source": {"factr": 1}})
    assert outcomes["source"].status == "failed"
    assert "unknown parameter(s) for plugin 'source': ['factr']" in outcomes["source"].error


def test_a_plugin_cannot_change_the_series_the_next_one_sees():
    registry = load_registry(entry_points=[entry("mutator", "Mutator"), entry("reader", "Reader")])
    base = context(hours=10)
    outcomes = run_plugins(registry, base)
    assert outcomes["reader"].result.data["total"] == 10.0
    assert float(base.series.sum()) == 10.0


def test_only_enabled_plugins_run():
    points = [entry("source", "Source"), entry("doubler", "Doubler"), entry("boom", "Boom")]
    outcomes = run_plugins(load_registry(enabled="source,doubler", entry_points=points), context())
    assert set(outcomes) == {"source", "doubler"}
