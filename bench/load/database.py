"""The load test's database: preparing it, the bare insert rate, and the counts it checks.

Plain psycopg and SQL: the bench looks at the tables as an operator would, without the app.
"""

from __future__ import annotations

import threading
import time
from typing import NamedTuple
from urllib.parse import urlsplit, urlunsplit

LOOPBACK = ("127.0.0.1", "localhost", "::1")
# Databases the bench never drops (the suite's CI database, PostgreSQL's own).
PROTECTED = {"test", "postgres", "template0", "template1"}


def database_name(url):
    """Return the database name of a PostgreSQL URL."""
    return urlsplit(url).path.lstrip("/")


def check_loopback(url):
    """Refuse a server that is not on this machine (the load test is loopback only)."""
    host = urlsplit(url).hostname
    if host not in LOOPBACK:
        raise SystemExit(f"refusing a non-loopback server: {host}")


def create_fresh(url):
    """Drop and create the database named by ``url`` (never a protected one); return ``url``."""
    import psycopg

    check_loopback(url)
    name = database_name(url)
    if not name or name in PROTECTED:
        raise SystemExit(f"refusing to recreate the database {name!r}; name one of your own")
    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    return url


def server_settings(url):
    """A few server settings worth printing beside the figures."""
    import psycopg

    names = ("server_version", "max_connections", "shared_buffers", "synchronous_commit")
    with psycopg.connect(url) as connection:
        return {name: connection.execute(f"SHOW {name}").fetchone()[0] for name in names}


# --------------------------------------------------------------------------- bare insert

STAGE = (
    "CREATE TEMP TABLE IF NOT EXISTS bare_stage "
    "(meter_pk int4, ts int8, value float8) ON COMMIT DELETE ROWS"
)
MOVE = (
    "INSERT INTO readings (meter_pk, ts, value) SELECT meter_pk, ts, value "
    "FROM bare_stage ORDER BY meter_pk, ts ON CONFLICT DO NOTHING"
)
BARE_STEP = 900  # seconds between a bare meter's readings
# Each bare connection writes its own stretch of time, so no two rows collide.
BARE_STRETCH = 1_000_000


class BareRate(NamedTuple):
    """Rows/s of bare COPY batches over ``connections`` connections, and the batch median."""

    connections: int
    rows_per_second: float
    median_batch_ms: float
    batches: int


