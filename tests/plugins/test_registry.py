"""Loading plugins: checks, every problem reported at once, run order, configuration."""

import pytest

from cei.plugins.registry import PluginLoadError, discover, load_registry, parse_enabled
from tests.plugins.fake_plugins import entry

BUILT_INS = {"baseline", "forecast", "spikes", "waste", "deviation", "gaps"}


def problems_by_plugin(error):
    found = {}
    for problem in error.problems:
        found.setdefault(problem.plugin, []).append(problem.message)
    return found


def test_built_ins_register_through_the_entry_point_group():
    points = {point.name: point.value for point in discover()}
    assert BUILT_INS <= set(points)
    assert points["waste"] == "cei.plugins.waste:WastePlugin"
    assert points["deviation"] == "cei.plugins.deviation:DeviationPlugin"
    assert points["gaps"] == "cei.plugins.gaps:GapsPlugin"
    registry = load_registry()
    assert BUILT_INS <= set(registry.order)
    assert registry.order.index("baseline") < registry.order.index("deviation")
    assert registry.specs["deviation"].requires == ("baseline",)
    assert registry.specs["waste"].distribution == "cei"


def test_every_problem_is_reported_at_once():
    points = [
        entry("source", "Source"),
        entry("bad_name", "WrongName"),
        entry("no_run", "NoRun"),
        entry("no_version", "NoVersion"),
        entry("needs_ghost", "NeedsGhost"),
        entry("cycle_a", "CycleA"),
        entry("cycle_b", "CycleB"),
        entry("missing_module", "tests.plugins.no_such_module:Plugin"),
        entry("missing_class", "NoSuchClass"),
        entry("broken_constructor", "BrokenConstructor"),
    ]
    with pytest.raises(PluginLoadError) as caught:
        load_registry(entry_points=points)
    found = problems_by_plugin(caught.value)
    assert set(found) == {
        "bad_name", "no_run", "no_version", "needs_ghost", "cycle_a", "missing_module",
        "missing_class", "broken_constructor",
    }  # fmt: skip
    assert "does not match the plugin's name 'something_else'" in found["bad_name"][0]
    assert "run(context)" in found["no_run"][0]
    assert "version" in found["no_version"][0]
    assert "requires 'ghost', which is not installed" in found["needs_ghost"][0]
    assert "cycle_a -> cycle_b -> cycle_a" in found["cycle_a"][0]
    assert "ModuleNotFoundError" in found["missing_module"][0]
    assert "AttributeError" in found["missing_class"][0]
    assert "cannot start" in found["broken_constructor"][0]
    message = str(caught.value)
    assert message.startswith(f"{len(caught.value.problems)} analytics plugin problem(s)")
    for name in found:
        assert f"- {name}: " in message


def test_a_disabled_broken_plugin_does_not_stop_loading():
    points = [entry("source", "Source"), entry("no_run", "NoRun")]
    registry = load_registry(enabled="source", entry_points=points)
    assert registry.order == ("source",)
    assert [problem.plugin for problem in registry.ignored] == ["no_run"]
    with pytest.raises(PluginLoadError):
        load_registry(enabled="all", entry_points=points)


def test_an_enabled_plugin_needs_its_requirements_enabled():
    points = [entry("source", "Source"), entry("doubler", "Doubler")]
    with pytest.raises(PluginLoadError) as caught:
        load_registry(enabled="doubler", entry_points=points)
    assert problems_by_plugin(caught.value) == {"doubler": ["requires 'source', which is disabled"]}


def test_configuration_naming_unknown_plugins_or_parameters_is_a_problem():
    points = [entry("source", "Source"), entry("doubler", "Doubler")]
    with pytest.raises(PluginLoadError) as caught:
        load_registry(
            enabled="source,ghost",
            params={"source": {"factr": 3}, "phantom": {"x": 1}, "doubler": {"any": 1}},
            entry_points=points,
        )
    found = problems_by_plugin(caught.value)
    assert found["ghost"] == ["enabled in configuration but not installed"]
    assert found["phantom"] == ["has parameters in configuration but is not installed"]
    assert found["source"] == ["unknown parameter(s) in configuration: ['factr']"]
    # doubler is disabled: its bad parameters do not stop start-up
    assert "doubler" not in found


def test_the_same_name_registered_twice_is_a_problem():
    points = [entry("source", "Source"), entry("source", "Doubler")]
    with pytest.raises(PluginLoadError) as caught:
        load_registry(entry_points=points)
    assert "registered more than once" in str(caught.value)
    # the very same entry seen twice (a distribution on sys.path twice) is one plugin
    assert load_registry(entry_points=[entry("source", "Source")] * 2).order == ("source",)


def test_run_order_puts_requirements_first_and_is_repeatable():
    points = [
        entry("doubler", "Doubler"),
        entry("boom", "Boom"),
        entry("source", "Source"),
        entry("needs_boom", "NeedsBoom"),
    ]
    first = load_registry(entry_points=points).order
    again = load_registry(entry_points=list(reversed(points))).order
    assert first == again == ("boom", "source", "doubler", "needs_boom")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("all", None),
        ("", None),
        (None, None),
        (" all ", None),
        ("waste, gaps", {"waste", "gaps"}),
        (["baseline", "deviation"], {"baseline", "deviation"}),
    ],
)
def test_parse_enabled(value, expected):
    assert parse_enabled(value) == expected


def test_params_merge_defaults_configuration_and_overrides():
    registry = load_registry(
        params={"source": {"factor": 5}}, entry_points=[entry("source", "Source")]
    )
    assert registry.params_for("source") == {"factor": 5, "label": "default"}
    assert registry.params_for("source", {"label": "org"}) == {"factor": 5, "label": "org"}
    with pytest.raises(ValueError, match="unknown parameter"):
        registry.params_for("source", {"nope": 1})
