"""Find, check and run the analytics plugins registered under the ``cei.analytics`` group.

Built-ins and third-party plugins register the same way: an entry point in the group
``cei.analytics`` whose name is the plugin's ``name`` and whose object is the plugin class (or
a ready instance). :func:`load_registry` loads every one, checks it and raises one
:class:`PluginLoadError` that lists every problem found; :func:`run_plugins` runs the enabled
plugins of a registry on one site in dependency order.

This module imports only the standard library and the plugin interface (no Flask), so a job,
the CLI and a test all use it alike.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from cei.plugins.base import SEVERITIES, AnalysisContext, Finding, Opportunity, PluginResult

ENTRY_POINT_GROUP = "cei.analytics"
OK, FAILED, SKIPPED = "ok", "failed", "skipped"

logger = logging.getLogger("cei.plugins")


@dataclass(frozen=True)
class PluginProblem:
    """One reason a plugin cannot be used."""

    plugin: str
    message: str

    def __str__(self) -> str:
        return f"{self.plugin}: {self.message}"


class PluginLoadError(Exception):
    """Loading found problems; ``problems`` lists every one of them."""

    def __init__(self, problems: Iterable[PluginProblem]):
        self.problems = list(problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"{len(self.problems)} analytics plugin problem(s):\n{lines}")


@dataclass(frozen=True)
class PluginSpec:
    """A loaded, checked plugin and what the registry knows about it."""

    name: str
    version: str
    requires: tuple[str, ...]
    default_params: Mapping[str, Any]
    enabled: bool
    source: str  # the entry point's value, e.g. "cei.plugins.waste:WastePlugin"
    distribution: str | None  # the installed package that registers it, when known
    plugin: Any  # the instance whose run() is called


@dataclass
class PluginRegistry:
    """The plugins found at start-up: ``specs`` by name, ``order`` = enabled ones, run order.

    ``ignored`` lists problems of plugins that are disabled by configuration: they do not
    stop start-up (disabling a broken plugin is a way out), and ``cei plugins`` shows them.
    """

    specs: dict[str, PluginSpec]
    order: tuple[str, ...]
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    ignored: tuple[PluginProblem, ...] = ()

    @property
    def enabled(self) -> list[PluginSpec]:
        """The enabled plugins in the order they run."""
        return [self.specs[name] for name in self.order]

    def params_for(self, name: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Return a plugin's parameters: its defaults, then configuration, then ``overrides``."""
        spec = self.specs[name]
        merged = {**spec.default_params, **self.params.get(name, {})}
        if overrides:
            unknown = _unknown_params(spec.default_params, overrides)
            if unknown:
                raise ValueError(f"unknown parameter(s) for plugin {name!r}: {unknown}")
            merged.update(overrides)
        return merged


@dataclass
class PluginOutcome:
    """How one plugin's run went: ``status`` is "ok", "failed" or "skipped"."""

    name: str
    version: str
    status: str
    result: PluginResult | None = None
    error: str | None = None  # why it failed or was skipped
    duration_ms: float = 0.0


def parse_enabled(value: Any) -> set[str] | None:
    """Read the enabled setting: "all" (or empty) -> None (= every plugin), else a name set.

    Accepts a comma-separated string (``CEI_ANALYTICS_ENABLED=baseline,waste``) or a list.
    """
    if value is None:
        return None
    if isinstance(value, str):
        names = [part.strip() for part in value.split(",")]
    else:
        names = [str(part).strip() for part in value]
    names = [name for name in names if name]
    if not names or names == ["all"]:
        return None
    return set(names)


def discover(group: str = ENTRY_POINT_GROUP) -> list[metadata.EntryPoint]:
    """Return the entry points of ``group`` of every installed distribution."""
    return [point for point, _ in _installed(group, tuple(sys.path))]


@functools.lru_cache(maxsize=8)
def _installed(group, path):
    """Scan the distributions on ``path`` once (≈ 40 ms; create_app runs this for each app):
    each entry point of ``group`` with the name of its distribution. A new sys.path (a folder
    a package was installed into) is a new scan."""
    return tuple(
        (point, getattr(point.dist, "name", None)) for point in metadata.entry_points(group=group)
    )


def _distribution(point):
    for known, name in _installed(point.group, tuple(sys.path)):
        if known == point and known.dist is point.dist:
            return name
    return getattr(getattr(point, "dist", None), "name", None)


