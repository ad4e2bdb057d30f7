"""Bulk reads and writes of readings and idempotency keys, one implementation per database.

``write_readings(rows, replace)`` stores the rows that are new and returns
``(inserted, replaced, differing)``: how many rows went in, how many stored values were
overwritten (``replace``), and ``{(meter_pk, ts): (stored, sent)}`` for rows already stored
with another value (when not replacing). Rows stored with the same value are exact
duplicates; the caller counts them as ``len(rows) - inserted - replaced - len(differing)``.

Both stores look before they write. A range scan over a meter's readings (or over a run of
idempotency keys) between the batch's first and last costs about as much as probing the same
rows with an insert, and returns the stored values as well: a replay costs one scan and no
write, new readings one empty range probe. A scan is bounded (``scan_limit``); a batch
spread thinly over a long stored history falls back to probing its own rows.

Inserts are still ``ON CONFLICT DO NOTHING`` (or, on PostgreSQL, a plain insert that falls
back to one, see :class:`PostgresStore`) and counted from the statement's rowcount, so two
transactions storing the same rows at once both succeed and each row is stored once. The
stores talk to the driver directly (SQLite ``executemany``, PostgreSQL binary ``COPY``):
SQLAlchemy Core ``insert()`` doubled the insert time of a batch (DESIGN §4, "Speed notes").
Everything runs on the session's connection, inside the request's one transaction.
"""

from contextlib import contextmanager
from functools import lru_cache
from itertools import chain
from operator import itemgetter

from sqlalchemy import exc as sa_exc

from cei.services.ingest_catalog import chunks

# Groups of fewer idempotency keys than this are probed one by one rather than scanned.
SMALL_KEY_GROUP = 4


def store_for(connection):
    """Return the bulk store for the SQLAlchemy ``connection``'s database."""
    if connection.dialect.name == "postgresql":
        return PostgresStore(connection)
    return SqliteStore(connection)


def scan_limit(count):
    """Rows a range scan may return for ``count`` wanted ones before it gives up."""
    return 4 * count + 100


def _by_meter(rows):
    """Yield ``(meter_pk, rows of that meter)`` for ``(meter_pk, ts, value)`` rows."""
    meters = set(map(itemgetter(0), rows))
    if len(meters) == 1:
        yield meters.pop(), rows  # the common case, without a Python-level loop
        return
    groups = {}
    for row in rows:
        groups.setdefault(row[0], []).append(row)
    yield from groups.items()


def _same_readings(rows, stored_rows):
    """Whether ``stored_rows`` ``(ts, value)`` are exactly the ``(meter_pk, ts, value)`` rows.

    The rows' timestamps are distinct. Batches come in time order, either way round, and
    scans return rows in time order: whole columns compare first, sorted pairs otherwise.
    """
    stamps = list(map(itemgetter(1), rows))
    stored_stamps = list(map(itemgetter(0), stored_rows))
    if stamps == stored_stamps:
        return list(map(itemgetter(2), rows)) == list(map(itemgetter(1), stored_rows))
    stored_stamps.reverse()
    if stamps == stored_stamps:
        values = list(map(itemgetter(1), stored_rows))
        values.reverse()
        return list(map(itemgetter(2), rows)) == values
    pairs = sorted(zip(stamps, map(itemgetter(2), rows), strict=True))
    return pairs == sorted(stored_rows)


class _AllOf:
    """The timestamps of a meter's rows when all of them are stored: each one is in it."""

    __slots__ = ("size",)

    def __init__(self, size):
        self.size = size

    def __len__(self):
        return self.size

    def __contains__(self, ts):
        return True


