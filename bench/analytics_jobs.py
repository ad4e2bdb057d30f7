"""Analytics job path benchmark: throughput of many sites through RQ, and freshness.

On PostgreSQL (database ``cei_bench_jobs`` by default; its ``public`` schema is recreated) and
Redis (``--redis-url``, flushed), it stores ``--sites`` sites (one main meter each) with
``--days`` of hourly readings, then prints:

- throughput: every site queued once (``new_data``) and analysed by ``--workers`` RQ workers
  (``cei worker --burst --no-dispatcher`` processes): wall time from the workers' start to
  their exit, sites/s, and the share of the runs' time spent reading data (``read_ms`` over
  ``duration_ms``, summed over the runs);
- freshness: batches sent through the HTTP ingestion API of a gunicorn server, one every
  ``--batch-interval`` seconds to a random site, and the time from each batch's answer (its
  commit) to its site's KPIs being updated (``site_analyses.updated_at``): p50, p95, max —
  with in-process jobs (gunicorn without Redis: dispatcher and pool threads in the web
  worker) and with Redis and one ``cei worker``.

Targets (issue 9): 1,000 sites x 90 days with 2 workers < 3 min; freshness p95 <= 60 s
in-process, <= 15 s with Redis and one worker.

    .venv/bin/python bench/analytics_jobs.py [--sites 1000] [--days 90] [--workers 2]
        [--batches 40] [--batch-interval 0.5] [--pg-url URL] [--redis-url URL]

The analysis runs whatever plugins are registered (entry points ``cei.analytics``); the
plugins used are printed.
"""

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reads import free_port, wait_until_serving  # noqa: E402  (bench/ is on sys.path)

PG_URL = "postgresql://postgres@127.0.0.1:5432/cei_bench_jobs"
REDIS_URL = "redis://127.0.0.1:6379/13"
SECRET_KEY = "bench-jobs-secret-key-" + "x" * 32
FAST_ARGON2 = {"ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 1024, "ARGON2_PARALLELISM": 1}
HOUR = 3600
TARGET_SECONDS = 180
TARGET_FRESH_IN_PROCESS = 60
TARGET_FRESH_REDIS = 15
CLI = [sys.executable, "-c", "from cei.cli import main; main()"]


# --------------------------------------------------------------------------- the data set


def prepare_database(url):
    """Create the database if missing and recreate its ``public`` schema (local only)."""
    import psycopg

    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost"):
        raise SystemExit(f"refusing to reset {url}: local databases only")
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if exists.fetchone() is None:
            connection.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("DROP SCHEMA public CASCADE")
        connection.execute("CREATE SCHEMA public")


def hourly_kwh(rng, ts, scale):
    """A two-shift weekday profile, lower nights and weekends, 5 % noise."""
    moment = datetime.fromtimestamp(ts, UTC)
    working = moment.weekday() < 5 and 6 <= moment.hour < 22
    return round(scale * (1.0 if working else 0.35) * rng.uniform(0.95, 1.05), 3)


def build(url, sites, days, end):
    """Schema, organization, sites and readings; return ``(app, [(site_pk, meter_pk)])``."""
    import psycopg
    from flask_migrate import upgrade

    from cei import create_app
    from cei.extensions import db
    from cei.services import accounts
    from cei.services import sites as site_service

    app = create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": SECRET_KEY,
            "LOG_LEVEL": "WARNING",
            "ANALYTICS_BACKGROUND": False,
            **FAST_ARGON2,
        }
    )
    with app.app_context():
        upgrade()
        user = accounts.sign_up("bench@example.com", "bench password 123", "Bench Org")
        pairs = []
        for number in range(sites):
            site = site_service.create_site(user.organization, f"site-{number:04d}")
            meter = site_service.add_meter(site, "main", is_main=True)
            pairs.append((site.id, meter.id))
        db.session.commit()
    rng = random.Random(9)
    started = time.perf_counter()
    first = end - days * 24 * HOUR
    with psycopg.connect(url) as connection:
        with connection.cursor() as cursor:
            with cursor.copy("COPY readings (meter_pk, ts, value) FROM STDIN") as copy:
                for _, meter_pk in pairs:
                    scale = rng.uniform(50, 500)
                    for ts in range(first, end, HOUR):
                        copy.write_row((meter_pk, ts, hourly_kwh(rng, ts, scale)))
        connection.commit()
        connection.autocommit = True
        connection.execute("VACUUM ANALYZE readings")
    rows = sites * days * 24
    print(f"  loaded {rows:,} readings in {time.perf_counter() - started:.1f} s")
    rebuild_rollups(url)
    return app, pairs


def rebuild_rollups(url):
    """Rebuild the hourly rollups from the raw readings, when this CEI has them (COPY skipped
    ingestion, which keeps them up to date)."""
    help_text = subprocess.run(
        [*CLI, "--help"], cwd=ROOT, env=cli_env(url), capture_output=True, text=True
    ).stdout
    if "rollups" in help_text:
        subprocess.run([*CLI, "rollups", "rebuild"], cwd=ROOT, env=cli_env(url), check=True)


