"""RQ workers meeting faults: killed in the middle of an analysis (the run is failed and
retried, once); the database gone when a job starts (the run is analysed once it is back)."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from rq import Queue
from rq.registry import FailedJobRegistry
from sqlalchemy import select

from cei.extensions import db
from cei.models import AnalysisRun
from cei.services.analytics.runs import WORKER_LOST
from cei.tasks import analytics as analytics_tasks
from cei.tasks.dispatcher import Dispatcher
from cei.tasks.queues import QUEUE_NAME, RQJobQueue, job_id
from cei.tasks.worker import heartbeat_ttl, run_worker
from tests.analytics import fakes
from tests.analytics.conftest import use_plugins
from tests.faults.conftest import Tenant, readings, through
from tests.faults.worker_process import HEARTBEAT_SECONDS

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def rq_app(make_app, app, redis_url):
    """An app on the test Redis with the quick fake plugins (for the workers of the test)."""
    application = make_app(REDIS_URL=redis_url)
    use_plugins(application, fakes.STANDARD)
    return application


@pytest.fixture
def worker_process(database_url, redis_url, tmp_path):
    """Return ``start()``: a worker process (slow plugins) and the file it creates once
    its analysis is under way; every process is killed at teardown."""
    started = []

    def start():
        marker = tmp_path / f"started-{len(started)}"
        log = open(tmp_path / f"worker-{len(started)}.log", "w")  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.faults.worker_process", database_url, redis_url],
            cwd=ROOT,
            env={**os.environ, "CEI_TEST_STARTED_FILE": str(marker)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append((process, log))
        return process, marker

    yield start
    for process, log in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        log.close()


def runs_of(app):
    with app.app_context():
        return [
            (run.id, run.status, run.trigger, run.error)
            for run in db.session.scalars(select(AnalysisRun).order_by(AnalysisRun.id))
        ]


def kill_mid_job(start, app):
    """Start a worker process, wait until its analysis is under way, kill it (-9)."""
    process, marker = start()
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert process.poll() is None, "the worker process ended by itself"
        assert time.monotonic() < deadline, "the worker never started the analysis"
        time.sleep(0.05)
    assert runs_of(app)[-1][1] == "running"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def reap_until_failed(dispatcher, app, run_id, timeout=30):
    """Tick the dispatcher until run ``run_id`` is no longer running; return the seconds."""
    began = time.monotonic()
    while True:
        dispatcher.tick()
        if dict((run[0], run[1]) for run in runs_of(app))[run_id] != "running":
            return time.monotonic() - began
        assert time.monotonic() - began < timeout, "the dead worker's run stayed running"
        time.sleep(0.2)


def test_a_killed_worker_s_run_is_failed_and_retried_once_never_twice(
    rq_app, redis_url, worker_process, monkeypatch
):
    client = rq_app.test_client()
    tenant = Tenant(client)
    tenant.send(readings(48))
    job_queue = RQJobQueue(redis_url)
    dispatcher = Dispatcher(rq_app, job_queue)
    assert dispatcher.tick()["handed_over"] == 1
    ((first, _, trigger, _),) = runs_of(rq_app)

    kill_mid_job(worker_process, rq_app)
    waited = reap_until_failed(dispatcher, rq_app, first)

    # Found within a few heartbeats, not after the job's timeout (10 minutes).
    assert waited < heartbeat_ttl(HEARTBEAT_SECONDS) + 5
    runs = runs_of(rq_app)
    assert runs[0] == (first, "failed", trigger, WORKER_LOST)
    # The site is queued again, once: the dead job itself is not run again.
    assert [(status, kind) for _, status, kind, _ in runs[1:]] == [("queued", trigger)]
    second = runs[1][0]
    site_pk = _site_pk(rq_app, second)
    assert job_id(first, site_pk) in FailedJobRegistry(QUEUE_NAME, connection=job_queue.connection)
    assert job_id(first, site_pk) not in Queue(QUEUE_NAME, connection=job_queue.connection).job_ids
    dispatcher.tick()
    assert Queue(QUEUE_NAME, connection=job_queue.connection).job_ids == [job_id(second, site_pk)]

    # The retry's worker is killed as well: failed, and not retried again.
    kill_mid_job(worker_process, rq_app)
    reap_until_failed(dispatcher, rq_app, second)
    dispatcher.tick()
    assert [(status, error) for _, status, _, error in runs_of(rq_app)] == [
        ("failed", WORKER_LOST),
        ("failed", WORKER_LOST),
    ]

    # New data: a new run, which a live worker analyses, once.
    analysed = []
    original = analytics_tasks.analyse_site

    def counting(site_pk, trigger, run=None, **kwargs):
        analysed.append(run.id)
        return original(site_pk, trigger, run=run, **kwargs)

    monkeypatch.setattr(analytics_tasks, "analyse_site", counting)
    tenant.send(readings(2, value=50.0, first_hour=50))
    assert dispatcher.tick()["handed_over"] == 1
    with rq_app.app_context():
        run_worker(rq_app, [QUEUE_NAME], burst=True)
    runs = runs_of(rq_app)
    assert [status for _, status, _, _ in runs] == ["failed", "failed", "succeeded"]
    assert analysed == [runs[2][0]]
    assert dispatcher.tick()["handed_over"] == 0
    job_queue.close()


def _site_pk(app, run_id):
    with app.app_context():
        return db.session.get(AnalysisRun, run_id).site_pk


def test_a_job_whose_database_is_gone_is_handed_over_again_and_run_once(
    rq_app, make_app, redis_url, pg_proxy, postgres_url, monkeypatch
):
    tenant = Tenant(rq_app.test_client())
    tenant.send(readings(48))
    job_queue = RQJobQueue(redis_url)
    dispatcher = Dispatcher(rq_app, job_queue)
    assert dispatcher.tick()["handed_over"] == 1
    ((run_id, _, _, _),) = runs_of(rq_app)
    # The worker reaches the database through the proxy, which is down: the job fails
    # before it could claim its run (and its failure callback cannot record anything).
    worker_app = make_app(REDIS_URL=redis_url, DATABASE_URL=through(pg_proxy, postgres_url))
    use_plugins(worker_app, fakes.STANDARD)
    pg_proxy.cut()
    with worker_app.app_context():
        run_worker(worker_app, [QUEUE_NAME], burst=True)
    site_pk = _site_pk(rq_app, run_id)
    assert job_id(run_id, site_pk) in FailedJobRegistry(QUEUE_NAME, connection=job_queue.connection)
    assert runs_of(rq_app)[0][1] == "queued"

    # Back: once the hand-over is due again, the run gets a new job in place of the dead
    # one (which RQ keeps for a day), and is analysed once.
    pg_proxy.restore()
    analysed = []
    original = analytics_tasks.analyse_site

    def counting(site_pk, trigger, run=None, **kwargs):
        analysed.append(run.id)
        return original(site_pk, trigger, run=run, **kwargs)

    monkeypatch.setattr(analytics_tasks, "analyse_site", counting)
    later = runs_of_queued_at(rq_app, run_id) + dispatcher.requeue_after + timedelta(seconds=1)
    assert dispatcher.tick(now=later)["handed_over"] == 1
    with worker_app.app_context():
        run_worker(worker_app, [QUEUE_NAME], burst=True)
    assert [status for _, status, _, _ in runs_of(rq_app)] == ["succeeded"]
    assert analysed == [run_id]
    assert Queue(QUEUE_NAME, connection=job_queue.connection).job_ids == []
    job_queue.close()


def runs_of_queued_at(app, run_id):
    with app.app_context():
        return db.session.get(AnalysisRun, run_id).enqueued_at
