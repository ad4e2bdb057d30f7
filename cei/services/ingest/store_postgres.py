"""The PostgreSQL store: lookups in one round trip, binary ``COPY`` into staging tables.

Readings and keys go through temporary staging tables filled with binary ``COPY`` (DESIGN §4,
"Speed notes": faster than ``executemany`` and ``unnest``), then ``INSERT … SELECT``.
"""

from contextlib import contextmanager

from sqlalchemy import exc as sa_exc

from cei.services.ingest.store import ChangedRow, Difference, Row, Store, scan_limit


class PostgresStore(Store):
    """PostgreSQL: lookups in one round trip, binary ``COPY`` into a temporary table, inserts.

    The staging tables live as long as the connection and empty themselves at commit; rows
    go in ordered by key so concurrent batches that overlap take their row locks in the
    same order and cannot deadlock.

    Rows the lookup found absent go in with a plain ``INSERT`` (no speculative insertion)
    under a savepoint: when another transaction stored some of them since the lookup, the
    insert fails on the unique key, rolls back to the savepoint and runs again with
    ``ON CONFLICT DO NOTHING``, returning the rows it did insert.
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
    # The stored values are locked (FOR UPDATE reads the latest committed version) and
    # returned beside the new ones: the pipeline hands both to what follows a write.
    REPLACE_READINGS = (
        "WITH old AS (SELECT r.meter_pk, r.ts, r.value FROM readings r "
        "JOIN ingest_stage_readings s ON r.meter_pk = s.meter_pk AND r.ts = s.ts "
        "ORDER BY r.meter_pk, r.ts FOR UPDATE OF r) "
        "UPDATE readings r SET value = s.value FROM ingest_stage_readings s, old "
        "WHERE r.meter_pk = s.meter_pk AND r.ts = s.ts "
        "AND old.meter_pk = r.meter_pk AND old.ts = r.ts AND old.value <> s.value "
        "RETURNING r.meter_pk, r.ts, s.value, old.value"
    )
    INSERT_KEYS = (
        "INSERT INTO ingest_keys (organization_id, key, meter_pk, ts, value) "
        "SELECT %s, key, meter_pk, ts, value FROM ingest_stage_keys ORDER BY key"
    )
    ON_CONFLICT = " ON CONFLICT DO NOTHING"
    RETURNING_READINGS = " RETURNING meter_pk, ts"
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
    # Keys with the reading each names (see Store.find_keys).
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

    def __init__(self, connection, shortcuts=True):
        super().__init__(connection, shortcuts)
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

    def _insert_absent(self, statement, params=None, returning=""):
        """Run the plain insert ``statement``; on a unique violation, the tolerant one.

        Returns the row count, or with ``returning`` (a RETURNING clause) None when every
        staged row went in, else the returned rows of those that did.
        """
        from psycopg import errors

        with self._cursor(statement) as cursor:
            cursor.execute("SAVEPOINT ingest_insert")
            inserted = None
            try:
                cursor.execute(statement, params)
                count = cursor.rowcount
            except errors.UniqueViolation:
                cursor.execute("ROLLBACK TO SAVEPOINT ingest_insert")
                cursor.execute(statement + self.ON_CONFLICT + returning, params)
                count = cursor.rowcount
                inserted = cursor.fetchall() if returning else None
            cursor.execute("RELEASE SAVEPOINT ingest_insert")
            return inserted if returning else count

    def _insert_readings(self, rows):
        self._stage_readings(rows)
        inserted = self._insert_absent(self.INSERT_READINGS, returning=self.RETURNING_READINGS)
        if inserted is None:
            return rows  # the plain insert stored them all
        ours = set(inserted)
        return [row for row in rows if (row[0], row[1]) in ours]  # (meter_pk, ts)

    def _stage_readings(self, rows):
        self._stage(
            "ingest_stage_readings", "meter_pk, ts, value", ("int4", "int8", "float8"), rows
        )

    def _differing(self, rows):
        # The stage holds exactly ``rows``.
        found = self._execute(self.DIFFERING_READINGS)[1]
        return {(meter_pk, ts): Difference(stored, sent) for meter_pk, ts, stored, sent in found}

    def _replace(self, differing):
        self._stage_readings(
            sorted(Row(meter_pk, ts, change.sent) for (meter_pk, ts), change in differing.items())
        )
        return list(map(ChangedRow._make, self._execute(self.REPLACE_READINGS)[1]))

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
            binary=True,
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
        for key, meter_pk, ts, value, n in rows:
            found[n - 1].append((key, meter_pk, ts, value))
        return [
            rows if len(rows) < limit else None for rows, limit in zip(found, limits, strict=True)
        ]

    def _probe_keys(self, organization_id, keys):
        return self._execute(self.PROBE_KEYS, (organization_id, keys), binary=True)[1]

    def insert_keys(self, organization_id, rows):
        """Store :class:`KeyRow` rows; keys already stored are left alone."""
        if not rows:
            return 0
        self._stage(
            "ingest_stage_keys",
            "key, meter_pk, ts, value",
            ("text", "int4", "int8", "float8"),
            rows,
        )
        return self._insert_absent(self.INSERT_KEYS, (organization_id,))
