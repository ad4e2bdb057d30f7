"""The load test (bench/load) in its short form: correctness under load, not speed.

Two gunicorn instances, two RQ workers, eight writers with exact replays, readers and a
manual analysis request, for ten seconds on the suite's PostgreSQL and Redis. The figures
of the full run (60 s) are in the project's notes; here only what must hold on any machine
is asserted: no errors, every reading stored once, one analysis run per site per trigger.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from cei.extensions import db

ROOT = Path(__file__).resolve().parents[2]
SECONDS = 10

pytestmark = [pytest.mark.redis, pytest.mark.timeout(900)]


def run_load(database_url, redis_url, figures_path):
    """Run ``python -m bench.load`` in its short form; return (exit status, output)."""
    command = [sys.executable, "-m", "bench.load", "--seconds", str(SECONDS)]
    command += ["--database-url", database_url, "--redis-url", redis_url]
    command += ["--bare-seconds", "0", "--json", str(figures_path)]
    completed = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=840, check=False
    )
    return completed.returncode, completed.stdout[-4000:] + completed.stderr[-4000:]


def stored_readings(organization_id):
    return db.session.scalar(
        text(
            "SELECT count(*) FROM readings JOIN meters ON meters.id = readings.meter_pk "
            "JOIN sites ON sites.id = meters.site_pk WHERE sites.organization_id = :org"
        ),
        {"org": organization_id},
    )


def runs_by_site_and_trigger(organization_id):
    rows = db.session.execute(
        text(
            "SELECT sites.site_id, trigger, status, count(*) FROM analysis_runs "
            "JOIN sites ON sites.id = analysis_runs.site_pk "
            "WHERE analysis_runs.organization_id = :org GROUP BY 1, 2, 3"
        ),
        {"org": organization_id},
    )
    return {(site, trigger, status): count for site, trigger, status, count in rows}


def test_short_load_stores_each_reading_once_and_analyses_once_per_trigger(
    app, postgres_url, redis_url, tmp_path
):
    figures_path = tmp_path / "load.json"
    status, output = run_load(postgres_url, redis_url, figures_path)
    assert figures_path.exists(), output
    report = json.loads(figures_path.read_text())
    failed = [check for check in report["verdicts"] if not check["ok"]]
    assert status == 0 and not failed, f"{failed}\n{output}"

    writes = report["writes"]
    assert writes["errors"] == 0
    batches = writes["batches"]
    assert batches["new"] > 0 and batches["replay"] > 0 and batches["twin"] > 0, batches
    for kind, reads in report["reads"].items():
        assert reads["count"] > 0 and reads["errors"] == 0, (kind, reads)

    organization_id = report["setup"]["organization_id"]
    site_ids = report["setup"]["site_ids"]
    with app.app_context():
        # The rows the database holds, counted here, against the distinct readings the
        # clients sent (counted by the bench from its batches, replays excluded).
        assert stored_readings(organization_id) == report["rows"]["distinct"] > 0
        runs = runs_by_site_and_trigger(organization_id)
    assert {status for (_, _, status) in runs} == {"succeeded"}, runs
    for site_id in site_ids:
        assert runs.get((site_id, "hourly", "succeeded"), 0) <= 1
        assert runs.get((site_id, "manual", "succeeded"), 0) <= 1
        # the load's new data, and the probe's one new batch after the drain
        assert runs.get((site_id, "new_data", "succeeded"), 0) >= 2
    assert {site for (site, _, _) in runs} == set(site_ids)
