"""What the analysis reads and runs: the site's hourly series, its meters, the plugins.

The one place where the analytics meet the parts beside them:

- ``site_hourly_series(site, start_ts, end_ts)``: the site total per site-local hour, from
  the hourly rollups (``cei.services.rollups``);
- ``plugin_registry(app)`` / ``run_plugins(registry, context, overrides)``: the plugins of
  the entry-point group ``cei.analytics``, loaded and checked by ``create_app`` into
  ``app.extensions["cei.analytics"]`` and run in dependency order
  (``cei.plugins.registry``).
"""

from __future__ import annotations

import logging

from sqlalchemy import func, select

from cei.extensions import db
from cei.models import Meter, readings
from cei.plugins import registry as registry_module
from cei.plugins.base import AnalysisContext, MeterStatus
from cei.services import rollups

log = logging.getLogger("cei.analytics")

HOUR = 3600
DAY = 86400
EXTENSION_KEY = "cei.analytics"


def site_hourly_series(site, start_ts, end_ts):
    """Return ``[(local hour start as UTC epoch, kWh or None), ...]`` for every site-local
    hour starting in ``[start_ts, end_ts)`` (the site total, read from the hourly rollups)."""
    return rollups.site_hourly_series(site, start_ts, end_ts)


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


def plugin_registry(app):
    """Return the app's plugin registry (loaded and checked by ``create_app``)."""
    return app.extensions[EXTENSION_KEY]


def run_plugins(registry, context: AnalysisContext, overrides: dict[str, dict] | None = None):
    """Run every enabled plugin on ``context``; return ``{name: PluginOutcome}``.

    ``overrides`` are per-plugin parameters of this site's organization (e.g. the deviation
    thresholds), laid over each plugin's defaults.
    """
    return registry_module.run_plugins(registry, context, overrides)
