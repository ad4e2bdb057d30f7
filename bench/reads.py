"""Read API benchmark: series latency and CSV export throughput with 1,000,000 readings stored.

For SQLite (a file in a temporary folder) and PostgreSQL (database ``cei_bench_reads``, dropped
and created by this script), it stores one site with 1,000,000 readings: a main meter with
90 days of hourly data plus 15-minute sub-meters. It starts gunicorn (one worker) on 127.0.0.1
and prints:

- series: 90 days of hourly site-total data, server time measured in-process (Flask test client
  on the same app and database, so no HTTP) and the HTTP round trip through gunicorn;
- export: all 1,000,000 readings of the site as CSV over HTTP, in rows/s, with the worker's
  memory growth (VmRSS sampled during the download, and VmHWM, from /proc).

It also stores a second site with one hourly meter over the same 90 days and compares the
90-day hourly series of the big site's total with every meter summed (no main meter: the
hourly rollups) against that one-meter site.

Targets: series < 50 ms server time, and the many-meter site total at most 2x the one-meter
site; export >= 100,000 rows/s with < 200 MB growth.

    .venv/bin/python bench/reads.py [--no-sqlite] [--no-pg] [--pg-url URL] [--rows N]
"""

import argparse
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PG_URL = "postgresql://postgres@127.0.0.1:5432/cei_bench_reads"
SECRET_KEY = "bench-reads-secret-key-" + "x" * 32
FAST_ARGON2 = {"ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 1024, "ARGON2_PARALLELISM": 1}
HOUR = 3600
DAYS = 90
SUB_INTERVAL = 900
SITE_ID = "plant-1"
SINGLE_SITE_ID = "single-1"
TARGET_RATIO = 2.0
TARGET_SERIES_MS = 50
TARGET_EXPORT_ROWS_S = 100_000
TARGET_GROWTH_MB = 200
SERIES_CASE = "series hour 90 d (site total)"
MANY_CASE = "many meters summed"
SINGLE_CASE = "one-meter site"


# --------------------------------------------------------------------------- the data set


def layout(total_rows, end):
    """Return ``[(meter_id, is_main, interval_s, first_ts, count)]`` adding up to total_rows.

    The main meter has 90 days of hourly readings ending at ``end``; 15-minute sub-meters
    fill the rest, each over the same 90 days (the last one only partly).
    """
    start = end - DAYS * 86400
    meters = [("main", True, HOUR, start, DAYS * 24)]
    left = total_rows - DAYS * 24
    per_meter = DAYS * 86400 // SUB_INTERVAL
    number = 0
    while left > 0:
        number += 1
        count = min(per_meter, left)
        first = end - count * SUB_INTERVAL
        meters.append((f"line-{number:03d}", False, SUB_INTERVAL, first, count))
        left -= count
    return meters


def reading_rows(meter_pk, interval, first, count):
    """Yield ``(meter_pk, ts, kWh)`` with a daily shape, so values are not all equal."""
    for i in range(count):
        ts = first + i * interval
        yield meter_pk, ts, 5.0 + (ts // HOUR) % 24 * 0.75 + (i % 7) * 0.125


def create_account(app, meters):
    """Sign up an org, create the site and meters, issue a read token; return (token, pks)."""
    from cei.extensions import db
    from cei.services import accounts, sites, tokens

    with app.app_context():
        user = accounts.sign_up("bench@example.com", "bench password 123", "Bench Org")
        organization = user.organization
        site = sites.create_site(organization, SITE_ID, timezone="Europe/Rome")
        pks = {}
        for meter_id, is_main, interval, _, _ in meters:
            meter = sites.add_meter(
                site, meter_id, is_main=is_main, interval_minutes=interval // 60
            )
            pks[meter_id] = meter.id
        single = sites.create_site(organization, SINGLE_SITE_ID, timezone="Europe/Rome")
        pks[SINGLE_SITE_ID] = sites.add_meter(single, "main", interval_minutes=60).id
        _, raw = tokens.issue_token(organization, "bench reader", ["read"])
        db.session.commit()
    return raw, pks


def all_rows(meters, pks):
    """Yield every reading: the big site's meters, then the one-meter site's."""
    for meter_id, _, interval, first, count in meters:
        yield from reading_rows(pks[meter_id], interval, first, count)
    main = meters[0]
    yield from reading_rows(pks[SINGLE_SITE_ID], main[2], main[3], main[4])


def load_sqlite(path, meters, pks):
    """Bulk-insert the readings with sqlite3 executemany."""
    with sqlite3.connect(path) as connection:
        connection.executemany(
            "INSERT INTO readings (meter_pk, ts, value) VALUES (?, ?, ?)", all_rows(meters, pks)
        )


def load_postgres(url, meters, pks):
    """Bulk-insert the readings with COPY."""
    import psycopg

    with psycopg.connect(url) as connection:
        with connection.cursor() as cursor:
            with cursor.copy("COPY readings (meter_pk, ts, value) FROM STDIN") as copy:
                for row in all_rows(meters, pks):
                    copy.write_row(row)
        connection.commit()


def rebuild_rollups(app):
    """Build the rollups from the bulk-loaded readings (``cei rollups rebuild``), analyse."""
    from cei.extensions import db
    from cei.services import rollups

    with app.app_context():
        started = time.perf_counter()
        rollups.rebuild_rollups(db.session.connection())
        db.session.commit()
        print(f"  rollups rebuilt in {time.perf_counter() - started:.1f} s")
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect() as connection:
                connection = connection.execution_options(isolation_level="AUTOCOMMIT")
                connection.exec_driver_sql("VACUUM ANALYZE")
        else:
            db.session.execute(db.text("ANALYZE"))
            db.session.commit()


def prepare_postgres(url):
    """Drop and create the bench database (never anything but ``cei_bench_reads``)."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if name != "cei_bench_reads" or parts.hostname not in ("127.0.0.1", "localhost"):
        raise SystemExit(f"refusing to recreate {url}: only local cei_bench_reads")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def drop_postgres(url):
    """Drop the bench database."""
    import psycopg

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')


def build(url, total_rows):
    """Create schema, account and readings; return ``(app, token, layout)``."""
    from flask_migrate import upgrade

    from cei import create_app

    app = create_app(
        {"DATABASE_URL": url, "SECRET_KEY": SECRET_KEY, "LOG_LEVEL": "WARNING", **FAST_ARGON2}
    )
    with app.app_context():
        upgrade()
    end = int(time.time()) // HOUR * HOUR + HOUR
    meters = layout(total_rows, end)
    token, pks = create_account(app, meters)
    started = time.perf_counter()
    if url.startswith("sqlite"):
        load_sqlite(url.removeprefix("sqlite:///"), meters, pks)
    else:
        load_postgres(url, meters, pks)
    print(
        f"  loaded {total_rows + meters[0][4]:,} readings in {time.perf_counter() - started:.1f} s"
    )
    rebuild_rollups(app)
    return app, token, meters


# --------------------------------------------------------------------------- the server


def free_port():
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_serving(process, base):
    """Wait for gunicorn to answer its health check."""
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited with {process.returncode}")
        try:
            requests.get(f"{base}/api/v1/health", timeout=10)
            return
        except (requests.ConnectionError, requests.Timeout):
            if time.monotonic() > deadline:
                raise SystemExit("gunicorn did not start within 60 s") from None
            time.sleep(0.2)


@contextmanager
def gunicorn(url, workdir):
    """Serve CEI with gunicorn (one worker) on 127.0.0.1; yield ``(base_url, worker_pid)``."""
    port = free_port()
    env = {
        **os.environ,
        "CEI_DATABASE_URL": url,
        "CEI_SECRET_KEY": SECRET_KEY,
        "CEI_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "gunicorn", "--workers", "1", "--timeout", "300"]
    command += ["--bind", f"127.0.0.1:{port}", "wsgi:app"]
    with open(Path(workdir) / "gunicorn.log", "wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_serving(process, base)
            children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text()
            yield base, int(children.split()[0])
        finally:
            process.terminate()
            process.wait(timeout=30)


def memory_kb(pid, field):
    """Return ``VmRSS`` / ``VmHWM`` of ``pid`` in kB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


class RssSampler(threading.Thread):
    """Sample a process's VmRSS every few milliseconds; keep the peak."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = memory_kb(pid, "VmRSS")
        self.done = threading.Event()

    def run(self):
        while not self.done.wait(0.01):
            self.peak = max(self.peak, memory_kb(self.pid, "VmRSS"))


# --------------------------------------------------------------------------- measurements


def timed(call, repeat):
    """Run ``call`` ``repeat`` times; return the durations in ms."""
    durations = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        durations.append((time.perf_counter() - started) * 1000)
    return durations


def describe(durations):
    """``median / p95 / max`` of durations in ms."""
    ordered = sorted(durations)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"median {statistics.median(ordered):6.1f} ms  p95 {p95:6.1f} ms  max {ordered[-1]:6.1f}"


def window_params(meters):
    """Query string for the 90 days of the main meter's data."""
    from cei.services.windows import iso_utc

    first, count = meters[0][3], meters[0][4]
    return {"site_id": SITE_ID, "start": iso_utc(first), "end": iso_utc(first + count * HOUR)}


def read_cases(meters):
    """``[(label, endpoint, params)]`` measured by :func:`bench_reads`."""
    window = window_params(meters)
    one_meter = {**window, "meter_id": meters[1][0]}
    return [
        (SERIES_CASE, "series", {**window, "resolution": "hour"}),
        ("series day 90 d (site total)", "series", {**window, "resolution": "day"}),
        ("summary 90 d (site total)", "summary", window),
        ("series hour 90 d, one 15-min meter", "series", one_meter),
        ("coverage 90 d, one 15-min meter", "coverage", one_meter),
    ]


def measure(app, base, headers, label, endpoint, params, repeat):
    """Print the in-process and HTTP timings of one request; return the in-process median."""
    client = app.test_client()
    session = requests.Session()
    path = f"/api/v1/timeseries/{endpoint}"

    def in_process():
        response = client.get(path, query_string=params, headers=headers)
        assert response.status_code == 200, response.get_json()
        return response

    def over_http():
        response = session.get(base + path, params=params, headers=headers, timeout=30)
        assert response.status_code == 200, response.text[:300]
        return response

    points = in_process().get_json().get("points")
    over_http()
    local = timed(in_process, repeat)
    remote = timed(over_http, repeat)
    extra = f"{len(points)} points" if isinstance(points, list) else ""
    print(f"  {label:44s} in-process {describe(local)}   {extra}")
    print(f"  {'':44s} HTTP       {describe(remote)}")
    return statistics.median(local)


def bench_reads(app, base, token, meters, repeat):
    """Measure the read endpoints; return ``{label: in-process median ms}``."""
    headers = {"Authorization": f"Bearer {token}"}
    results = {
        label: measure(app, base, headers, label, endpoint, params, repeat)
        for label, endpoint, params in read_cases(meters)
    }
    # With no main meter the site total adds every meter: the site's hourly rollup rows
    # (2,160 for 90 days) instead of the main meter's own readings. Unmark it through the
    # service, which rebuilds the site's rollups as the API would.
    from cei.extensions import db
    from cei.models import Organization
    from cei.services import sites

    with app.app_context():
        organization = db.session.scalars(db.select(Organization)).first()
        site = sites.get_site(organization, SITE_ID)
        started = time.perf_counter()
        sites.update_meter(site, "main", is_main=False)
        db.session.commit()
        print(
            f"  main meter unmarked, site rollups rebuilt in {time.perf_counter() - started:.1f} s"
        )
    params = {**window_params(meters), "resolution": "hour"}
    many = f"series hour 90 d, {len(meters)} meters summed"
    results[MANY_CASE] = measure(app, base, headers, many, "series", params, repeat)
    single = {**params, "site_id": SINGLE_SITE_ID}
    results[SINGLE_CASE] = measure(
        app, base, headers, "series hour 90 d, one-meter site", "series", single, repeat
    )
    return results


def bench_export(base, worker_pid, token, expected_rows):
    """Download the whole site as CSV; return ``(rows, seconds, growth_mb)``."""
    headers = {"Authorization": f"Bearer {token}"}
    params = {"site_id": SITE_ID, "start": "2000-01-01T00:00:00Z", "end": "2100-01-01T00:00:00Z"}
    before = memory_kb(worker_pid, "VmRSS")
    sampler = RssSampler(worker_pid)
    sampler.start()
    newlines = size = 0
    started = time.perf_counter()
    with requests.get(
        f"{base}/api/v1/timeseries/export", params=params, headers=headers, stream=True, timeout=300
    ) as response:
        assert response.status_code == 200, response.text[:300]
        for chunk in response.iter_content(1 << 20):
            newlines += chunk.count(b"\n")
            size += len(chunk)
    seconds = time.perf_counter() - started
    sampler.done.set()
    sampler.join()
    peak = max(sampler.peak, memory_kb(worker_pid, "VmHWM"))
    rows = newlines - 1
    assert rows == expected_rows, (rows, expected_rows)
    growth_mb = (peak - before) / 1024
    print(
        f"  export {rows:,} rows, {size / 1e6:.0f} MB CSV in {seconds:.2f} s = "
        f"{rows / seconds:,.0f} rows/s; worker RSS {before / 1024:.0f} MB before, "
        f"peak {peak / 1024:.0f} MB (growth {growth_mb:.0f} MB)"
    )
    return rows, seconds, growth_mb


def bench_backend(name, url, rows, repeat, workdir):
    """Build one database, serve it, measure; return a verdict line."""
    print(f"\n{name}: {url}")
    app, token, meters = build(url, rows)
    with gunicorn(url, workdir) as (base, worker_pid):
        headers = {"Authorization": f"Bearer {token}"}
        # Warm the worker (imports, first connection) before taking its memory baseline.
        requests.get(
            f"{base}/api/v1/timeseries/summary", params={"site_id": SITE_ID}, headers=headers
        )
        exported, seconds, growth = bench_export(base, worker_pid, token, rows)
        series = bench_reads(app, base, token, meters, repeat)
    series_ms = max(series[SERIES_CASE], series[MANY_CASE])
    ratio = series[MANY_CASE] / series[SINGLE_CASE]
    rate = exported / seconds
    checks = [
        series_ms < TARGET_SERIES_MS,
        ratio <= TARGET_RATIO,
        rate >= TARGET_EXPORT_ROWS_S,
        growth < TARGET_GROWTH_MB,
    ]
    verdict = "MET" if all(checks) else "NOT MET"
    return (
        f"{name:10s} series {series_ms:5.1f} ms (< {TARGET_SERIES_MS}), summed "
        f"meters vs one {ratio:.2f}x (<= {TARGET_RATIO:g}x), export {rate:,.0f} rows/s "
        f"(>= {TARGET_EXPORT_ROWS_S:,}), growth {growth:.0f} MB (< {TARGET_GROWTH_MB}): {verdict}"
    )


def main(argv=None):
    """Run the benchmark on the chosen backends and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args(argv)
    verdicts = []
    with tempfile.TemporaryDirectory(prefix="cei-bench-reads-") as workdir:
        if not args.no_sqlite:
            url = "sqlite:///" + str(Path(workdir) / "reads.sqlite3")
            verdicts.append(bench_backend("SQLite", url, args.rows, args.repeat, workdir))
        if not args.no_pg:
            prepare_postgres(args.pg_url)
            try:
                verdicts.append(
                    bench_backend("PostgreSQL", args.pg_url, args.rows, args.repeat, workdir)
                )
            finally:
                drop_postgres(args.pg_url)
    print("\nTargets:")
    for line in verdicts:
        print("  " + line)


if __name__ == "__main__":
    main()
