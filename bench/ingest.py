"""Ingestion benchmark: records/s through a real HTTP server, beside the bare database rate.

Starts gunicorn (one sync worker) on 127.0.0.1 against a throwaway SQLite file and against a
PostgreSQL bench database it (re)creates, then sends batches of 24, 1,000 and 5,000 new
records, 5,000-record batches with idempotency keys, and exact replays of 5,000-record
batches. Beside them it measures the bare bulk-insert rate of the same rows in the same run
(sqlite3 ``executemany`` / psycopg binary ``COPY`` + ``INSERT … SELECT … ON CONFLICT DO
NOTHING``, each batch committed, no HTTP, no validation). There are two bare baselines: the
readings alone, for the key-less workloads, and the readings plus one ``ingest_keys`` row per
record in the same transaction, for the keyed ones (a keyed batch stores both).

    .venv/bin/python bench/ingest.py [--pg-url URL] [--no-pg] [--no-sqlite] [--batches N]

The PostgreSQL URL defaults to $CEI_BENCH_DATABASE_URL or
postgresql://postgres@127.0.0.1:5432/cei_bench; its database is dropped and created again,
so it must not be the test database. "service ms" is the ``duration_ms`` the API reports
(validation and storage, without HTTP, JSON parsing and the commit). To profile the server,
point $CEI_BENCH_WSGI at another ``module:app`` (a wrapper around ``wsgi:app``) importable
through $PYTHONPATH. Each run ends with the issue's targets, met or missed, for the keyed and
the key-less workloads alike (factory clients always send idempotency keys).

This VM's speed swings by up to 2× within minutes, so rates measured minutes apart compare
poorly. The interleaved figures alternate one bare insert with one HTTP batch (new, or a
replay) and report the median share of the bare rate: drift cancels out. The replay target
(200k/s) is judged both ways: as a rate, and as the share it is of the bare rate DESIGN §4
measured on this machine (about 400k/s, so 0.5×).
"""

import argparse
import http.client
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit, urlunsplit

import orjson
import requests

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/cei_bench"
PROTECTED_DATABASES = {"test", "postgres", "template0", "template1"}


# --------------------------------------------------------------------------- databases


