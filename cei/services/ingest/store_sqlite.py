"""The SQLite store: look up what is stored, insert the rest with multi-row ``INSERT``s.

Statements go through the driver (errors are re-raised as SQLAlchemy's, so a lost database
answers 503). Each lookup is a query of its own: SQLite runs in-process. The ingestion holds
the database's write lock from its first lookup (``BEGIN IMMEDIATE``, :mod:`.catalog`), so
what a lookup finds stays true until the commit: every row found absent is inserted by this
transaction, and the values it replaces are the ones the lookup read.
"""

import sqlite3
from functools import lru_cache
from itertools import chain

from sqlalchemy import exc as sa_exc

from cei.services.ingest.store import Store, chunks, replaced_rows, scan_limit

# Rows per multi-row INSERT, at most; fewer when the SQLite build allows fewer parameters
# (999 before SQLite 3.32; 32,766 since).
ROWS_PER_INSERT = 250


@lru_cache(maxsize=64)
def _multi_row_insert(template, row, count):
    """``template`` with ``{rows}`` replaced by ``count`` copies of the placeholders ``row``."""
    return template.format(rows=", ".join([row] * count))


# The stored readings of one meter at given times; only "?" placeholders fill {marks}.
READINGS_AT = "SELECT ts, value FROM readings WHERE meter_pk = ? AND ts IN ({marks})"


class SqliteStore(Store):
    """SQLite: lookups, multi-row inserts, updates, all on the session's connection."""

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
    # Keys with the reading each names (see Store.find_keys).
    FIND_KEYS = "SELECT key, meter_pk, ts, value FROM ingest_keys WHERE organization_id = ? "
    SCAN_KEYS = FIND_KEYS + "AND key BETWEEN ? AND ? LIMIT ?"

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
        return self.driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)

    def _fetch(self, statement, params):
        """Return the rows of a query as the driver's tuples, errors as SQLAlchemy's."""
        try:
            return self.driver.execute(statement, params).fetchall()
        except sqlite3.Error as error:
            raise sa_exc.DBAPIError.instance(
                statement, params, error, sqlite3.Error, dialect=self.connection.dialect
            ) from error

    def _insert_readings(self, rows):
        inserted = self._insert_rows(self.INSERT_READINGS, rows)
        if inserted != len(rows):
            # Cannot happen under the write lock (see the module docstring).
            raise RuntimeError("readings appeared in SQLite under the ingestion's write lock")
        return rows

    def _replace(self, differing):
        changed = replaced_rows(differing)
        params = [(row.kwh, row.meter_pk, row.ts) for row in changed]
        self.connection.exec_driver_sql(self.UPDATE_READINGS, params)
        return changed

    def _stored(self, groups):
        """Return ``{meter_pk: [(ts, kwh)]}`` stored, covering at least the ``groups``."""
        found = {}
        for meter_pk, stamps in groups:
            limit = scan_limit(len(stamps))
            rows = self._fetch(self.SCAN_READINGS, (meter_pk, min(stamps), max(stamps), limit))
            if len(rows) >= limit:
                rows = []
                for part in chunks(sorted(stamps)):
                    marks = ",".join("?" * len(part))
                    rows += self._fetch(READINGS_AT.format(marks=marks), (meter_pk, *part))
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
            rows += self._fetch(self.FIND_KEYS + f"AND key IN ({marks})", (organization_id, *part))
        return rows

    def insert_keys(self, organization_id, rows):
        """Store :class:`KeyRow` rows; keys already stored are left alone."""
        if not rows:
            return 0
        return self._insert_rows(self.INSERT_KEYS, rows, lead=(organization_id,))
