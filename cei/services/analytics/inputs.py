"""What the analysis reads and runs: the site's hourly series, its meters, the plugins.

The one place where the analytics meet parts built beside them. Each uses the real thing
when it is installed and a thin stand-in otherwise (REPLACED AT MERGE: once the modules
below exist, the stand-ins are dead code and can go):

- ``site_hourly_series(site, start_ts, end_ts)``: ``cei.services.rollups`` (site-local hours
  from the hourly rollups); stand-in: a plain SQL ``GROUP BY`` over the raw readings of the
  site's total meters by UTC hour (exact for sites whose UTC offset is whole hours).
- ``plugin_registry(app)`` / ``run_plugins(registry, context, overrides)``:
  ``cei.plugins.registry`` (entry points ``cei.analytics``, loaded and checked by
  ``create_app`` into ``app.extensions["cei.analytics"]``); stand-in: a ``{name: plugin}``
  mapping run in dependency order, each failure recorded, the others still run. Tests put
  such a mapping in ``app.extensions["cei.analytics"]`` to run plugins of their own.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from importlib import import_module
from typing import Any

from sqlalchemy import func, select

from cei.extensions import db
from cei.models import Meter, readings
from cei.plugins.base import AnalysisContext, MeterStatus, PluginResult
from cei.services import sites as site_service

log = logging.getLogger("cei.analytics")

HOUR = 3600
DAY = 86400
EXTENSION_KEY = "cei.analytics"


def _optional(module_name):
    try:
        return import_module(module_name)
    except ModuleNotFoundError:
        return None


def site_hourly_series(site, start_ts, end_ts):
    """Return ``[(hour start as UTC epoch, kWh or None), ...]`` for every hour of the range."""
    rollups = _optional("cei.services.rollups")
    if rollups is not None and hasattr(rollups, "site_hourly_series"):
        return rollups.site_hourly_series(site, start_ts, end_ts)
    meter_pks = [meter.id for meter in site_service.totals_meters(site)]
    sums = {}
    if meter_pks:
        hour = (readings.c.ts - readings.c.ts % HOUR).label("hour")
        rows = db.session.execute(
            select(hour, func.sum(readings.c.value))
            .where(
                readings.c.meter_pk.in_(meter_pks),
                readings.c.ts >= start_ts,
                readings.c.ts < end_ts,
            )
            .group_by(hour)
        )
        sums = {int(start): float(total) for start, total in rows}
    first = start_ts - start_ts % HOUR
    return [(ts, sums.get(ts)) for ts in range(first, end_ts, HOUR)]


def meter_statuses(site, now_ts):
    """Return a :class:`MeterStatus` per meter of the site, as of epoch second ``now_ts``.

    Two queries whatever the number of meters: the meters with their newest reading (one
    index probe each), and the timestamps of their last 24 h (at most 1,440 per meter).
    """
    latest = (
        select(func.max(readings.c.ts)).where(readings.c.meter_pk == Meter.id).scalar_subquery()
    )
    meters = db.session.execute(
        select(Meter, latest).where(Meter.site_pk == site.id).order_by(Meter.meter_id)
    ).all()
    if not meters:
        return ()
    since = now_ts - DAY
    recent = {}
    for meter_pk, ts in db.session.execute(
        select(readings.c.meter_pk, readings.c.ts).where(
            readings.c.meter_pk.in_([meter.id for meter, _ in meters]),
            readings.c.ts >= since,
            readings.c.ts < now_ts,
        )
    ):
        recent.setdefault(meter_pk, []).append(ts)
    statuses = []
    for meter, seen in meters:
        interval = meter.interval_minutes * 60
        # Interval starts s in the last 24 h whose interval has ended (s + interval <= now).
        first, stop = -(-since // interval) * interval, (now_ts // interval) * interval
        received = sum(first <= ts < stop for ts in recent.get(meter.id, ()))
        statuses.append(
            MeterStatus(
                meter_id=meter.meter_id,
                interval_minutes=meter.interval_minutes,
                is_main=meter.is_main,
                last_seen=_utc(seen) if seen is not None else None,
                expected_24h=max(0, (stop - first) // interval),
                received_24h=received,
            )
        )
    return tuple(statuses)


def _utc(ts):
    import pandas as pd

    return pd.Timestamp(ts, unit="s", tz="UTC")


# --- plugins -------------------------------------------------------------------------------


@dataclass
class PluginOutcome:
    """How one plugin's run went (the shape ``cei.plugins.registry`` returns too)."""

    status: str  # "ok", "failed" or "skipped" (a plugin it requires did not succeed)
    result: PluginResult | None
    error: str | None
    duration_ms: float
    version: str | None = None