def bare_insert_rate(url, meter_pk, size, seconds, connections, start_ts):
    """Insert ``size``-row batches for ``seconds`` over ``connections`` connections, bare.

    Each batch is what the ingestion path does at its core, without HTTP, parsing,
    validation or rollups: binary ``COPY`` into a temporary table, ``INSERT … SELECT …
    ON CONFLICT DO NOTHING`` into ``readings``, commit (as ``bench/ingest.py`` measures it).
    """
    import psycopg

    deadline = time.perf_counter() + seconds
    timings, lock, failures = [], threading.Lock(), []

    def writer(number):
        try:
            with psycopg.connect(url) as connection:
                connection.execute(STAGE)
                connection.commit()
                block = 0
                first = start_ts - number * BARE_STRETCH * BARE_STEP
                while time.perf_counter() < deadline:
                    base = first - block * size * BARE_STEP
                    rows = [(meter_pk, base - i * BARE_STEP, 1.0 + i % 97) for i in range(size)]
                    started = time.perf_counter()
                    with connection.cursor() as cursor:
                        with cursor.copy("COPY bare_stage FROM STDIN (FORMAT BINARY)") as copy:
                            copy.set_types(["int4", "int8", "float8"])
                            for row in rows:
                                copy.write_row(row)
                        cursor.execute(MOVE)
                        inserted = cursor.rowcount
                    connection.commit()
                    elapsed = time.perf_counter() - started
                    if inserted != size:
                        raise RuntimeError(f"bare batch stored {inserted} of {size} rows")
                    with lock:
                        timings.append(elapsed)
                    block += 1
        except Exception as exc:  # noqa: BLE001 - reported by the caller
            failures.append(exc)

    started = time.perf_counter()
    threads = [threading.Thread(target=writer, args=(n,)) for n in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if failures:
        raise SystemExit(f"bare insert failed: {failures[0]}")
    timings.sort()
    median = timings[len(timings) // 2] if timings else float("nan")
    return BareRate(connections, len(timings) * size / wall, median * 1000, len(timings))


def delete_meter_readings(url, meter_pk):
    """Delete the bare meter's readings (they are no load data); return how many."""
    import psycopg

    with psycopg.connect(url) as connection:
        return connection.execute("DELETE FROM readings WHERE meter_pk = %s", (meter_pk,)).rowcount


def meter_pk(url, organization_id, site_id, meter_id):
    """Return the primary key of a meter of the organization."""
    import psycopg

    with psycopg.connect(url) as connection:
        row = connection.execute(
            "SELECT meters.id FROM meters JOIN sites ON sites.id = meters.site_pk "
            "WHERE sites.organization_id = %s AND sites.site_id = %s AND meters.meter_id = %s",
            (organization_id, site_id, meter_id),
        ).fetchone()
    if row is None:
        raise SystemExit(f"meter {site_id}/{meter_id} not found")
    return row[0]


# --------------------------------------------------------------------------- counts


def reading_count(url, organization_id, site_ids):
    """Return the number of stored readings of the organization's sites ``site_ids``."""
    import psycopg

    with psycopg.connect(url) as connection:
        return connection.execute(
            "SELECT count(*) FROM readings JOIN meters ON meters.id = readings.meter_pk "
            "JOIN sites ON sites.id = meters.site_pk "
            "WHERE sites.organization_id = %s AND sites.site_id = ANY(%s)",
            (organization_id, list(site_ids)),
        ).fetchone()[0]


class Run(NamedTuple):
    """One analysis run as the table holds it."""

    id: int
    site_id: str
    trigger: str
    status: str
    queued_at: object
    started_at: object
    finished_at: object
    error: str | None
    duration_ms: float | None


def runs(url, organization_id, since_id=0):
    """Return the organization's analysis runs with an id above ``since_id``, by id."""
    import psycopg

    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT analysis_runs.id, sites.site_id, trigger, status, queued_at, started_at, "
            "finished_at, error, duration_ms "
            "FROM analysis_runs JOIN sites ON sites.id = analysis_runs.site_pk "
            "WHERE analysis_runs.organization_id = %s AND analysis_runs.id > %s "
            "ORDER BY analysis_runs.id",
            (organization_id, since_id),
        ).fetchall()
    return [Run(*row) for row in rows]


def due_sites(url, organization_id):
    """Return the site ids of the organization still marked due for analysis."""
    import psycopg

    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT sites.site_id FROM due_analyses JOIN sites ON sites.id = due_analyses.site_pk "
            "WHERE sites.organization_id = %s ORDER BY sites.site_id",
            (organization_id,),
        ).fetchall()
    return [row[0] for row in rows]


def pending_work(url, organization_id):
    """Return ``(runs queued or running, sites marked due)`` of the organization.

    One statement, so one snapshot: the dispatcher turns a due mark into a queued run in
    one transaction, and two separate queries could miss it between them.
    """
    import psycopg

    with psycopg.connect(url) as connection:
        return connection.execute(
            "SELECT (SELECT count(*) FROM analysis_runs WHERE organization_id = %(org)s "
            "AND status IN ('queued', 'running')), "
            "(SELECT count(*) FROM due_analyses JOIN sites ON sites.id = due_analyses.site_pk "
            "WHERE sites.organization_id = %(org)s)",
            {"org": organization_id},
        ).fetchone()


def database_bytes(url):
    """Return the size of the database on disk, bytes."""
    import psycopg

    with psycopg.connect(url) as connection:
        return connection.execute("SELECT pg_database_size(current_database())").fetchone()[0]


def sessions_opened(url):
    """Return how many sessions the database has had since its statistics were reset."""
    import psycopg

    with psycopg.connect(url) as connection:
        return connection.execute(
            "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()[0]


def backend_pids(url):
    """Return the pids of the server processes connected to this database (not ours)."""
    import psycopg

    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        ).fetchall()
    return [row[0] for row in rows]