def prepare_postgres(url):
    """Drop and create the bench database named by ``url``; return ``url``."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"refusing a non-loopback database host: {parts.hostname}")
    if not name or name in PROTECTED_DATABASES:
        raise SystemExit(f"refusing to recreate the database {name!r}; name a bench database")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    return url


def postgres_or_none(url):
    """Prepare the bench database and return its URL, or print why not and return None."""
    try:
        return prepare_postgres(url)
    except Exception as exc:  # noqa: BLE001 - report and carry on without PG
        print(f"\nPostgreSQL skipped: {str(exc).splitlines()[0]}")
        return None


def migrate(url):
    """Create the schema in the database at ``url``."""
    sys.path.insert(0, str(ROOT))
    from flask_migrate import upgrade

    from cei import create_app
    from cei.extensions import db

    app = create_app({"DATABASE_URL": url})
    with app.app_context():
        upgrade()
        db.engine.dispose()


# --------------------------------------------------------------------------- server


def free_port():
    """Return a TCP port free on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """gunicorn serving CEI on 127.0.0.1 with one sync worker."""

    def __init__(self, database_url, log_path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, CEI_DATABASE_URL=database_url, CEI_LOG_LEVEL="INFO")
        env.pop("CEI_REDIS_URL", None)
        self.log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                "1",
                "--worker-class",
                "sync",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--timeout",
                "600",
                "--log-level",
                "warning",
                os.environ.get("CEI_BENCH_WSGI", "wsgi:app"),
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait()
        except BaseException:
            self.stop()
            raise

    def _wait(self):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited with {self.process.returncode}")
            try:
                if requests.get(self.url + "/api/v1/health", timeout=10).ok:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        raise SystemExit("gunicorn did not start within 60 s")

    def worker_pid(self):
        """Return the pid of the (single) worker process."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return int(children.read_text().split()[0])

    def stop(self):
        """Stop gunicorn (the process this object started) and wait for it."""
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


@contextmanager
def serving(database_url, log_path):
    """Run a :class:`Server` for the duration of the block."""
    server = Server(database_url, log_path)
    try:
        yield server
    finally:
        server.stop()


def ingest_token(base_url):
    """Sign up a fresh organization; return an integration token with the ingest scope."""
    stamp = time.time_ns()
    signup = requests.post(
        base_url + "/api/v1/auth/signup",
        json={
            "email": f"bench-{stamp}@example.com",
            "password": "bench password 123",
            "organization_name": "Bench",
        },
        timeout=30,
    )
    signup.raise_for_status()
    access = signup.json()["access_token"]
    created = requests.post(
        base_url + "/api/v1/auth/integration-tokens",
        json={"name": "bench", "scopes": ["ingest"]},
        headers={"Authorization": f"Bearer {access}"},
        timeout=30,
    )
    created.raise_for_status()
    return created.json()["token"]


# --------------------------------------------------------------------------- workloads


def current_hour():
    """Return the start of the current UTC hour."""
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


STEP = timedelta(minutes=15)
STAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def idempotency_key(site, meter, stamp):
    """Return the idempotency key a factory client sends for one reading."""
    return f"factory-{site}-{meter}-{stamp}"


def make_records(meter, size, block, keys=False, site="bench"):
    """Return ``size`` 15-minute records for ``meter``, in block ``block`` going back in time."""
    end = current_hour() - block * size * STEP
    records = []
    for i in range(size):
        moment = end - i * STEP
        stamp = moment.strftime(STAMP_FORMAT)
        record = {
            "site_id": site,
            "meter_id": meter,
            "timestamp_utc": stamp,
            "value": 100.0 + (i % 50) * 0.5,
            "unit": "kWh",
        }
        if keys:
            record["idempotency_key"] = idempotency_key(site, meter, stamp)
        records.append(record)
    return records


class Sender:
    """POSTs pre-serialised batches and keeps the timings.

    The standard library's ``http.client`` is the client: ``requests`` added about 2 ms of
    its own work to every 5,000-record batch, on the CPUs the server needs too.
    """

    def __init__(self, base_url, token):
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port
        self.path = parts.path + "/api/v1/timeseries/batch"
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.connection = http.client.HTTPConnection(self.host, self.port, timeout=600)

    def send(self, body):
        """POST ``body`` (bytes); return (seconds, result JSON)."""
        started = time.perf_counter()
        self.connection.request("POST", self.path, body=body, headers=self.headers)
        response = self.connection.getresponse()
        content = response.read()
        elapsed = time.perf_counter() - started
        if response.status != 200:
            raise SystemExit(f"HTTP {response.status}: {content[:500]!r}")
        return elapsed, orjson.loads(content)

    def run(self, batches, expect):
        """Send each batch (list of records); check the counter ``expect``; return a Run."""
        bodies = [orjson.dumps({"records": records, "source": "bench"}) for records in batches]
        run = Run(len(batches[0]))
        for body, records in zip(bodies, batches, strict=True):
            elapsed, result = self.send(body)
            if result[expect] != len(records) or result["failed"]:
                counts = {key: value for key, value in result.items() if key != "errors"}
                first = result["errors"][:3]
                raise SystemExit(f"unexpected result (wanted {expect}): {counts}, {first}")
            run.seconds.append(elapsed)
            run.service_ms.append(result["duration_ms"])
        return run


class Run:
    """Timings of batches of one size: whole requests, and the service's own duration_ms."""

    def __init__(self, size):
        self.size = size
        self.seconds = []
        self.service_ms = []

    @property
    def rate(self):
        """Records per second of the median batch (robust to a noisy neighbour)."""
        return self.size / statistics.median(self.seconds)

    @property
    def median_ms(self):
        """Median request time, ms."""
        return statistics.median(self.seconds) * 1000

    @property
    def service_median_ms(self):
        """Median time inside the ingestion service (no HTTP, JSON parsing or commit), ms."""
        return statistics.median(self.service_ms)