def cli_env(url, redis_url=None):
    """Environment of the CEI processes the bench starts."""
    env = {**os.environ, "CEI_DATABASE_URL": url, "CEI_SECRET_KEY": SECRET_KEY}
    env["CEI_LOG_LEVEL"] = "WARNING"
    env.pop("CEI_REDIS_URL", None)
    if redis_url:
        env["CEI_REDIS_URL"] = redis_url
    return env


def flush_redis(redis_url):
    """Empty the bench's Redis database."""
    from redis import Redis

    client = Redis.from_url(redis_url)
    client.flushdb()
    client.close()


# --------------------------------------------------------------------------- throughput


def run_stats(app):
    """Runs by status, summed read/total time, the span of the succeeded runs, plugins used."""
    from sqlalchemy import func, select

    from cei.extensions import db
    from cei.models import AnalysisRun

    with app.app_context():
        by_status = dict(
            db.session.execute(
                select(AnalysisRun.status, func.count()).group_by(AnalysisRun.status)
            ).all()
        )
        read, total, first, last = db.session.execute(
            select(
                func.sum(AnalysisRun.read_ms),
                func.sum(AnalysisRun.duration_ms),
                func.min(AnalysisRun.started_at),
                func.max(AnalysisRun.finished_at),
            ).where(AnalysisRun.status == "succeeded")
        ).one()
        sample = db.session.scalar(
            select(AnalysisRun.plugins).where(AnalysisRun.status == "succeeded").limit(1)
        )
    return by_status, read or 0.0, total or 0.0, first, last, sorted(sample or {})


