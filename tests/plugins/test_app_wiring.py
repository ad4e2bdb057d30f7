"""The app loads the plugins at start-up; ``cei plugins`` lists them."""

import pytest

from cei.plugins.registry import PluginLoadError

BUILT_INS = ("baseline", "deviation", "forecast", "gaps", "spikes", "waste")


def test_the_app_keeps_the_loaded_registry(make_app):
    registry = make_app().extensions["cei.analytics"]
    assert set(BUILT_INS) <= set(registry.order)


def test_the_environment_chooses_the_plugins_and_their_parameters(make_app, monkeypatch):
    monkeypatch.setenv("CEI_ANALYTICS_ENABLED", "baseline, deviation")
    monkeypatch.setenv("CEI_ANALYTICS_PARAMS", '{"deviation": {"warning_pct": 15}}')
    registry = make_app().extensions["cei.analytics"]
    assert registry.order == ("baseline", "deviation")
    assert registry.params_for("deviation")["warning_pct"] == 15
    assert registry.params_for("deviation")["critical_pct"] == 30.0


def test_start_up_fails_listing_every_configuration_problem(make_app):
    with pytest.raises(PluginLoadError) as caught:
        make_app(
            ANALYTICS_ENABLED="waste,deviation,nosuch", ANALYTICS_PARAMS={"waste": {"bogus": 1}}
        )
    found = {(problem.plugin, problem.message) for problem in caught.value.problems}
    assert found == {
        ("nosuch", "enabled in configuration but not installed"),
        ("waste", "unknown parameter(s) in configuration: ['bogus']"),
        ("deviation", "requires 'baseline', which is disabled"),
    }


def test_cli_lists_plugins_with_versions_requires_and_state(make_app):
    app = make_app(ANALYTICS_ENABLED="baseline,deviation,gaps")
    result = app.test_cli_runner().invoke(args=["plugins"])
    assert result.exit_code == 0, result.output
    rows = {
        line.split()[0]: line.split()
        for line in result.output.splitlines()[1:]
        if line.split() and line.split()[0] in BUILT_INS
    }
    assert set(rows) == set(BUILT_INS)
    assert rows["deviation"][:4] == ["deviation", "1.0.0", "baseline", "enabled"]
    assert rows["gaps"][:4] == ["gaps", "1.0.0", "-", "enabled"]
    assert rows["waste"][:4] == ["waste", "1.0.0", "-", "disabled"]
    assert rows["waste"][4] == "cei.plugins.waste:WastePlugin"
    assert "run order: baseline, gaps, deviation" in result.output
