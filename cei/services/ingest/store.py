"""Bulk reads and writes of readings and idempotency keys: what both databases share.

:meth:`Store.write_readings` stores the rows that are new, replaces differing ones when
asked, and returns a :class:`WriteOutcome`: the rows it inserted, the rows it replaced (with
their previous values) and the rows stored with another value that it left alone. Rows
stored with the same value are exact duplicates; the caller counts them as the rest.

Both stores look before they write: a range scan over a meter's readings (or over a run of
idempotency keys) between the batch's first and last returns the stored values, so a replay
costs one scan and no write, new readings one empty range probe. A scan is bounded
(:func:`scan_limit`); a batch spread thinly over a long stored history falls back to probing
its own rows. Inserts keep ``ON CONFLICT DO NOTHING`` semantics, so two transactions
storing the same rows at once both succeed and each row is stored once.

The stores talk to the driver directly (SQLite multi-row ``INSERT``, PostgreSQL binary
``COPY``): DESIGN §4 ("Speed notes") measured SQLAlchemy Core ``insert()`` at twice the
insert time of the driver. Everything runs on the session's connection, inside the request's
one transaction. One module per database: :mod:`.store_sqlite`, :mod:`.store_postgres`.
"""

from functools import partial
from operator import itemgetter
from typing import NamedTuple

# Groups of fewer idempotency keys than this are probed one by one rather than scanned.
SMALL_KEY_GROUP = 4
# Bound parameters per statement, safely below SQLite's limit (32,766).
CHUNK = 5000


class Row(NamedTuple):
    """A reading to store.

    The common batch's rows are plain tuples in this field order (the plan of a simple
    chunk zips its columns: building named tuples cost 0.5 ms per 5,000 rows of a 12 ms
    batch, bench/ingest.py on SQLite), so stores read rows through the field getters below
    or by unpacking, never by attribute.
    """

    meter_pk: int
    ts: int
    kwh: float


class KeyRow(NamedTuple):
    """An idempotency key and the reading it names (a plain tuple in this order, too, when
    the plan of a simple chunk made it).

    ``kwh`` is the value sent with the key when it was first stored: the reading there
    unless the meter's readings were corrected since (``meters.corrected``), when only the
    readings tell whether a record is a duplicate (:meth:`Store.write_readings`).
    """

    key: str
    meter_pk: int
    ts: int
    kwh: float | None


# Key rows read back from the driver, as named tuples.
new_key_row = partial(tuple.__new__, KeyRow)


class Difference(NamedTuple):
    """A reading stored with another value than the one sent."""

    stored: float
    sent: float


class ChangedRow(NamedTuple):
    """A reading this ingestion wrote: new (``previous_kwh`` None) or replaced."""

    meter_pk: int
    ts: int
    kwh: float
    previous_kwh: float | None


class ChangedRows:
    """The readings one write changed: the inserted rows, then the replaced ones.

    Iterating yields :class:`ChangedRow`; ``inserted`` (:class:`Row`) and ``replaced``
    (:class:`ChangedRow`) are there for consumers that work on whole columns.
    """

    __slots__ = ("inserted", "replaced")

    def __init__(self, inserted, replaced):
        self.inserted = inserted
        self.replaced = replaced

    def __len__(self):
        return len(self.inserted) + len(self.replaced)

    def __iter__(self):
        for meter_pk, ts, kwh in self.inserted:
            yield ChangedRow(meter_pk, ts, kwh, None)
        yield from self.replaced

    def meter_pks(self):
        """The set of meters with a changed reading."""
        pks = set(map(_METER_PK, self.replaced))
        if self.inserted:
            pks.update(map(_METER_PK, self.inserted))
        return pks


# Fields of Row (and of ChangedRow, whose first three are the same), named tuple or not.
_METER_PK, _TS, _KWH = itemgetter(0), itemgetter(1), itemgetter(2)
# Stored readings come from the driver as (ts, value).
_STORED_TS, _STORED_KWH = itemgetter(0), itemgetter(1)


class WriteOutcome(NamedTuple):
    """What :meth:`Store.write_readings` did."""

    inserted: list  # Row: new readings
    replaced: list  # ChangedRow: stored values overwritten (on_conflict "update")
    differing: dict  # (meter_pk, ts) -> Difference: left alone (on_conflict "reject")


def store_for(connection, shortcuts=True):
    """Return the bulk store for the SQLAlchemy ``connection``'s database."""
    if connection.dialect.name == "postgresql":
        from cei.services.ingest.store_postgres import PostgresStore

        return PostgresStore(connection, shortcuts)
    from cei.services.ingest.store_sqlite import SqliteStore

    return SqliteStore(connection, shortcuts)


