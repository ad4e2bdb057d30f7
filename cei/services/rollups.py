"""Hourly rollups: a site's (or a meter's) hourly sums without summing every meter on each read.

Keys. A reading ``(meter_pk, ts)`` belongs to the site-local hour that holds ``ts``. Local hours
start where UTC hours do, shifted by the zone's UTC offset modulo an hour (0 for most zones,
1800 for Asia/Kolkata, 2700 for Asia/Kathmandu): the bucket is ``ts - (ts + offset) % 3600``,
whatever the DST state, so 23- and 25-hour days are just runs of buckets and a site-local day
is exactly the buckets between two local midnights.

Exact sums. A reading counts as ``int(kWh × 10⁶ + 0.5)`` milliwatt-hours (the same expression in
Python and in SQL); rollups hold integer sums, so adding and subtracting deltas never drifts, a
rebuild gives the very same numbers, and answers are rounded once, to the Wh (:func:`kwh`).

Which rows exist (:class:`SiteLayout`), chosen so ingestion pays only where a rollup saves reads:

- ``site_hours`` for sites whose total adds two or more meters (the ``is_main`` rule);
- ``meter_hours`` for a meter reporting more often than hourly that is, alone, its site's
  total (4 readings -> 1 row), so a one-meter site reads one row an hour too.

Every other hour is read from the readings themselves: an hourly meter's readings are one row
an hour already, and a meter that is part of a larger total (a sub-meter, or one of several
meters added up) is read alone only on its own meter pages, where summing its readings costs
what it did before rollups. A site read therefore costs at most one row an hour, with 1 meter
or 100, and a batch writes at most one rollup table (none for a sub-meter or a one-meter
hourly site): each table written costs about as much as a fifth of the readings insert
(bench/ingest.py, PostgreSQL, new 5000). The rule depends on meter settings, so changing
``is_main``, an interval, a timezone, or adding or deleting a meter rebuilds the site
(``cei.services.sites``); a site that gains its second total meter through ingestion is
rebuilt in the batch that adds it (:class:`RollupDeltas`).
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from itertools import chain
from operator import itemgetter
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import BigInteger, and_, cast, delete, func, literal, select

from cei.models import Meter, Site, meter_hours, readings, site_hours
from cei.services.windows import ceil_hour, floor_hour

log = logging.getLogger("cei.rollups")

HOUR = 3600
MWH_PER_KWH = 1_000_000
# A site's only total meter keeps hourly rows of its own when it reports more often than
# this (minutes).
SUB_HOURLY_BELOW = 60
# The date whose UTC offset fixes a zone's local-hour grid (see hour_offset).
GRID_DATE = datetime(2026, 1, 1)
# Rows per multi-row upsert on SQLite (4 parameters each, under the old 999 limit).
SQLITE_ROWS_PER_UPSERT = 240


@lru_cache(maxsize=1024)
def hour_offset(timezone):
    """Return how many seconds after a UTC hour the zone's local hours start (0 … 3599).

    Taken from the offset on 1 January 2026 so that every process agrees. Only a zone whose
    DST shift is not a whole hour (Australia/Lord_Howe, 30 minutes) has local hours off this
    grid for part of the year; its buckets then stay on the January grid.
    """
    offset = ZoneInfo(timezone).utcoffset(GRID_DATE)
    return int(offset.total_seconds()) % HOUR


def to_mwh(value_kwh):
    """Return a reading's kWh as whole milliwatt-hours (readings are never negative)."""
    return int(value_kwh * MWH_PER_KWH + 0.5)


