"""Report benchmark: time to generate a site report and a 20-site portfolio report.

Builds a SQLite database in a temporary folder with one organization and ``--sites`` sites
(three timezones) holding nine weeks of hourly data, ingested through the API, then generates
7-day reports the way the job does (content from the analytics, PDF, CSV) and prints the
time of each step (wall clock) and the CPU time of the process (which other load on a shared
machine does not inflate). WeasyPrint loads its fonts once per process, so one report is
rendered first as a warm-up; the figures are the median of ``--repeat`` runs.

Targets (issue 11): a site report < 1 s; a 20-site portfolio report < 10 s.

    .venv/bin/python bench/reports.py [--sites 20] [--repeat 3] [--keep DIR]
"""

import argparse
import math
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cei import create_app  # noqa: E402
from cei.extensions import db  # noqa: E402
from cei.models import Organization  # noqa: E402
from cei.services.reports import build, jobs  # noqa: E402
from cei.services.reports import csv as report_csv  # noqa: E402
from cei.services.reports import pdf as report_pdf  # noqa: E402

HOUR = 3600
WEEKS = 9
TIMEZONES = ("Europe/Rome", "America/Chicago", "Asia/Kolkata")
BATCH = 5000


def load(site_index, ts):
    """A factory: working hours Mon-Fri 07-19 local, a base load, a little daily wiggle."""
    local = ts
    working = local.weekday() < 5 and 7 <= local.hour < 19
    base = 8.0 + site_index % 5
    return round(base * (3.2 if working else 1.0) + math.sin(ts.timestamp() / 5000.0), 3)


def seed(app, sites):
    """Sign up, make the sites, ingest nine weeks of hourly data; return the organization id."""
    from zoneinfo import ZoneInfo

    client = app.test_client()
    signup = client.post(
        "/api/v1/auth/signup",
        json={
            "email": "bench@example.com",
            "password": "correct horse battery",
            "organization_name": "Bench Industries",
        },
    ).get_json()
    headers = {"Authorization": f"Bearer {signup['access_token']}"}
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(weeks=WEEKS)
    records = []
    for i in range(sites):
        site_id, zone = f"plant-{i + 1:02d}", TIMEZONES[i % len(TIMEZONES)]
        response = client.post(
            "/api/v1/sites",
            json={"site_id": site_id, "name": f"Plant {i + 1}", "timezone": zone},
            headers=headers,
        )
        assert response.status_code == 201, response.get_json()
        moment = start
        while moment < end:
            records.append(
                {
                    "site_id": site_id,
                    "meter_id": "main",
                    "timestamp_utc": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "value": load(i, moment.astimezone(ZoneInfo(zone))),
                }
            )
            moment += timedelta(hours=1)
    for first in range(0, len(records), BATCH):
        response = client.post(
            "/api/v1/timeseries/batch",
            json={"records": records[first : first + BATCH]},
            headers=headers,
        )
        assert response.status_code == 200 and response.get_json()["failed"] == 0, (
            response.get_json()
        )
    return signup["organization"]["id"], len(records)


def timed(function, *args):
    """Return ``(result, wall ms, CPU ms of this process)``."""
    started, cpu = time.perf_counter(), time.process_time()
    result = function(*args)
    return result, (time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000


def generate(organization_id, site_id):
    """Generate one report as the job does; return the step timings in ms."""
    organization = db.session.get(Organization, organization_id)
    report = jobs.request_report(organization, site_id=site_id)
    data, content_ms, content_cpu = timed(build.build_report, report)
    pdf, pdf_ms, pdf_cpu = timed(report_pdf.render_pdf, data)
    _, csv_ms, csv_cpu = timed(report_csv.render_csv, data)
    db.session.rollback()
    return {
        "content": content_ms,
        "pdf": pdf_ms,
        "csv": csv_ms,
        "total": content_ms + pdf_ms + csv_ms,
        "cpu": content_cpu + pdf_cpu + csv_cpu,
        "bytes": len(pdf),
    }


def report_line(label, runs, target_ms):
    median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    verdict = "ok" if median["total"] < target_ms else "SLOW"
    print(
        f"{label:<24} total {median['total']:7.0f} ms  (content {median['content']:5.0f}, "
        f"pdf {median['pdf']:5.0f}, csv {median['csv']:3.0f}; CPU {median['cpu']:5.0f} ms)  "
        f"{int(median['bytes']):>7} B  target < {target_ms / 1000:.0f} s: {verdict}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", help="keep the database in this folder")
    args = parser.parse_args()
    folder = args.keep or tempfile.mkdtemp(prefix="cei-bench-reports-")
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{folder}/bench.sqlite3",
            "SECRET_KEY": "bench-reports-" + "x" * 32,
            "ANALYTICS_BACKGROUND": False,
            "ARGON2_TIME_COST": 1,
            "ARGON2_MEMORY_COST": 1024,
            "ARGON2_PARALLELISM": 1,
        }
    )
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        started = time.perf_counter()
        organization_id, count = seed(app, args.sites)
        seconds = time.perf_counter() - started
        print(f"seeded {args.sites} sites, {count} hourly readings in {seconds:.1f} s")
        generate(organization_id, "plant-01")  # warm-up: fonts, plugins, caches
        sites = [generate(organization_id, "plant-01") for _ in range(args.repeat)]
        report_line("site report", sites, 1000)
        portfolio = [generate(organization_id, None) for _ in range(max(1, args.repeat - 1))]
        report_line(f"portfolio ({args.sites} sites)", portfolio, 10000)


if __name__ == "__main__":
    main()