def median_rate(size, timings):
    """Return records per second of the median timing."""
    return size / statistics.median(timings)


def run_http(sender, batches_per_size):
    """Run the HTTP workloads; return ``{label: Run}``."""
    figures = {}
    for size in (24, 1000, 5000):
        count = max(3, batches_per_size * 5000 // (size * 5)) if size < 5000 else batches_per_size
        meter = f"new-{size}"
        sender.run([make_records(meter, size, 0)], "ingested")  # creates the meter
        batches = [make_records(meter, size, block) for block in range(1, count + 1)]
        figures[f"new {size}"] = sender.run(batches, "ingested")
        if size == 5000:
            figures["replay 5000"] = sender.run(batches, "skipped_duplicate")
    meter = "keyed-5000"
    sender.run([make_records(meter, 5000, 0, keys=True)], "ingested")
    batches = [make_records(meter, 5000, b, keys=True) for b in range(1, batches_per_size + 1)]
    figures["new 5000 + keys"] = sender.run(batches, "ingested")
    figures["replay 5000 + keys"] = sender.run(batches, "skipped_duplicate")
    return figures


def bare_rows(meter_pk, block, size=5000):
    """Return the rows a 5,000-record batch stores, for the bare-rate measurement."""
    step = int(STEP.total_seconds())
    end = int(current_hour().timestamp()) - block * size * step
    return [(meter_pk, end - i * step, 100.0 + (i % 50) * 0.5) for i in range(size)]


class KeySpace(NamedTuple):
    """Where the bare keyed insert puts its idempotency keys.

    The organization, and the site and meter the keys name (as :func:`make_records`
    builds them): the bare meter's own, so no key collides with an HTTP batch's.
    """

    organization_id: int
    site: str
    meter: str


def bare_key_rows(rows, keys):
    """Return the ``(key, meter_pk, ts, value)`` rows a keyed batch of ``rows`` stores."""
    return [
        (
            idempotency_key(
                keys.site, keys.meter, datetime.fromtimestamp(ts, UTC).strftime(STAMP_FORMAT)
            ),
            meter_pk,
            ts,
            value,
        )
        for meter_pk, ts, value in rows
    ]


SQLITE_BARE_READINGS = (
    "INSERT INTO readings (meter_pk, ts, value) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
)
SQLITE_BARE_KEYS = (
    "INSERT INTO ingest_keys (organization_id, key, meter_pk, ts, value) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)


def bare_sqlite(path, meter_pk, blocks, keys=None):
    """Return the seconds of bare sqlite3 executemany batches, one commit per batch.

    With ``keys`` (a :class:`KeySpace`) each batch also stores one ``ingest_keys`` row per
    reading, in the same transaction.
    """
    connection = sqlite3.connect(path, timeout=30)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
        connection.execute(f"PRAGMA {pragma}")
    timings = []
    for block in blocks:
        rows = bare_rows(meter_pk, block)
        key_rows = []
        if keys is not None:
            key_rows = [(keys.organization_id, *row) for row in bare_key_rows(rows, keys)]
        started = time.perf_counter()
        inserted = connection.executemany(SQLITE_BARE_READINGS, rows).rowcount
        if key_rows:
            inserted += connection.executemany(SQLITE_BARE_KEYS, key_rows).rowcount
        connection.commit()
        timings.append(time.perf_counter() - started)
        assert inserted == len(rows) + len(key_rows), inserted
    connection.close()
    return timings


POSTGRES_BARE_STAGES = (
    "CREATE TEMP TABLE IF NOT EXISTS bare_stage "
    "(meter_pk int4, ts int8, value float8) ON COMMIT DELETE ROWS",
    "CREATE TEMP TABLE IF NOT EXISTS bare_stage_keys "
    "(key text, meter_pk int4, ts int8, value float8) ON COMMIT DELETE ROWS",
)
POSTGRES_BARE_KEYS = (
    "INSERT INTO ingest_keys (organization_id, key, meter_pk, ts, value) "
    "SELECT %s, key, meter_pk, ts, value FROM bare_stage_keys ORDER BY key "
    "ON CONFLICT DO NOTHING"
)


def copy_rows(cursor, table, types, rows):
    """Binary-COPY ``rows`` (of the psycopg ``types``) into ``table``."""
    with cursor.copy(f"COPY {table} FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)


def bare_postgres(url, meter_pk, blocks, table="readings", keys=None):
    """Return the seconds of bare psycopg COPY + INSERT … SELECT batches, one commit each.

    With ``keys`` (a :class:`KeySpace`) each batch also stores one ``ingest_keys`` row per
    reading, through a second stage, in the same transaction. The stages are created
    before the clock starts: the server creates its own once per pooled connection.
    """
    import psycopg

    timings = []
    with psycopg.connect(url) as connection:
        for statement in POSTGRES_BARE_STAGES:
            connection.execute(statement)
        connection.commit()
        for block in blocks:
            rows = bare_rows(meter_pk, block)
            key_rows = bare_key_rows(rows, keys) if keys is not None else []
            started = time.perf_counter()
            with connection.cursor() as cursor:
                copy_rows(cursor, "bare_stage", ["int4", "int8", "float8"], rows)
                cursor.execute(
                    f"INSERT INTO {table} (meter_pk, ts, value) SELECT meter_pk, ts, value "
                    "FROM bare_stage ORDER BY meter_pk, ts ON CONFLICT DO NOTHING"
                )
                inserted = cursor.rowcount
                if key_rows:
                    types = ["text", "int4", "int8", "float8"]
                    copy_rows(cursor, "bare_stage_keys", types, key_rows)
                    cursor.execute(POSTGRES_BARE_KEYS, (keys.organization_id,))
                    inserted += cursor.rowcount
            connection.commit()
            timings.append(time.perf_counter() - started)
            assert inserted == len(rows) + len(key_rows), inserted
    return timings


def meter_row_sqlite(path, meter_id):
    """Return ``(primary key, organization_id)`` of the bench meter ``meter_id`` (SQLite)."""
    with sqlite3.connect(path) as connection:
        found = connection.execute(
            "SELECT id, organization_id FROM meters WHERE meter_id = ?", (meter_id,)
        )
        return found.fetchone()


def meter_pk_sqlite(path, meter_id):
    """Return the primary key of the bench meter ``meter_id`` (SQLite)."""
    return meter_row_sqlite(path, meter_id)[0]


def meter_row_postgres(url, meter_id):
    """Return ``(primary key, organization_id)`` of the bench meter ``meter_id`` (PostgreSQL)."""
    import psycopg

    with psycopg.connect(url) as connection:
        return connection.execute(
            "SELECT id, organization_id FROM meters WHERE meter_id = %s", (meter_id,)
        ).fetchone()


def meter_pk_postgres(url, meter_id):
    """Return the primary key of the bench meter ``meter_id`` (PostgreSQL)."""
    return meter_row_postgres(url, meter_id)[0]


# --------------------------------------------------------------------------- report

# The two bare baselines: the readings alone (for the key-less workloads), and the readings
# plus their idempotency keys (for the keyed ones: a keyed batch stores both).
BARE = "bare readings"
BARE_KEYED = "bare readings+keys"


def bare_blocks(rounds, use):
    """Return the bare meter's blocks for the ``use``-th series of ``rounds`` bare batches.

    Each series gets blocks of its own, so every bare insert (readings and keys) is new data.
    """
    return range(use * rounds + 1, (use + 1) * rounds + 1)


def bench_backend(name, url, bare, batches, workdir):
    """Benchmark one database; print its figures.

    ``bare(meter_id, blocks, keys=False)`` returns the seconds of one bare 5,000-row insert
    per block; with ``keys`` the insert also stores the readings' idempotency keys.
    """
    migrate(url)
    with serving(url, Path(workdir) / f"gunicorn-{name}.log") as server:
        sender = Sender(server.url, ingest_token(server.url))
        figures = run_http(sender, batches)
        sender.run([make_records("bare", 1, 0)], "ingested")  # the bare meter's row
        shares = interleaved_shares(sender, bare, batches)
    bare_rates = {
        BARE: median_rate(5000, bare("bare", bare_blocks(batches, 0))),
        BARE_KEYED: median_rate(5000, bare("bare", bare_blocks(batches, 1), keys=True)),
    }
    print_figures(name, figures, bare_rates)
    print("  interleaved (one bare batch, then one HTTP batch, same moments; median of ratios):")
    for (label, baseline), share in shares.items():
        judged = (label, baseline) in TARGET_SHARES or label.startswith("replay")
        note = "" if judged else "  (information only)"
        print(f"    {label:<26} {share:>6.2f}× {baseline}{note}")
    print_targets(name, figures, shares)


def print_figures(name, figures, bare_rates):
    """Print the HTTP figures, each beside its bare baseline, then the bare rates."""
    print(f"\n{name}: records/s end to end (gunicorn, 1 worker) vs bare bulk insert")
    print(
        f"  {'workload':<28} {'records/s':>10} {'median ms':>10} {'service ms':>11} {'× bare':>7}"
    )
    for label, run in figures.items():
        bare_rate = bare_rates[BARE_KEYED if label.endswith("+ keys") else BARE]
        print(
            f"  {label:<28} {run.rate:>10,.0f} {run.median_ms:>10.1f} "
            f"{run.service_median_ms:>11.1f} {run.rate / bare_rate:>7.2f}"
        )
    for label, baseline in (("bare insert 5000", BARE), ("bare insert 5000 + keys", BARE_KEYED)):
        rate = bare_rates[baseline]
        print(f"  {label:<28} {rate:>10,.0f} {5000 / rate * 1000:>10.1f}")
    print("  (× bare: keyed workloads against the bare readings+keys insert, others readings)")


def interleaved_shares(sender, bare, rounds):
    """Return ``{(label, baseline): median of bare_seconds / http_seconds}``.

    The machine's speed drifts (noisy neighbours): a ratio of two rates measured minutes
    apart says more about the drift than about CEI. Alternating one bare insert with one
    HTTP batch measures both under the same load. Keyed batches are compared with the bare
    readings+keys insert, and, for information, with a bare readings-only insert run right
    after the HTTP batch.
    """
    pairs = (
        ("new 5000", BARE),
        ("replay 5000", BARE),
        ("new 5000 + keys", BARE_KEYED),
        ("new 5000 + keys", BARE),
    )
    ratios = {pair: [] for pair in pairs}
    sender.run([make_records("interleaved", 1, 0)], "ingested")  # creates the meters
    sender.run([make_records("interleaved-keys", 1, 0, keys=True)], "ingested")
    for block, bare_block in zip(range(1, rounds + 1), bare_blocks(rounds, 2), strict=True):
        bare_seconds = bare("bare", [bare_block])[0]
        run = sender.run([make_records("interleaved", 5000, block)], "ingested")
        ratios["new 5000", BARE].append(bare_seconds / run.seconds[0])
    for block, bare_block in zip(range(1, rounds + 1), bare_blocks(rounds, 5), strict=True):
        bare_seconds = bare("bare", [bare_block])[0]
        run = sender.run([make_records("interleaved", 5000, block)], "skipped_duplicate")
        ratios["replay 5000", BARE].append(bare_seconds / run.seconds[0])
    keyed = zip(range(1, rounds + 1), bare_blocks(rounds, 3), bare_blocks(rounds, 4), strict=True)
    for block, keyed_block, bare_block in keyed:
        keyed_seconds = bare("bare", [keyed_block], keys=True)[0]
        run = sender.run([make_records("interleaved-keys", 5000, block, keys=True)], "ingested")
        bare_seconds = bare("bare", [bare_block])[0]
        ratios["new 5000 + keys", BARE_KEYED].append(keyed_seconds / run.seconds[0])
        ratios["new 5000 + keys", BARE].append(bare_seconds / run.seconds[0])
    return {pair: statistics.median(values) for pair, values in ratios.items()}


# The targets: new 5,000-record batches at 0.4× the bare bulk-insert rate of what
# they store (readings, or readings and their idempotency keys, as factory clients send
# them); exact replays of 5,000 at 200k records/s on SQLite.
NEW_SHARE_OF_BARE = 0.4
TARGET_SHARES = (("new 5000", BARE), ("new 5000 + keys", BARE_KEYED))
REPLAY_RATE = {"SQLite": 200_000}
# DESIGN §4 measured the bare sqlite3 executemany at about 400k records/s on this machine
# (220k/s = 0.55× bare): 200k/s replays there are half the bare rate. This VM's speed swings
# by up to 2× within minutes, so the replay target is also judged as that share, measured
# interleaved with bare inserts (free of drift).
REPLAY_SHARE_OF_BARE = {"SQLite": 0.5}


def print_targets(name, figures, shares):
    """Print whether each targeted workload met its target."""
    print("  targets:")
    for label, baseline in TARGET_SHARES:
        share = shares[label, baseline]
        verdict = "met" if share >= NEW_SHARE_OF_BARE else "MISSED"
        target = f"{NEW_SHARE_OF_BARE:.2f}× {baseline}"
        print(f"    {label:<26} {share:>9.2f}× / {target:<24}  {verdict}")
    for label in ("replay 5000", "replay 5000 + keys"):
        if name in REPLAY_RATE:
            rate, target = figures[label].rate, REPLAY_RATE[name]
            verdict = "met" if rate >= target else "MISSED"
            print(f"    {label:<26} {rate:>10,.0f} / {target:>9,.0f}  {verdict}")
    if name in REPLAY_SHARE_OF_BARE:
        share, target = shares["replay 5000", BARE], REPLAY_SHARE_OF_BARE[name]
        verdict = "met" if share >= target else "MISSED"
        label = "replay 5000 (interleaved)"
        print(f"    {label:<26} {share:>9.2f}× / {target:.2f}× {BARE:<19}  {verdict}")


def main(argv=None):
    """Run the benchmark; print figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pg-url", default=os.environ.get("CEI_BENCH_DATABASE_URL", DEFAULT_PG_URL)
    )
    parser.add_argument("--no-pg", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--no-sqlite", action="store_true", help="skip SQLite")
    parser.add_argument("--batches", type=int, default=8, help="timed 5,000-record batches")
    args = parser.parse_args(argv)
    print(f"ingest bench on {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="cei-bench-") as workdir:
        if not args.no_sqlite:
            path = str(Path(workdir) / "bench.sqlite3")

            def bare(meter, blocks, keys=False):
                pk, organization_id = meter_row_sqlite(path, meter)
                space = KeySpace(organization_id, "bench", meter) if keys else None
                return bare_sqlite(path, pk, blocks, keys=space)

            bench_backend("SQLite", "sqlite:///" + path, bare, args.batches, workdir)
        if not args.no_pg:
            url = postgres_or_none(args.pg_url)
            if url is None:
                return

            def bare(meter, blocks, keys=False):
                pk, organization_id = meter_row_postgres(url, meter)
                space = KeySpace(organization_id, "bench", meter) if keys else None
                return bare_postgres(url, pk, blocks, keys=space)

            bench_backend("PostgreSQL", url, bare, args.batches, workdir)


if __name__ == "__main__":
    main()