def bench_throughput(app, url, redis_url, pairs, workers):
    """Queue every site once, let ``workers`` RQ workers analyse them; print the figures."""
    from cei.extensions import db
    from cei.services.analytics import mark_sites_due
    from cei.tasks.dispatcher import Dispatcher
    from cei.tasks.queues import RQJobQueue

    app.config["REDIS_URL"] = redis_url
    with app.app_context():
        mark_sites_due(db.session, [site_pk for site_pk, _ in pairs])
        db.session.commit()
    job_queue = RQJobQueue(redis_url)
    stats = Dispatcher(app, job_queue).tick()
    job_queue.close()
    print(f"  queued {stats['handed_over']:,} runs")
    started = time.perf_counter()
    processes = [
        subprocess.Popen(
            [*CLI, "worker", "--burst", "--no-dispatcher"],
            cwd=ROOT,
            env=cli_env(url, redis_url),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    for process in processes:
        process.wait()
    wall = time.perf_counter() - started
    by_status, read, total, first, last, plugins = run_stats(app)
    done = by_status.get("succeeded", 0)
    span = (last - first).total_seconds() if first and last else float("nan")
    print(f"  plugins: {', '.join(plugins) or '(none registered)'}")
    print(f"  runs: {by_status}")
    print(f"  {done:,} sites in {wall:.1f} s wall ({span:.1f} s from first start to last end)")
    print(f"  {done / wall:.1f} sites/s; reading data: {100 * read / total:.0f} % of run time")
    return wall, done


# --------------------------------------------------------------------------- freshness


@contextmanager
def serve(url, redis_url, workdir, label):
    """gunicorn (one worker, threads) on 127.0.0.1; yield its base URL."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "--workers", "1", "--threads", "4"]
    command += ["--timeout", "300", "--bind", f"127.0.0.1:{port}", "wsgi:app"]
    with open(Path(workdir) / f"gunicorn-{label}.log", "wb") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=cli_env(url, redis_url), stdout=log, stderr=subprocess.STDOUT
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_serving(process, base)
            yield base
        finally:
            process.terminate()
            process.wait(timeout=30)


@contextmanager
def rq_worker(url, redis_url, workdir):
    """One ``cei worker`` (with its dispatcher thread)."""
    with open(Path(workdir) / "worker.log", "wb") as log:
        process = subprocess.Popen(
            [*CLI, "worker"],
            cwd=ROOT,
            env=cli_env(url, redis_url),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_worker(redis_url, process)
            yield process
        finally:
            process.terminate()
            process.wait(timeout=30)


def wait_for_worker(redis_url, process):
    """Wait until the worker has registered with Redis (it is then taking jobs)."""
    from redis import Redis
    from rq import Worker

    client = Redis.from_url(redis_url)
    deadline = time.monotonic() + 120
    try:
        while Worker.count(connection=client) < 1:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("cei worker did not start")
            time.sleep(0.1)
    finally:
        client.close()


def issue_token(app):
    """An ingest token of the bench organization."""
    from cei.extensions import db
    from cei.models import Organization
    from cei.services import tokens

    with app.app_context():
        organization = db.session.scalar(db.select(Organization).limit(1))
        _, raw = tokens.issue_token(organization, "bench", ["ingest", "read"])
        db.session.commit()
    return raw


def updated_at(app, site_pks):
    """``{site_pk: updated_at}`` of the sites' latest analysis."""
    from cei.extensions import db
    from cei.models import SiteAnalysis

    with app.app_context():
        rows = db.session.execute(
            db.select(SiteAnalysis.site_pk, SiteAnalysis.updated_at).where(
                SiteAnalysis.site_pk.in_(list(site_pks))
            )
        )
        return {pk: moment for pk, moment in rows}


def send_batches(app, base, token, pairs, batches, interval):
    """Send ``batches`` one-reading batches to random sites; return freshness latencies (s)."""

    rng = random.Random(7)
    values = random.SystemRandom()
    pending, latencies, lock = {}, [], threading.Lock()
    stop = threading.Event()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"

    def watch():
        while not stop.is_set() or pending:
            with lock:
                waiting = dict(pending)
            if waiting:
                seen = updated_at(app, {site_pk for site_pk, _ in waiting.values()})
                now = time.time()
                for key, (site_pk, committed) in waiting.items():
                    moment = seen.get(site_pk)
                    if moment is not None and moment.timestamp() >= committed:
                        with lock:
                            pending.pop(key, None)
                            latencies.append(now - committed)
                    elif now - committed > 300:
                        with lock:
                            pending.pop(key, None)
                            latencies.append(float("inf"))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    current_hour = int(time.time()) // HOUR * HOUR
    chosen = rng.sample(range(len(pairs)), min(batches, len(pairs)))
    for number, index in enumerate(chosen):
        site_pk, _ = pairs[index]
        record = {
            "site_id": f"site-{index:04d}",
            "meter_id": "main",
            "timestamp_utc": datetime.fromtimestamp(current_hour, UTC).isoformat(),
            # A fresh value each time: a site chosen twice (or again in the next phase, which
            # picks the same sites) gets a correction, never an unchanged duplicate.
            "value": round(100.0 + 50.0 * values.random(), 3),
        }
        body = {"records": [record], "on_conflict": "update"}
        response = session.post(f"{base}/api/v1/timeseries/batch", json=body)
        response.raise_for_status()
        with lock:
            pending[number] = (site_pk, time.time())
        time.sleep(interval)
    stop.set()
    watcher.join()
    return latencies


def describe(latencies):
    """``p50 / p95 / max`` of latencies in seconds."""
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    median, worst = statistics.median(ordered), ordered[-1]
    return p95, f"p50 {median:5.1f} s  p95 {p95:5.1f} s  max {worst:5.1f} s"


def bench_freshness(app, url, redis_url, pairs, args, workdir):
    """Freshness with in-process jobs, then with Redis and one worker; return verdict lines."""
    token = issue_token(app)
    verdicts = []
    with serve(url, None, workdir, "in-process") as base:
        latencies = send_batches(app, base, token, pairs, args.batches, args.batch_interval)
    p95, text = describe(latencies)
    print(f"  in-process:        {text}")
    verdicts.append(
        f"freshness in-process p95 {p95:.1f} s <= {TARGET_FRESH_IN_PROCESS} s: "
        f"{'OK' if p95 <= TARGET_FRESH_IN_PROCESS else 'MISSED'}"
    )
    flush_redis(redis_url)
    with serve(url, redis_url, workdir, "redis") as base, rq_worker(url, redis_url, workdir):
        latencies = send_batches(app, base, token, pairs, args.batches, args.batch_interval)
    p95, text = describe(latencies)
    print(f"  Redis + 1 worker:  {text}")
    verdicts.append(
        f"freshness Redis + 1 worker p95 {p95:.1f} s <= {TARGET_FRESH_REDIS} s: "
        f"{'OK' if p95 <= TARGET_FRESH_REDIS else 'MISSED'}"
    )
    return verdicts


def main(argv=None):
    """Build the data set, run both measurements, print the figures and the verdicts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--batch-interval", type=float, default=0.5)
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--redis-url", default=REDIS_URL)
    parser.add_argument("--no-freshness", action="store_true")
    args = parser.parse_args(argv)
    prepare_database(args.pg_url)
    flush_redis(args.redis_url)
    end = int(time.time()) // HOUR * HOUR
    print(f"Data: {args.sites:,} sites x {args.days} days of hourly readings (PostgreSQL)")
    app, pairs = build(args.pg_url, args.sites, args.days, end)
    print(f"Throughput: {args.workers} RQ workers")
    wall, done = bench_throughput(app, args.pg_url, args.redis_url, pairs, args.workers)
    met = wall < TARGET_SECONDS and done == args.sites
    verdicts = [
        f"{done:,} sites x {args.days} d with {args.workers} workers in {wall:.1f} s "
        f"< {TARGET_SECONDS} s: {'OK' if met else 'MISSED'}"
    ]
    if not args.no_freshness:
        print(f"Freshness: {args.batches} batches, one every {args.batch_interval} s")
        with tempfile.TemporaryDirectory(prefix="cei-bench-jobs-") as workdir:
            verdicts += bench_freshness(app, args.pg_url, args.redis_url, pairs, args, workdir)
    flush_redis(args.redis_url)
    print("\nTargets:")
    for line in verdicts:
        print("  " + line)


if __name__ == "__main__":
    main()