class _Store:
    """What both stores share: comparing a batch with what is stored, finding keys."""

    def __init__(self, connection):
        self.connection = connection
        self.driver = connection.connection.driver_connection

    def write_readings(self, rows, replace=False):
        """Store the new rows; see the module docstring for what is returned."""
        if not rows:
            return 0, 0, {}
        present, differing = self._compare(rows)
        count = sum(map(len, present.values()))
        if count == 0:
            fresh = rows
        elif count == len(rows):
            fresh = []  # a replay: nothing to insert
        else:
            fresh = [row for row in rows if row[1] not in present.get(row[0], ())]
        inserted = self._insert_readings(fresh) if fresh else 0
        if inserted < len(fresh):
            # Another transaction stored some of them since the lookup; our own rows
            # compare equal, theirs may not.
            differing.update(self._differing(fresh))
        replaced = 0
        if replace and differing:
            replaced = self._replace(
                [(meter_pk, ts, sent) for (meter_pk, ts), (_, sent) in differing.items()]
            )
            differing = {}
        return inserted, replaced, differing

    def _compare(self, rows):
        """Return ``{meter_pk: {ts}}`` of the rows already stored, and those that differ."""
        groups = list(_by_meter(rows))
        found = self._stored(
            [(meter_pk, list(map(itemgetter(1), group))) for meter_pk, group in groups]
        )
        present = {}
        differing = {}
        for meter_pk, group in groups:
            stored_rows = found.get(meter_pk)
            if not stored_rows:
                present[meter_pk] = ()
                continue  # new readings: no need to index what was sent
            if len(stored_rows) == len(group) and _same_readings(group, stored_rows):
                present[meter_pk] = _AllOf(len(group))
                continue
            sent = dict(zip(map(itemgetter(1), group), map(itemgetter(2), group), strict=True))
            seen = present[meter_pk] = set()
            for ts, stored in stored_rows:
                value = sent.get(ts)
                if value is None:
                    continue  # stored between two of the batch's timestamps
                seen.add(ts)
                if stored != value:
                    differing[meter_pk, ts] = (stored, value)
        return present, differing

    def _differing(self, rows):
        return self._compare(rows)[1]

    def find_keys(self, organization_id, groups):
        """Return ``{key: (key, meter_pk, ts, value, …)}`` stored among the keys of ``groups``.

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
                found.update(zip(map(itemgetter(0), rows), rows, strict=True))
        if probe:
            rows = self._probe_keys(organization_id, probe)
            found.update(zip(map(itemgetter(0), rows), rows, strict=True))
        return found


# Rows per multi-row INSERT on SQLite, at most: a few hundred rows run as fast as more, and
# the statements stay small. Fewer when the SQLite build allows fewer parameters (999 before
# SQLite 3.32; 32,766 since).
ROWS_PER_INSERT = 250


@lru_cache(maxsize=64)
def _multi_row_insert(template, row, count):
    """``template`` with ``{rows}`` replaced by ``count`` copies of the placeholders ``row``."""
    return template.format(rows=", ".join([row] * count))


class SqliteStore(_Store):
    """SQLite: look up what is stored, insert the rest with multi-row ``INSERT`` statements.

    Statements go through SQLAlchemy's driver-level API, so errors stay wrapped. Each
    lookup is a query of its own: SQLite runs in-process, a query costs microseconds.
    An ``INSERT … VALUES (…), (…), …`` of a few hundred rows stores a batch in about 60 %
    of the time of the driver's ``executemany`` of the same rows (measured on this machine:
    one statement run per few hundred rows instead of one per row).
    """

    INSERT_READINGS = (
        "INSERT INTO readings (meter_pk, ts, value) VALUES {rows} ON CONFLICT DO NOTHING",
        "(?, ?, ?)",
    )
    UPDATE_READINGS = "UPDATE readings SET value = ? WHERE meter_pk = ? AND ts = ?"
    # The organization is the first parameter; "WHERE true" ends the SELECT before the
    # upsert clause (SQLite's documented way around the parsing ambiguity).
    INSERT_KEYS = (
        "INSERT INTO ingest_keys (organization_id, key, meter_pk, ts, value) "
        "SELECT ?, column1, column2, column3, column4 FROM (VALUES {rows}) "
        "WHERE true ON CONFLICT DO NOTHING",
        "(?, ?, ?, ?)",
    )
    SCAN_READINGS = (
        "SELECT ts, value FROM readings WHERE meter_pk = ? AND ts BETWEEN ? AND ? LIMIT ?"
    )
    SCAN_KEYS = (
        "SELECT key, meter_pk, ts, value FROM ingest_keys "
        "WHERE organization_id = ? AND key BETWEEN ? AND ? LIMIT ?"
    )
    # {marks}: a run of "?" placeholders, one per bound value.
    PROBE_READINGS = "SELECT ts, value FROM readings WHERE meter_pk = ? AND ts IN ({marks})"
    PROBE_KEYS = (
        "SELECT key, meter_pk, ts, value FROM ingest_keys "
        "WHERE organization_id = ? AND key IN ({marks})"
    )

    def _many(self, statement, rows):
        return self.connection.exec_driver_sql(statement, rows).rowcount

    def _insert_rows(self, insert, rows, lead=()):
        """Insert ``rows`` with multi-row statements built from ``insert``; count them.

        ``insert`` is ``(template, row placeholders)``; ``lead`` are parameters that come
        before the rows' own.
        """
        inserted = 0
        execute = self.connection.exec_driver_sql
        width = len(rows[0])
        step = min(ROWS_PER_INSERT, (self._parameter_limit() - len(lead)) // width)
        for start in range(0, len(rows), step):
            part = rows[start : start + step]
            statement = _multi_row_insert(*insert, len(part))
            inserted += execute(statement, (*lead, *chain.from_iterable(part))).rowcount
        return inserted

    def _parameter_limit(self):
        """The most parameters one statement may bind on this connection."""
        import sqlite3

        return self.driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)

    def _fetch(self, statement, params):
        """Return the rows of a query as the driver's tuples.

        SQLAlchemy's result rows cost a third of a replay's time; errors are still
        raised as SQLAlchemy's (so a lost database answers 503).
        """
        import sqlite3

        try:
            return self.driver.execute(statement, params).fetchall()
        except sqlite3.Error as error:
            raise sa_exc.DBAPIError.instance(
                statement, params, error, sqlite3.Error, dialect=self.connection.dialect
            ) from error

    def _insert_readings(self, rows):
        return self._insert_rows(self.INSERT_READINGS, rows)

    def _replace(self, rows):
        params = [(value, meter_pk, ts) for meter_pk, ts, value in rows]
        return self._many(self.UPDATE_READINGS, params)

    def _stored(self, groups):
        """Return ``{meter_pk: [(ts, value)]}`` stored, covering at least the ``groups``."""
        found = {}
        for meter_pk, stamps in groups:
            limit = scan_limit(len(stamps))
            rows = self._fetch(self.SCAN_READINGS, (meter_pk, min(stamps), max(stamps), limit))
            if len(rows) >= limit:
                rows = []
                for part in chunks(sorted(stamps)):
                    marks = ",".join("?" * len(part))
                    rows += self._fetch(self.PROBE_READINGS.format(marks=marks), (meter_pk, *part))
            found[meter_pk] = rows
        return found

    def _scan_keys(self, organization_id, ranges):
        for low, high, keys in ranges:
            limit = scan_limit(len(keys))
            rows = self._fetch(self.SCAN_KEYS, (organization_id, low, high, limit))
            yield rows if len(rows) < limit else None

    def _probe_keys(self, organization_id, keys):
        rows = []
        for part in chunks(keys):
            marks = ",".join("?" * len(part))
            rows += self._fetch(self.PROBE_KEYS.format(marks=marks), (organization_id, *part))
        return rows

    def insert_keys(self, organization_id, rows):
        """Store ``(key, meter_pk, ts, value)`` rows; keys already stored are left alone."""
        if not rows:
            return 0
        return self._insert_rows(self.INSERT_KEYS, rows, lead=(organization_id,))


class PostgresStore(_Store):
    """PostgreSQL: lookups in one round trip, binary ``COPY`` into a temporary table, inserts.

    ``COPY`` was measured against psycopg's ``executemany`` (about half the rate) and
    ``unnest`` arrays (slower by a third). The staging tables live as long as the
    connection and empty themselves at commit; rows go in ordered by key so concurrent
    batches that overlap take their row locks in the same order and cannot deadlock.

    Rows the lookup found absent go in with a plain ``INSERT``, half the cost of
    ``ON CONFLICT DO NOTHING`` (no speculative insertion), under a savepoint: when another
    transaction stored some of them since the lookup, the insert fails on the unique key,
    rolls back to the savepoint and runs again with ``ON CONFLICT DO NOTHING``.
    """

    STAGES = (
        "CREATE TEMP TABLE IF NOT EXISTS ingest_stage_readings "
        "(meter_pk int4 NOT NULL, ts int8 NOT NULL, value float8 NOT NULL) "
        "ON COMMIT DELETE ROWS",
        "CREATE TEMP TABLE IF NOT EXISTS ingest_stage_keys "
        "(key text NOT NULL, meter_pk int4 NOT NULL, ts int8 NOT NULL, value float8 NOT NULL) "
        "ON COMMIT DELETE ROWS",
    )
    INSERT_READINGS = (
        "INSERT INTO readings (meter_pk, ts, value) "
        "SELECT meter_pk, ts, value FROM ingest_stage_readings ORDER BY meter_pk, ts"
    )
    DIFFERING_READINGS = (
        "SELECT r.meter_pk, r.ts, r.value, s.value FROM ingest_stage_readings s "
        "JOIN readings r ON r.meter_pk = s.meter_pk AND r.ts = s.ts WHERE r.value <> s.value"
    )
    REPLACE_READINGS = (
        "UPDATE readings r SET value = s.value FROM ingest_stage_readings s "
        "WHERE r.meter_pk = s.meter_pk AND r.ts = s.ts AND r.value <> s.value"
    )
    INSERT_KEYS = (
        "INSERT INTO ingest_keys (organization_id, key, meter_pk, ts, value) "
        "SELECT %s, key, meter_pk, ts, value FROM ingest_stage_keys ORDER BY key"
    )
    ON_CONFLICT = " ON CONFLICT DO NOTHING"
    # One round trip for every meter of a batch: a bounded range scan per meter.
    SCAN_READINGS = (
        "SELECT b.n, r.ts, r.value FROM unnest(%s::int4[], %s::int8[], %s::int8[], %s::int4[]) "
        "WITH ORDINALITY AS b(meter_pk, low, high, lim, n) CROSS JOIN LATERAL "
        "(SELECT ts, value FROM readings WHERE meter_pk = b.meter_pk "
        "AND ts BETWEEN b.low AND b.high LIMIT b.lim) r"
    )
    PROBE_READINGS = (
        "SELECT meter_pk, ts, value FROM readings WHERE meter_pk = %s AND ts = ANY(%s::int8[])"
    )
    # Keys compare bytewise (the column's collation is "C"), as Python's min() and max().
    SCAN_KEYS = (
        "SELECT k.key, k.meter_pk, k.ts, k.value, b.n "
        "FROM unnest(%s::text[], %s::text[], %s::int4[]) WITH ORDINALITY AS b(low, high, lim, n) "
        "CROSS JOIN LATERAL (SELECT key, meter_pk, ts, value FROM ingest_keys "
        "WHERE organization_id = %s AND key BETWEEN b.low AND b.high LIMIT b.lim) k"
    )
    PROBE_KEYS = (
        "SELECT key, meter_pk, ts, value FROM ingest_keys "
        "WHERE organization_id = %s AND key = ANY(%s::text[])"
    )

    def __init__(self, connection):
        super().__init__(connection)
        self.staged = set()  # stages holding rows of this transaction

    @contextmanager
    def _cursor(self, statement):
        """A driver cursor whose errors surface as SQLAlchemy's (so 503 on a lost DB)."""
        import psycopg

        cursor = self.driver.cursor()
        try:
            yield cursor
        except psycopg.Error as error:
            invalidated = self.connection.dialect.is_disconnect(error, self.driver, cursor)
            if invalidated:
                self.connection.invalidate(error)
            raise sa_exc.DBAPIError.instance(
                statement,
                None,
                error,
                psycopg.Error,
                connection_invalidated=invalidated,
                dialect=self.connection.dialect,
            ) from error
        finally:
            cursor.close()

    def _stage(self, table, columns, types, rows):
        statement = f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)"
        with self._cursor(statement) as cursor:
            if not self.staged:
                for create in self.STAGES:
                    cursor.execute(create)
            if table in self.staged:
                # Several chunks (a CSV upload) share one transaction: clear the last one.
                cursor.execute(f"TRUNCATE {table}")
            with cursor.copy(statement) as copy:
                copy.set_types(types)
                write_row = copy.write_row
                for row in rows:
                    write_row(row)
        self.staged.add(table)

    def _execute(self, statement, params=None, binary=False):
        with self._cursor(statement) as cursor:
            cursor.execute(statement, params, binary=binary)
            rows = cursor.fetchall() if cursor.description else None
            return cursor.rowcount, rows

    def _insert_absent(self, statement, params=None):
        """Run the plain insert ``statement``; on a unique violation, the tolerant one."""
        from psycopg import errors

        with self._cursor(statement) as cursor:
            cursor.execute("SAVEPOINT ingest_insert")
            try:
                cursor.execute(statement, params)
            except errors.UniqueViolation:
                cursor.execute("ROLLBACK TO SAVEPOINT ingest_insert")
                cursor.execute(statement + self.ON_CONFLICT, params)
            inserted = cursor.rowcount
            cursor.execute("RELEASE SAVEPOINT ingest_insert")
            return inserted

    def _insert_readings(self, rows):
        self._stage_readings(rows)
        return self._insert_absent(self.INSERT_READINGS)

    def _stage_readings(self, rows):
        self._stage(
            "ingest_stage_readings", "meter_pk, ts, value", ("int4", "int8", "float8"), rows
        )

    def _differing(self, rows):
        # The stage holds exactly ``rows``.
        found = self._execute(self.DIFFERING_READINGS)[1]
        return {(meter_pk, ts): (stored, sent) for meter_pk, ts, stored, sent in found}

    def _replace(self, rows):
        self._stage_readings(sorted(rows))
        return self._execute(self.REPLACE_READINGS)[0]

    def _stored(self, groups):
        """Return ``{meter_pk: [(ts, value)]}`` stored, covering at least the ``groups``."""
        limits = [scan_limit(len(stamps)) for _, stamps in groups]
        _, rows = self._execute(
            self.SCAN_READINGS,
            (
                [meter_pk for meter_pk, _ in groups],
                [min(stamps) for _, stamps in groups],
                [max(stamps) for _, stamps in groups],
                limits,
            ),
            binary=True,  # thousands of rows: binary values are cheaper to read
        )
        found = {}
        for n, ts, value in rows:
            found.setdefault(n, []).append((ts, value))
        stored = {}
        for n, (meter_pk, stamps) in enumerate(groups, 1):
            scanned = found.get(n, ())
            if len(scanned) >= limits[n - 1]:
                _, probed = self._execute(self.PROBE_READINGS, (meter_pk, stamps), binary=True)
                scanned = [(ts, value) for _, ts, value in probed]
            stored[meter_pk] = scanned
        return stored

    def _scan_keys(self, organization_id, ranges):
        if not ranges:
            return []
        limits = [scan_limit(len(keys)) for _, _, keys in ranges]
        _, rows = self._execute(
            self.SCAN_KEYS,
            (
                [low for low, _, _ in ranges],
                [high for _, high, _ in ranges],
                limits,
                organization_id,
            ),
            binary=True,
        )
        found = [[] for _ in ranges]
        for row in rows:
            found[row[4] - 1].append(row)
        return [
            rows if len(rows) < limit else None for rows, limit in zip(found, limits, strict=True)
        ]

    def _probe_keys(self, organization_id, keys):
        return self._execute(self.PROBE_KEYS, (organization_id, keys), binary=True)[1]

    def insert_keys(self, organization_id, rows):
        """Store ``(key, meter_pk, ts, value)`` rows; keys already stored are left alone."""
        if not rows:
            return 0
        self._stage(
            "ingest_stage_keys",
            "key, meter_pk, ts, value",
            ("text", "int4", "int8", "float8"),
            rows,
        )
        return self._insert_absent(self.INSERT_KEYS, (organization_id,))