def _registry_module():
    return _optional("cei.plugins.registry")


def plugin_registry(app):
    """Return the app's plugin registry (``app.extensions["cei.analytics"]``)."""
    registry = app.extensions.get(EXTENSION_KEY)
    if registry is None:
        module = _registry_module()
        if module is not None and hasattr(module, "load_registry"):
            registry = module.load_registry()
        else:
            registry = _entry_point_plugins()
        app.extensions[EXTENSION_KEY] = registry
    return registry


def _entry_point_plugins():
    """Instantiate every plugin registered under the ``cei.analytics`` entry points."""
    from importlib.metadata import entry_points

    plugins = {}
    for entry in entry_points(group=EXTENSION_KEY):
        loaded = entry.load()
        plugin = loaded() if isinstance(loaded, type) else loaded
        plugins[plugin.name] = plugin
    return plugins


def run_plugins(registry, context: AnalysisContext, overrides: dict[str, dict] | None = None):
    """Run every plugin of ``registry`` on ``context``; return ``{name: PluginOutcome}``.

    ``overrides`` are per-plugin parameters of this site's organization (e.g. the deviation
    thresholds), laid over each plugin's defaults.
    """
    module = _registry_module()
    if module is not None and hasattr(module, "run_plugins") and not isinstance(registry, dict):
        return module.run_plugins(registry, context, overrides)
    return _run_in_order(registry, context, overrides or {})


def _dependency_order(plugins: dict[str, Any]):
    order, state = [], {}

    def visit(name):
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            raise ValueError(f"plugin dependency cycle through {name!r}")
        state[name] = "visiting"
        for required in getattr(plugins[name], "requires", ()):
            if required in plugins:
                visit(required)
        state[name] = "done"
        order.append(name)

    for name in sorted(plugins):
        visit(name)
    return order


def _run_in_order(plugins, context, overrides):
    outcomes: dict[str, PluginOutcome] = {}
    for name in _dependency_order(plugins):
        plugin = plugins[name]
        requires = tuple(getattr(plugin, "requires", ()))
        missing = [req for req in requires if req not in outcomes or outcomes[req].status != "ok"]
        if missing:
            outcomes[name] = PluginOutcome(
                "skipped",
                None,
                f"required plugin(s) without a result: {', '.join(missing)}",
                0.0,
                getattr(plugin, "version", None),
            )
            continue
        params = {**getattr(plugin, "default_params", {}), **overrides.get(name, {})}
        plugin_context = replace(
            context, params=params, results={req: outcomes[req].result for req in requires}
        )
        started = time.perf_counter()
        try:
            result = plugin.run(plugin_context)
            if not isinstance(result, PluginResult):
                raise TypeError(f"run() returned {type(result).__name__}, not PluginResult")
            status, error = "ok", None
        except Exception as exc:  # noqa: BLE001 - one plugin failing must not stop the others
            result, status = None, "failed"
            error = f"{type(exc).__name__}: {exc}"
            log.warning("plugin %s failed on site %s: %s", name, context.site_id, error)
        duration_ms = round((time.perf_counter() - started) * 1000, 3)
        outcomes[name] = PluginOutcome(
            status, result, error, duration_ms, getattr(plugin, "version", None)
        )
    return outcomes