def kwh(mwh):
    """Return a sum of milliwatt-hours as kWh rounded to the Wh (``36.977``, never ``…0004``)."""
    return ((mwh + 500) // 1000) / 1000


def _mwh_sql(dialect_name):
    """The SQL of :func:`to_mwh` over ``readings.value`` for the dialect."""
    scaled = readings.c.value * MWH_PER_KWH + 0.5
    if dialect_name == "postgresql":
        # PostgreSQL rounds when casting a float to an integer; floor first, as int() does.
        scaled = func.floor(scaled)
    return cast(scaled, BigInteger)


def _bucket_sql(offset):
    return readings.c.ts - (readings.c.ts + offset) % HOUR


# --------------------------------------------------------------------------- layouts


@dataclass(frozen=True)
class HourSource:
    """Where the hourly sums of some meters are: a rollup table row key, or their readings."""

    offset: int
    meter_pks: tuple
    table: object = None  # meter_hours / site_hours, or None: sum the readings themselves
    key: int | None = None  # meter_pk / site_pk in ``table``


@dataclass(frozen=True)
class SiteLayout:
    """A site's meters as the rollups see them: grid, intervals, the meters of the total."""

    site_pk: int
    offset: int
    intervals: dict = field(default_factory=dict)  # meter_pk -> interval_minutes
    mains: frozenset = frozenset()

    @property
    def totals(self):
        """Meter pks whose sum is the site total: the main meters if any, else all."""
        pks = sorted(self.mains) if self.mains else sorted(self.intervals)
        return tuple(pks)

    @property
    def has_site_rows(self):
        """Whether the site total is kept in ``site_hours`` (it adds two or more meters)."""
        return len(self.totals) > 1

    def has_meter_rows(self, meter_pk):
        """Whether the meter's hours are kept in ``meter_hours``: a sub-hourly meter that is,
        alone, the site total."""
        return self.intervals[meter_pk] < SUB_HOURLY_BELOW and self.totals == (meter_pk,)

    def source(self, meter_pk=None):
        """Return the :class:`HourSource` of one meter, or of the site total (None)."""
        if meter_pk is not None:
            if self.has_meter_rows(meter_pk):
                return HourSource(self.offset, (meter_pk,), meter_hours, meter_pk)
            return HourSource(self.offset, (meter_pk,))
        totals = self.totals
        if len(totals) == 1:
            return self.source(totals[0])
        if not totals:
            return HourSource(self.offset, ())
        return HourSource(self.offset, totals, site_hours, self.site_pk)


def load_layouts(connection, site_pks=None, meter_pks=None, organization_id=None):
    """Return ``{site_pk: SiteLayout}`` for the given sites, the sites of the given meters,
    an organization's sites, or (all None) every site."""
    sites, meters = Site.__table__, Meter.__table__
    query = select(
        sites.c.id, sites.c.timezone, meters.c.id, meters.c.is_main, meters.c.interval_minutes
    ).select_from(sites.outerjoin(meters, meters.c.site_pk == sites.c.id))
    if site_pks is not None:
        query = query.where(sites.c.id.in_(list(site_pks)))
    if meter_pks is not None:
        query = query.where(
            sites.c.id.in_(select(meters.c.site_pk).where(meters.c.id.in_(list(meter_pks))))
        )
    if organization_id is not None:
        query = query.where(sites.c.organization_id == organization_id)
    parts = {}
    for site_pk, timezone, meter_pk, is_main, interval in connection.execute(query):
        offset, intervals, mains = parts.setdefault(site_pk, (hour_offset(timezone), {}, set()))
        if meter_pk is not None:
            intervals[meter_pk] = interval
            if is_main:
                mains.add(meter_pk)
    return {
        site_pk: SiteLayout(site_pk, offset, intervals, frozenset(mains))
        for site_pk, (offset, intervals, mains) in parts.items()
    }


LAYOUTS_OF_METERS = (
    "SELECT s.id, s.timezone, m.id, m.is_main, m.interval_minutes, "
    "EXISTS (SELECT 1 FROM site_hours h WHERE h.site_pk = s.id) "
    "FROM meters m JOIN sites s ON s.id = m.site_pk "
    "WHERE m.site_pk IN (SELECT site_pk FROM meters WHERE id {match})"
)


def _layouts_of_meters(connection, meter_pks):
    """Return the layouts of the sites of ``meter_pks``, and which of them have site rows.

    The write path's lookup, one driver-level query per batch (SQLAlchemy's statement
    building cost as much as the query).
    """
    pks = sorted(meter_pks)
    if connection.dialect.name == "postgresql":
        queries = [(LAYOUTS_OF_METERS.format(match="= ANY(%s::int4[])"), (pks,))]
    else:
        # Parts of 500: old SQLite builds bind at most 999 parameters per statement.
        queries = [
            (LAYOUTS_OF_METERS.format(match=f"IN ({','.join('?' * len(part))})"), tuple(part))
            for part in (pks[start : start + 500] for start in range(0, len(pks), 500))
        ]
    found = chain.from_iterable(
        connection.exec_driver_sql(statement, params).all() for statement, params in queries
    )
    parts, with_rows = {}, set()
    for site_pk, timezone, meter_pk, is_main, interval, has_rows in found:
        offset, intervals, mains = parts.setdefault(site_pk, (hour_offset(timezone), {}, set()))
        intervals[meter_pk] = interval
        if is_main:
            mains.add(meter_pk)
        if has_rows:
            with_rows.add(site_pk)
    layouts = {
        site_pk: SiteLayout(site_pk, offset, intervals, frozenset(mains))
        for site_pk, (offset, intervals, mains) in parts.items()
    }
    return layouts, with_rows


def site_layout(connection, site_pk):
    """Return the :class:`SiteLayout` of one site."""
    return load_layouts(connection, site_pks=[site_pk]).get(site_pk, SiteLayout(site_pk, 0))


# --------------------------------------------------------------------------- writing


def apply_changed_readings(connection, changed_rows):
    """Fold changed readings into the rollups, in the caller's transaction, now.

    ``changed_rows`` are ``(meter_pk, ts, kwh, previous_kwh)``: ``previous_kwh`` is None for
    a new reading and the replaced value for an updated one; ``kwh`` None removes a reading.
    Rows of new readings alone may come as ``(meter_pk, ts, kwh)``. Call it after the
    readings are written. :class:`RollupDeltas` does the same over several calls, writing once.
    """
    deltas = RollupDeltas()
    deltas.add(connection, changed_rows)
    deltas.write(connection)


class RollupDeltas:
    """Rollup changes of one transaction, summed in memory and written once.

    :meth:`add` takes each chunk of changed readings after the readings are written (sums
    per bucket: numpy for a meter's new readings, :func:`_sum_new_readings`; a Python loop
    for other changes); :meth:`write` adds the sums to the tables with one multi-row upsert
    per table (``ON CONFLICT DO UPDATE``, keys in order, so concurrent transactions lock rows
    in one order and cannot deadlock). A CSV upload of 20 meters on one site thus upserts each
    site hour once, not once per chunk (bench/upload.py).
    """

    def __init__(self):
        self.sums = {meter_hours: {}, site_hours: {}}  # table -> {(key, hour): [mWh, readings]}
        self.removed = False

    def add(self, connection, changed_rows):
        """Sum the rollup changes of ``changed_rows`` (see :func:`apply_changed_readings`)."""
        if not changed_rows:
            return
        meter_pks = set(map(itemgetter(0), changed_rows))
        layouts, sites_with_rows = _layouts_of_meters(connection, meter_pks)
        routes = {}  # meter_pk -> (offset, keeps meter rows, site_pk or None)
        for layout in layouts.values():
            site_pk = layout.site_pk if layout.has_site_rows else None
            totals = layout.totals
            for meter_pk in meter_pks.intersection(layout.intervals):
                to_site = site_pk if meter_pk in totals else None
                to_meter = layout.has_meter_rows(meter_pk)
                if to_meter or to_site is not None:
                    routes[meter_pk] = (layout.offset, to_meter, to_site)
        if not routes:
            return  # hourly meters and sub-meters are read directly: nothing to roll up
        site_pks = {route[2] for route in routes.values() if route[2] is not None}
        for site_pk in sorted(site_pks - sites_with_rows):
            self._rebuild(connection, layouts[site_pk])
            routes = {
                pk: (offset, to_meter, None if to_site == site_pk else to_site)
                for pk, (offset, to_meter, to_site) in routes.items()
            }
        for meter_pk, rows in _by_meter(changed_rows, meter_pks):
            route = routes.get(meter_pk)
            if route is None:
                continue
            sums = _sum_new_readings(rows, route[0])
            if sums is None:
                sums, gone = _sum_deltas(rows, route[0])
                self.removed = self.removed or gone
            _, to_meter, site_pk = route
            for table, key in (
                (meter_hours, meter_pk if to_meter else None),
                (site_hours, site_pk),
            ):
                if key is not None:
                    _accumulate(self.sums[table], key, *sums)

    def _rebuild(self, connection, layout):
        """The site total just started to add a second meter (one created by ingestion):
        build its rows from the readings, which already hold this transaction's, and drop
        the hours the first meter kept while it was the total alone. Sums not yet written
        for the site are in the readings too: they are dropped."""
        _rebuild_meter_rows(connection, layout)
        _rebuild_site_rows(connection, layout)
        for table, keys in ((site_hours, {layout.site_pk}), (meter_hours, set(layout.intervals))):
            sums = self.sums[table]
            for pending in [pending for pending in sums if pending[0] in keys]:
                del sums[pending]

    def write(self, connection):
        """Add the summed changes to the rollup tables; forget them."""
        for table, sums in self.sums.items():
            rows = sorted(
                (key, hour, energy, count)
                for (key, hour), (energy, count) in sums.items()
                if energy or count
            )
            if rows:
                _upsert(connection, table, rows)
                if self.removed:
                    key_column = table.c[_key_name(table)]
                    connection.execute(
                        delete(table).where(
                            key_column.in_({row[0] for row in rows}), table.c.readings <= 0
                        )
                    )
            sums.clear()
        self.removed = False


def _accumulate(sums, key, hours, energies, counts):
    """Add one key's ``(hours, mWh, counts)`` columns to ``{(key, hour): [mWh, readings]}``."""
    for hour, energy, count in zip(hours, energies, counts, strict=True):
        pending = sums.get((key, hour))
        if pending is None:
            sums[key, hour] = [energy, count]
        else:
            pending[0] += energy
            pending[1] += count


def _by_meter(rows, meter_pks):
    """Yield ``(meter_pk, rows of that meter)``; one meter per batch is the common case."""
    if len(meter_pks) == 1:
        yield next(iter(meter_pks)), rows
        return
    groups = {}
    for row in rows:
        groups.setdefault(row[0], []).append(row)
    yield from groups.items()


def _sum_new_readings(rows, offset):
    """Sum one meter's rows per bucket with numpy, if all are new: ``(hours, mWh, counts)``.

    The common batch (one meter, new readings) without a Python loop over its rows: the
    per-row loop of :func:`_sum_deltas` cost as much as inserting the readings. Returns None
    unless every row is new.
    """
    count = len(rows)
    # Rows of three fields, ``(meter_pk, ts, kwh)``, are new readings by construction.
    if len(rows[0]) > 3 and list(map(itemgetter(3), rows)).count(None) != count:
        return None
    stamps = np.fromiter(map(itemgetter(1), rows), np.int64, count)
    values = np.fromiter(map(itemgetter(2), rows), np.float64, count)
    # to_mwh, elementwise: the same float operations, truncated as int() truncates.
    energy = (values * MWH_PER_KWH + 0.5).astype(np.int64)
    buckets = stamps - (stamps + offset) % HOUR
    order = np.argsort(buckets, kind="stable")
    buckets, energy = buckets[order], energy[order]
    starts = np.flatnonzero(np.concatenate(([True], buckets[1:] != buckets[:-1])))
    sums = np.add.reduceat(energy, starts).tolist()
    counts = np.diff(np.append(starts, count)).tolist()
    return buckets[starts].tolist(), sums, counts


def _sum_deltas(rows, offset):
    """Sum one meter's changes per bucket: ``((hours, mWh, counts), any removed)``."""
    sums = {}
    removed = False
    for _, ts, value, previous in rows:
        if previous is None:
            delta, count = to_mwh(value), 1
        elif value is None:
            delta, count = -to_mwh(previous), -1
            removed = True
        else:
            delta, count = to_mwh(value) - to_mwh(previous), 0
        bucket = ts - (ts + offset) % HOUR
        old = sums.get(bucket)
        sums[bucket] = (delta, count) if old is None else (old[0] + delta, old[1] + count)
    hours = list(sums)
    return (hours, [sums[h][0] for h in hours], [sums[h][1] for h in hours]), removed


# Delta upserts; {name} and {key} are our own table and column names, values are parameters.
POSTGRES_UPSERT = (
    "INSERT INTO {name} AS r ({key}, ts, energy_mwh, readings) "
    "SELECT * FROM unnest(%s::text::int4[], %s::text::int8[], %s::text::int8[], %s::text::int4[]) "
    "ON CONFLICT ({key}, ts) DO UPDATE SET "
    "energy_mwh = r.energy_mwh + excluded.energy_mwh, "
    "readings = r.readings + excluded.readings"
)
SQLITE_UPSERT = (
    "INSERT INTO {name} ({key}, ts, energy_mwh, readings) VALUES {values} "
    "ON CONFLICT ({key}, ts) DO UPDATE SET "
    "energy_mwh = energy_mwh + excluded.energy_mwh, readings = readings + excluded.readings"
)


def _key_name(table):
    return "meter_pk" if table is meter_hours else "site_pk"


def _upsert(connection, table, rows):
    """Add ``(key, ts, mwh, count)`` deltas to ``table``, inserting missing rows."""
    name, key = table.name, _key_name(table)
    if connection.dialect.name == "postgresql":
        statement = POSTGRES_UPSERT.format(name=name, key=key)
        # Columns as array literals ("{1,2,3}"): psycopg dumps int lists element by element
        # in Python, which cost 32 ms of a 5,000-reading batch (bench/ingest.py, new 5000).
        columns = zip(*rows, strict=True)
        literals = tuple("{" + ",".join(map(str, column)) + "}" for column in columns)
        connection.exec_driver_sql(statement, literals)
        return
    for start in range(0, len(rows), SQLITE_ROWS_PER_UPSERT):
        part = rows[start : start + SQLITE_ROWS_PER_UPSERT]
        statement = _sqlite_upsert(name, key, len(part))
        connection.exec_driver_sql(statement, tuple(chain.from_iterable(part)))


@lru_cache(maxsize=64)
def _sqlite_upsert(name, key, count):
    values = ", ".join(["(?, ?, ?, ?)"] * count)
    return SQLITE_UPSERT.format(name=name, key=key, values=values)


def _rebuild_site_rows(connection, layout):
    """Recompute the site's ``site_hours`` from its total meters' readings."""
    connection.execute(delete(site_hours).where(site_hours.c.site_pk == layout.site_pk))
    if not layout.has_site_rows:
        return
    bucket = _bucket_sql(layout.offset)
    query = (
        select(
            literal(layout.site_pk),
            bucket,
            func.sum(_mwh_sql(connection.dialect.name)),
            func.count(),
        )
        .where(readings.c.meter_pk.in_(layout.totals))
        .group_by(bucket)
    )
    connection.execute(
        site_hours.insert().from_select(["site_pk", "ts", "energy_mwh", "readings"], query)
    )


def _rebuild_meter_rows(connection, layout):
    """Recompute ``meter_hours`` of the site's sub-hourly meters from their readings."""
    pks = list(layout.intervals)
    if pks:
        connection.execute(delete(meter_hours).where(meter_hours.c.meter_pk.in_(pks)))
    sub_hourly = [pk for pk in pks if layout.has_meter_rows(pk)]
    if not sub_hourly:
        return
    bucket = _bucket_sql(layout.offset)
    query = (
        select(
            readings.c.meter_pk, bucket, func.sum(_mwh_sql(connection.dialect.name)), func.count()
        )
        .where(readings.c.meter_pk.in_(sub_hourly))
        .group_by(readings.c.meter_pk, bucket)
    )
    connection.execute(
        meter_hours.insert().from_select(["meter_pk", "ts", "energy_mwh", "readings"], query)
    )


def rebuild_rollups(connection, site_pk=None, organization_id=None):
    """Recompute rollups from the readings: one site, an organization's sites, or all.

    Returns the number of sites rebuilt. A full rebuild also drops rows left by meters or
    sites that no longer exist.
    """
    site_pks = None if site_pk is None else [site_pk]
    layouts = load_layouts(connection, site_pks=site_pks, organization_id=organization_id)
    for layout in layouts.values():
        _rebuild_meter_rows(connection, layout)
        _rebuild_site_rows(connection, layout)
    if site_pk is None and organization_id is None:
        connection.execute(
            delete(meter_hours).where(meter_hours.c.meter_pk.not_in(select(Meter.__table__.c.id)))
        )
        connection.execute(
            delete(site_hours).where(site_hours.c.site_pk.not_in(select(Site.__table__.c.id)))
        )
    log.info(
        "rollups rebuilt sites=%d site_pk=%s org_id=%s", len(layouts), site_pk, organization_id
    )
    return len(layouts)


def forget_meters(connection, meter_pks):
    """Delete the ``meter_hours`` of meters about to be deleted (rebuild their site after)."""
    if meter_pks:
        connection.execute(delete(meter_hours).where(meter_hours.c.meter_pk.in_(list(meter_pks))))


def forget_site(connection, site_pk):
    """Delete every rollup of a site about to be deleted, its meters' included."""
    meters = Meter.__table__
    connection.execute(
        delete(meter_hours).where(
            meter_hours.c.meter_pk.in_(select(meters.c.id).where(meters.c.site_pk == site_pk))
        )
    )
    connection.execute(delete(site_hours).where(site_hours.c.site_pk == site_pk))


# --------------------------------------------------------------------------- reading


def _raw_sums(connection, offset, meter_pks, start, end):
    """Return ``(meter_pk, bucket, mWh, readings)`` of the meters' readings in ``[start, end)``,
    summed per meter and local hour of the ``offset`` grid (one statement)."""
    bucket = _bucket_sql(offset).label("bucket")
    return connection.execute(
        select(
            readings.c.meter_pk, bucket, func.sum(_mwh_sql(connection.dialect.name)), func.count()
        )
        .where(
            readings.c.meter_pk.in_(sorted(meter_pks)),
            readings.c.ts >= start,
            readings.c.ts < end,
        )
        .group_by(readings.c.meter_pk, bucket)
    ).all()


def _merge(into, rows):
    for bucket, mwh, count in rows:
        old = into.get(bucket)
        into[bucket] = (int(mwh), count) if old is None else (old[0] + int(mwh), old[1] + count)


def _raw_parts(source, start, end):
    """The ``[from, to)`` parts of ``[start, end)`` the source sums from its readings."""
    first, last = ceil_hour(start, source.offset), floor_hour(end, source.offset)
    if source.table is None or first >= last:
        return [(start, end)]
    return [part for part in ((start, first), (last, end)) if part[0] < part[1]]


def hour_sums(connection, source, start, end):
    """Return ``{local hour start: (mWh, readings)}`` of the readings in ``[start, end)``.

    Whole local hours come from the rollup table (when the source has one); a window edge
    that cuts an hour is summed from the readings of that part, so any window is exact.
    """
    return hour_sums_many(connection, [source], start, end)[0]


def hour_sums_many(connection, sources, start, end):
    """Return :func:`hour_sums` of each of ``sources`` over one window, in their order.

    The number of statements does not grow with the sources: one per rollup table for the
    whole hours, and one per local-hour grid (zone offset) and window part for the hours
    summed from readings, grouped by meter and added per source in Python (integer mWh, so
    exactly what one source at a time gives: :func:`hour_sums` is this read of one source).
    """
    found = [{} for _ in sources]
    # {table: {key: [(index, first, last)…]}}, {(offset, from, to): {meter_pk: [index…]}}
    from_tables, from_readings = {}, {}
    for index, source in enumerate(sources):
        if not source.meter_pks:
            continue
        if source.table is not None:
            first, last = ceil_hour(start, source.offset), floor_hour(end, source.offset)
            if first < last:
                keys = from_tables.setdefault(source.table, {})
                keys.setdefault(source.key, []).append((index, first, last))
        for part in _raw_parts(source, start, end):
            meters = from_readings.setdefault((source.offset, *part), {})
            for meter_pk in source.meter_pks:
                meters.setdefault(meter_pk, []).append(index)
    for table, keys in from_tables.items():
        key_column = table.c[_key_name(table)]
        lowest = min(first for wanted in keys.values() for _, first, _ in wanted)
        highest = max(last for wanted in keys.values() for _, _, last in wanted)
        rows = connection.execute(
            select(key_column, table.c.ts, table.c.energy_mwh, table.c.readings).where(
                and_(key_column.in_(sorted(keys)), table.c.ts >= lowest, table.c.ts < highest)
            )
        ).all()
        for key, ts, mwh, count in rows:
            for index, first, last in keys[key]:
                if first <= ts < last:
                    _merge(found[index], ((ts, mwh, count),))
    for (offset, part_start, part_end), meters in sorted(from_readings.items()):
        for meter_pk, bucket, mwh, count in _raw_sums(
            connection, offset, meters, part_start, part_end
        ):
            for index in meters[meter_pk]:
                _merge(found[index], ((bucket, mwh, count),))
    return found


def site_hourly_series(site, start_ts, end_ts):
    """Return ``[(hour_start, kWh or None)]`` for every site-local hour starting in
    ``[start_ts, end_ts)`` of the site total (``is_main`` rule); None = no reading.

    ``hour_start`` is the UTC epoch second the local hour starts at, ascending; a value sums
    the readings of that whole hour, rounded to the Wh. Runs on the session's connection.
    """
    from cei.extensions import db

    connection = db.session.connection()
    layout = site_layout(connection, site.id)
    first = ceil_hour(start_ts, layout.offset)
    end = ceil_hour(end_ts, layout.offset)
    if end <= first:
        return []
    sums = hour_sums(connection, layout.source(), first, end)
    return [
        (hour, kwh(sums[hour][0]) if hour in sums else None) for hour in range(first, end, HOUR)
    ]