def chunks(items, size=CHUNK):
    """Yield successive slices of the list ``items``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def scan_limit(count):
    """Rows a range scan may return for ``count`` wanted ones before it gives up."""
    return 4 * count + 100


def _by_meter(rows):
    """Yield ``(meter_pk, rows of that meter)`` for :class:`Row` rows."""
    meters = set(map(_METER_PK, rows))
    if len(meters) == 1:
        yield meters.pop(), rows
        return
    groups = {}
    for row in rows:
        groups.setdefault(_METER_PK(row), []).append(row)
    yield from groups.items()


def _same_readings(rows, stored_rows):
    """Whether ``stored_rows`` ``(ts, kwh)`` are exactly the :class:`Row` rows.

    The rows' timestamps are distinct. Batches come in time order, either way round, and
    scans return rows in time order: whole columns compare first, sorted pairs otherwise.
    """
    stamps = list(map(_TS, rows))
    stored_stamps = list(map(_STORED_TS, stored_rows))
    if stamps == stored_stamps:
        return list(map(_KWH, rows)) == list(map(_STORED_KWH, stored_rows))
    stored_stamps.reverse()
    if stamps == stored_stamps:
        values = list(map(_STORED_KWH, stored_rows))
        values.reverse()
        return list(map(_KWH, rows)) == values
    pairs = sorted(zip(stamps, map(_KWH, rows), strict=True))
    return pairs == sorted(stored_rows)


class Store:
    """What both stores share: comparing a batch with what is stored, finding keys.

    ``shortcuts=False`` compares every row one by one instead of whole columns (the same
    answers; ``tests/ingest`` runs both ways).
    """

    def __init__(self, connection, shortcuts=True):
        self.connection = connection
        self.driver = connection.connection.driver_connection
        self.shortcuts = shortcuts

    def write_readings(self, rows, replace=False):
        """Store the new :class:`Row` rows; return a :class:`WriteOutcome`."""
        if not rows:
            return WriteOutcome([], [], {})
        fresh, differing = self._compare(rows)
        inserted = self._insert_readings(fresh) if fresh else []
        if len(inserted) < len(fresh):
            # Another transaction stored some of them since the lookup.
            differing.update(self._differing(fresh))
        replaced = []
        if replace and differing:
            replaced = self._replace(differing)
            differing = {}
        return WriteOutcome(inserted, replaced, differing)

    def _compare(self, rows):
        """Return the rows not stored yet, and ``{(meter_pk, ts): Difference}``."""
        groups = list(_by_meter(rows))
        found = self._stored([(meter_pk, list(map(_TS, group))) for meter_pk, group in groups])
        fresh = []
        differing = {}
        for meter_pk, group in groups:
            stored_rows = found.get(meter_pk)
            if not stored_rows:
                fresh += group  # all new
                continue
            if (
                self.shortcuts
                and len(stored_rows) == len(group)
                and _same_readings(group, stored_rows)
            ):
                continue  # a replay: all stored with the same values
            stored = dict(stored_rows)
            for row in group:
                _, ts, kwh = row
                value = stored.get(ts)
                if value is None:
                    fresh.append(row)
                elif value != kwh:
                    differing[meter_pk, ts] = Difference(value, kwh)
        return fresh, differing

    def _differing(self, rows):
        return self._compare(rows)[1]

    def find_keys(self, organization_id, groups):
        """Return ``{key: KeyRow}`` stored among the keys of ``groups``.

        ``groups`` are lists of keys that are likely neighbours in key order (those sent
        for one meter): each is scanned as a range, small ones are probed key by key. The
        answer may hold more keys than were asked for.
        """
        found = {}
        probe = []
        ranges = []
        for keys in groups:
            if len(keys) < SMALL_KEY_GROUP:
                probe += keys
            else:
                ranges.append((min(keys), max(keys), keys))
        for keys, rows in zip(ranges, self._scan_keys(organization_id, ranges), strict=True):
            if rows is None:
                probe += keys[2]  # the range holds far more keys than the batch
            else:
                found.update(zip(map(itemgetter(0), rows), map(new_key_row, rows), strict=True))
        if probe:
            rows = self._probe_keys(organization_id, probe)
            found.update(zip(map(itemgetter(0), rows), map(new_key_row, rows), strict=True))
        return found


def replaced_rows(differing):
    """:class:`ChangedRow` for each ``{(meter_pk, ts): Difference}`` about to be replaced."""
    return [
        ChangedRow(meter_pk, ts, difference.sent, difference.stored)
        for (meter_pk, ts), difference in differing.items()
    ]