def load_registry(
    enabled: Any = "all",
    params: Mapping[str, Mapping[str, Any]] | None = None,
    entry_points: Iterable[metadata.EntryPoint] | None = None,
) -> PluginRegistry:
    """Load, check and order the plugins; raise :class:`PluginLoadError` listing every problem.

    ``enabled``: "all" or names (see :func:`parse_enabled`); ``params``: plugin name ->
    parameters overriding the plugin's ``default_params``; ``entry_points``: what to load
    instead of the installed ``cei.analytics`` entry points (tests).
    """
    wanted = parse_enabled(enabled)
    params = {name: dict(values or {}) for name, values in (params or {}).items()}
    problems: list[PluginProblem] = []
    points = discover() if entry_points is None else list(entry_points)

    specs: dict[str, PluginSpec] = {}
    for name, point in _unique_by_name(points, problems).items():
        spec = _load_one(name, point, wanted, problems)
        if spec is not None:
            specs[name] = spec
    broken = {problem.plugin for problem in problems}
    known = set(specs) | broken

    # A name in the configuration that matches no plugin is a typo: always fatal.
    misnamed = [
        PluginProblem(name, "enabled in configuration but not installed")
        for name in sorted(wanted or ())
        if name not in known
    ] + [
        PluginProblem(name, "has parameters in configuration but is not installed")
        for name in sorted(params)
        if name not in known
    ]
    for name, values in sorted(params.items()):
        unknown = _unknown_params(specs[name].default_params, values) if name in specs else []
        if unknown:
            problems.append(
                PluginProblem(name, f"unknown parameter(s) in configuration: {unknown}")
            )
    for spec in specs.values():
        for required in spec.requires:
            if required not in known:
                problems.append(
                    PluginProblem(spec.name, f"requires {required!r}, which is not installed")
                )
            elif spec.enabled and not _is_enabled(required, wanted, specs):
                problems.append(
                    PluginProblem(spec.name, f"requires {required!r}, which is disabled")
                )
            elif required in broken:
                problems.append(
                    PluginProblem(spec.name, f"requires {required!r}, which cannot be loaded")
                )
    for cycle in _cycles(specs):
        problems.append(PluginProblem(cycle[0], "dependency cycle: " + " -> ".join(cycle)))

    fatal = misnamed + [p for p in problems if _is_enabled(p.plugin, wanted, specs)]
    if fatal:
        raise PluginLoadError(fatal)
    ignored = tuple(problem for problem in problems if problem not in fatal)
    usable = {name: spec for name, spec in specs.items() if name not in {p.plugin for p in ignored}}
    order = _run_order({name: spec for name, spec in usable.items() if spec.enabled})
    return PluginRegistry(specs=specs, order=order, params=params, ignored=ignored)


def run_plugins(
    registry: PluginRegistry,
    base_context: AnalysisContext,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, PluginOutcome]:
    """Run the enabled plugins on one site in dependency order; return outcomes by name.

    Each plugin gets a copy of ``base_context`` with its own ``params`` (defaults, then
    configuration, then ``overrides[name]``, e.g. an organization's thresholds), a copy of the
    series, and in ``results`` the results of the plugins it requires. A plugin that raises
    or returns something other than a :class:`PluginResult` is recorded as failed; the plugins
    that require it are skipped; the others still run.
    """
    overrides = overrides or {}
    outcomes: dict[str, PluginOutcome] = {}
    for spec in registry.enabled:
        outcome = PluginOutcome(name=spec.name, version=spec.version, status=SKIPPED)
        outcomes[spec.name] = outcome
        not_ok = [name for name in spec.requires if outcomes[name].status != OK]
        if not_ok:
            outcome.error = "; ".join(
                f"requires {name!r}, which {outcomes[name].status}" for name in not_ok
            )
            continue
        started = time.perf_counter()
        try:
            context = dataclasses.replace(
                base_context,
                series=base_context.series.copy(),
                params=registry.params_for(spec.name, overrides.get(spec.name)),
                results={name: outcomes[name].result for name in spec.requires},
            )
            result = spec.plugin.run(context)
            _check_result(result)
        except Exception as exc:  # noqa: BLE001 - one plugin must not stop the others
            outcome.status = FAILED
            outcome.error = f"{type(exc).__name__}: {exc}"
            logger.exception(
                "analytics plugin %s failed on site %s", spec.name, base_context.site_id
            )
        else:
            outcome.status = OK
            outcome.result = result
        outcome.duration_ms = (time.perf_counter() - started) * 1000.0
    return outcomes


# -- loading -----------------------------------------------------------------------------------


