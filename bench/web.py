"""Web pages benchmark: server time of the dashboard and the site view.

Stores ``--sites`` sites (default 50) with ``--days`` days (default 90) of hourly readings
each, sent through the ingestion service and analysed once by the analytics engine (so the
pages show real baselines, alerts and opportunities), on SQLite (a file in a temporary
folder) and on PostgreSQL (database ``cei_bench_web``, dropped and created by this script).
Then it signs in and requests the pages through the Flask test client on the same app and
database — no HTTP, so the figure is the server's own time, templates included — and prints
the median and the slowest of ``--runs`` requests.

Targets (issue 10): dashboard < 300 ms, site view < 200 ms.

    .venv/bin/python bench/web.py [--sites N] [--days N] [--runs N] [--no-sqlite] [--no-pg]
"""

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PG_URL = "postgresql://postgres@127.0.0.1:5432/cei_bench_web"
SECRET_KEY = "bench-web-secret-key-" + "x" * 32
FAST_ARGON2 = {"ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 1024, "ARGON2_PARALLELISM": 1}
EMAIL, PASSWORD = "bench@example.com", "bench password"
TARGETS_MS = {"dashboard": 300, "site view": 200}


def postgres_database(url, create):
    """Drop (and with ``create`` re-create) the bench database: only a local cei_bench_web."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if name != "cei_bench_web" or parts.hostname not in ("127.0.0.1", "localhost"):
        raise SystemExit(f"refusing to recreate {url}: only local cei_bench_web")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            connection.execute(f'CREATE DATABASE "{name}"')


def make_app(url):
    """An app on ``url`` with the schema migrated."""
    from flask_migrate import upgrade

    from cei import create_app

    app = create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": SECRET_KEY,
            "WTF_CSRF_ENABLED": False,
            # No background analyses while requests are timed.
            "ANALYTICS_BACKGROUND": False,
            **FAST_ARGON2,
        }
    )
    with app.app_context():
        upgrade()
    return app


def fill(app, sites, days):
    """Sign up and store ``days`` of hourly readings for each of ``sites`` sites."""
    from cei.extensions import db
    from cei.services import accounts, ingest

    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    stamps = [(now - timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ") for h in range(days * 24)]
    randomness = random.Random(42)
    with app.app_context():
        organization = accounts.sign_up(EMAIL, PASSWORD, "Bench Co").organization
        db.session.commit()
        for number in range(sites):
            site_id = f"site-{number:03d}"
            records = [
                {
                    "site_id": site_id,
                    "meter_id": "main",
                    "timestamp_utc": stamp,
                    "value": 20 + 10 * randomness.random(),
                }
                for stamp in stamps
            ]
            result = ingest.ingest_batch(organization, records)
            assert result.failed == 0, result.errors[:3]
            db.session.commit()
        analyse_all(organization)


def analyse_all(organization):
    """Run the analysis of every site once; print how long it took."""
    from cei.extensions import db
    from cei.services import sites as site_service
    from cei.services.analytics.analyse import analyse_site

    started = time.perf_counter()
    sites = site_service.list_sites(organization)
    for site in sites:
        run = analyse_site(site.id, "manual")
        assert run.error is None, run.error
        db.session.commit()
    seconds = time.perf_counter() - started
    print(
        f"analysed {len(sites)} sites in {seconds:.1f} s "
        f"({1000 * seconds / len(sites):.0f} ms each)"
    )


def measure(app, runs, sites):
    """Return ``{page: [milliseconds per request]}`` for the dashboard and one site view."""
    client = app.test_client()
    response = client.post("/login", data={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 302, response.status_code
    pages = {"dashboard": "/", "site view": f"/sites/site-{sites // 2:03d}"}
    timings = {name: [] for name in pages}
    for name, path in pages.items():
        assert client.get(path).status_code == 200  # warm-up
        for _ in range(runs):
            started = time.perf_counter()
            response = client.get(path)
            timings[name].append(1000 * (time.perf_counter() - started))
            assert response.status_code == 200
    return timings


def report(label, timings):
    """Print one line per page: median, slowest, and the target."""
    for name, values in timings.items():
        median = statistics.median(values)
        verdict = "ok" if median < TARGETS_MS[name] else "ABOVE TARGET"
        print(
            f"{label:<10} {name:<10} median {median:7.1f} ms  max {max(values):7.1f} ms  "
            f"(target < {TARGETS_MS[name]} ms: {verdict})"
        )


def main():
    """Run the benchmark on SQLite and, if asked, PostgreSQL."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=50)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--pg-url", default=PG_URL)
    args = parser.parse_args()
    print(f"{args.sites} sites x {args.days} days of hourly readings, {args.runs} requests each")
    with tempfile.TemporaryDirectory(prefix="cei-bench-web-") as folder:
        if not args.no_sqlite:
            app = make_app(f"sqlite:///{folder}/bench.sqlite3")
            fill(app, args.sites, args.days)
            report("SQLite", measure(app, args.runs, args.sites))
    if not args.no_pg:
        postgres_database(args.pg_url, create=True)
        try:
            app = make_app(args.pg_url)
            fill(app, args.sites, args.days)
            report("PostgreSQL", measure(app, args.runs, args.sites))
            from cei.extensions import db

            with app.app_context():
                db.engine.dispose()
        finally:
            postgres_database(args.pg_url, create=False)


if __name__ == "__main__":
    main()