def _unique_by_name(points, problems):
    """Index entry points by name; two different objects under one name is a problem.

    The same distribution can be visible twice on ``sys.path`` (an editable install and a
    build folder); identical entries are one plugin.
    """
    by_name: dict[str, metadata.EntryPoint] = {}
    clashes: dict[str, set[str]] = {}
    for point in points:
        seen = by_name.setdefault(point.name, point)
        if seen.value != point.value:
            clashes.setdefault(point.name, {seen.value}).add(point.value)
    for name, values in sorted(clashes.items()):
        problems.append(
            PluginProblem(name, "registered more than once: " + ", ".join(sorted(values)))
        )
        del by_name[name]
    return by_name


def _load_one(name, point, wanted, problems):
    """Import and check one entry point; append its problems; return its spec or None."""
    before = len(problems)
    try:
        target = point.load()
        plugin = target() if isinstance(target, type) else target
    except Exception as exc:  # noqa: BLE001 - any import or constructor error is reported
        problems.append(
            PluginProblem(
                name, f"cannot be loaded from {point.value!r}: {type(exc).__name__}: {exc}"
            )
        )
        return None

    plugin_name = getattr(plugin, "name", None)
    if plugin_name != name:
        problems.append(
            PluginProblem(
                name, f"entry point name {name!r} does not match the plugin's name {plugin_name!r}"
            )
        )
    if not callable(getattr(plugin, "run", None)):
        problems.append(PluginProblem(name, "has no callable run(context)"))
    version = getattr(plugin, "version", None)
    if not isinstance(version, str) or not version.strip():
        problems.append(PluginProblem(name, "has no version (a non-empty string)"))
    requires = getattr(plugin, "requires", ())
    if isinstance(requires, str) or not all(isinstance(item, str) for item in requires or ()):
        problems.append(PluginProblem(name, "requires must be a tuple of plugin names"))
        requires = ()
    default_params = getattr(plugin, "default_params", None) or {}
    if not isinstance(default_params, Mapping):
        problems.append(PluginProblem(name, "default_params must be a mapping"))
        default_params = {}
    if len(problems) > before:
        return None

    distribution = _distribution(point)
    return PluginSpec(
        name=name,
        version=version,
        requires=tuple(requires),
        default_params=dict(default_params),
        enabled=wanted is None or name in wanted,
        source=point.value,
        distribution=distribution,
        plugin=plugin,
    )


def _unknown_params(defaults, values):
    return sorted(set(values) - set(defaults))


def _is_enabled(name, wanted, specs):
    if name in specs:
        return specs[name].enabled
    return wanted is None or name in wanted


def _cycles(specs):
    """Return each dependency cycle once, as a list of names that ends where it starts."""
    cycles, state = [], {}  # state: 1 = on the current path, 2 = done

    def visit(name, path):
        state[name] = 1
        path.append(name)
        for required in specs[name].requires:
            if required not in specs:
                continue
            if state.get(required) == 1:
                cycles.append(path[path.index(required) :] + [required])
            elif required not in state:
                visit(required, path)
        path.pop()
        state[name] = 2

    for name in sorted(specs):
        if name not in state:
            visit(name, [])
    return cycles


def _run_order(specs):
    """Topological order (requirements first), ties broken by name so runs are repeatable."""
    remaining = {name: set(spec.requires) & set(specs) for name, spec in specs.items()}
    order = []
    while remaining:
        ready = sorted(name for name, needs in remaining.items() if not needs)
        if not ready:  # only reachable with a cycle, which loading has already reported
            raise PluginLoadError(
                [PluginProblem(name, "dependency cycle") for name in sorted(remaining)]
            )
        for name in ready:
            order.append(name)
            del remaining[name]
        for needs in remaining.values():
            needs.difference_update(ready)
    return tuple(order)


def _check_result(result):
    if not isinstance(result, PluginResult):
        raise TypeError(f"run() returned {type(result).__name__}, not PluginResult")
    for finding in result.findings:
        if not isinstance(finding, Finding):
            raise TypeError(f"a finding is a {type(finding).__name__}, not Finding")
        if finding.severity not in SEVERITIES:
            raise ValueError(
                f"finding {finding.key!r} has severity {finding.severity!r}, "
                f"not one of {SEVERITIES}"
            )
        if not finding.key:
            raise ValueError(f"a {finding.kind!r} finding has an empty key")
    for opportunity in result.opportunities:
        if not isinstance(opportunity, Opportunity):
            raise TypeError(f"an opportunity is a {type(opportunity).__name__}, not Opportunity")
