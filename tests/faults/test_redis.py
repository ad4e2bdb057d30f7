"""Redis down, and Redis flapping: ingestion and login carry on, analysis catches up once."""

import time
from datetime import timedelta

import pytest
from rq import Queue
from sqlalchemy import select

from cei.extensions import db
from cei.models import AnalysisRun, SiteAnalysis
from cei.models.types import utcnow
from cei.tasks import analytics as analytics_tasks
from cei.tasks.dispatcher import Dispatcher
from cei.tasks.queues import QUEUE_NAME, RQJobQueue
from cei.tasks.worker import run_worker
from tests.analytics import fakes
from tests.analytics.conftest import use_plugins
from tests.conftest import bearer
from tests.faults.conftest import Tenant, readings

# A request may wait this long on a Redis that is gone, at most.
SLOW_REQUEST_SECONDS = 1.5
MAX_ROUNDS = 200  # of the flapping test: batches it sends at most


@pytest.fixture
def redis_app(make_app, app, redis_proxy, redis_url):
    """An app (quick fake plugins) whose Redis — jobs and rate limits — is behind the proxy."""
    # Limits stay on (counted through the flapping Redis, or per process when it is away)
    # but high: the flapping test logs in every few batches, as fast as the machine goes.
    application = make_app(
        REDIS_URL=redis_proxy.url_for(redis_url),
        LOGIN_RATE_LIMIT="1000 per minute",
        LOGIN_ACCOUNT_RATE_LIMIT="1000 per minute",
    )
    use_plugins(application, fakes.STANDARD)
    return application


@pytest.fixture
def analysed(monkeypatch):
    """The run ids analysed in this process, in order (each analysis is counted)."""
    seen = []
    original = analytics_tasks.analyse_site

    def counting(site_pk, trigger, run=None, **kwargs):
        seen.append(run.id)
        return original(site_pk, trigger, run=run, **kwargs)

    monkeypatch.setattr(analytics_tasks, "analyse_site", counting)
    return seen


def timed(call):
    began = time.monotonic()
    result = call()
    return result, time.monotonic() - began


def runs_by_site(app):
    with app.app_context():
        rows = db.session.execute(
            select(AnalysisRun.site_pk, AnalysisRun.id, AnalysisRun.status).order_by(AnalysisRun.id)
        ).all()
    by_site = {}
    for site_pk, run_id, status in rows:
        by_site.setdefault(site_pk, []).append((run_id, status))
    return by_site


def work(app):
    """Run a real worker (burst) on the analytics queue of the app's Redis."""
    with app.app_context():
        run_worker(app, [QUEUE_NAME], burst=True, restart_pause=0.1)


def test_redis_down_ingestion_and_login_work_then_analysis_catches_up_once(
    redis_app, redis_proxy, redis_url, analysed, table_counts
):
    client = redis_app.test_client()
    tenant = Tenant(client)
    queue = RQJobQueue(redis_proxy.url_for(redis_url))
    dispatcher = Dispatcher(redis_app, queue)

    redis_proxy.cut()
    for site in ("site-1", "site-2"):
        response, took = timed(lambda site=site: tenant.post(readings(48, site_id=site)))
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.get_json()["ingested"] == 48
        assert took < SLOW_REQUEST_SECONDS, f"ingestion waited {took:.1f} s on Redis"
    login, took = timed(tenant.login)
    assert login.status_code == 200 and took < SLOW_REQUEST_SECONDS
    me = client.get("/api/v1/auth/me", headers=bearer(login.get_json()["access_token"]))
    assert me.status_code == 200
    manual, took = timed(
        lambda: client.post(
            "/api/v1/analytics/run",
            json={"site_id": "site-1"},
            headers=tenant.account["headers"],
        )
    )
    assert manual.status_code == 202 and took < SLOW_REQUEST_SECONDS
    assert client.get("/api/v1/health/ready").status_code == 503

    # The dispatcher cannot hand anything over: the runs wait in the database.
    stats = dispatcher.tick()
    assert (stats["handed_over"], stats["waiting"]) == (0, 2)
    tenant.send(readings(4, site_id="site-1", value=90.0, first_hour=60))  # more, meanwhile
    assert dispatcher.tick()["waiting"] == 2
    assert [len(runs) for runs in runs_by_site(redis_app).values()] == [1, 1]

    redis_proxy.restore()
    assert dispatcher.tick()["handed_over"] == 2
    assert dispatcher.tick()["handed_over"] == 0
    work(redis_app)
    by_site = runs_by_site(redis_app)
    assert [[status for _, status in runs] for runs in by_site.values()] == [
        ["succeeded"],
        ["succeeded"],
    ]
    assert sorted(analysed) == sorted(runs[0][0] for runs in by_site.values())
    with redis_app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(SiteAnalysis)) == 2
    assert table_counts()["readings"] == 100
    assert Queue(QUEUE_NAME, connection=queue.connection).job_ids == []
    assert dispatcher.tick()["handed_over"] == 0
    queue.close()


def test_redis_flapping_loses_nothing_and_analyses_each_run_once(
    redis_app, redis_proxy, redis_url, analysed, table_counts
):
    client = redis_app.test_client()
    tenant = Tenant(client)
    queue = RQJobQueue(redis_proxy.url_for(redis_url))
    dispatcher = Dispatcher(redis_app, queue)
    sent = 0
    slowest = 0.0
    redis_proxy.flap(down_seconds=0.2, up_seconds=0.3)
    began = time.monotonic()
    for round_number in range(MAX_ROUNDS):
        if time.monotonic() - began > 5:
            break
        site = f"site-{round_number % 3}"
        # Six hours per round, earlier and earlier: every reading is new.
        batch = readings(6, site_id=site, first_hour=6 * MAX_ROUNDS - 6 * round_number)
        response, took = timed(lambda batch=batch: tenant.post(batch))
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.get_json()["ingested"] == 6
        sent += 6
        slowest = max(slowest, took)
        if round_number % 4 == 0:
            login, took = timed(tenant.login)
            assert login.status_code == 200, login.get_data(as_text=True)
            slowest = max(slowest, took)
        dispatcher.tick()  # never raises: whatever Redis refused waits for the next pass
        if round_number % 5 == 4:
            work(redis_app)  # a worker that meets a flap leaves its job for the next one
    redis_proxy.stop_flapping()
    assert redis_proxy.cuts >= 5
    assert slowest < 3 * SLOW_REQUEST_SECONDS, f"a request waited {slowest:.1f} s on Redis"

    # Settle. A job lost on its way to a worker (taken from the queue as Redis went) is
    # handed over again when the run's hand-over is due again, ten minutes later.
    later = utcnow() + dispatcher.requeue_after + timedelta(seconds=1)
    for moment in (None, later):
        dispatcher.tick(now=moment)
        work(redis_app)
    assert table_counts()["readings"] == sent
    by_site = runs_by_site(redis_app)
    assert len(by_site) == 3
    statuses = [status for runs in by_site.values() for _, status in runs]
    assert set(statuses) == {"succeeded"}, statuses
    # Each run analysed exactly once, however often its job reached Redis.
    assert sorted(analysed) == sorted(run_id for runs in by_site.values() for run_id, _ in runs)
    assert Queue(QUEUE_NAME, connection=queue.connection).job_ids == []
    queue.close()


def test_a_job_lost_on_its_way_to_a_worker_is_handed_over_again_and_run_once(
    redis_app, redis_proxy, redis_url, analysed
):
    tenant = Tenant(redis_app.test_client())
    tenant.send(readings(24))
    queue = RQJobQueue(redis_url)
    dispatcher = Dispatcher(redis_app, queue)
    assert dispatcher.tick()["handed_over"] == 1
    # Redis moves the job from the queue towards the worker, and the connection goes
    # before the worker hears of it: the job sits in RQ's "intermediate" list.
    redis_proxy.cut_when(b"LMOVE", forward_first=True, down_for=0.3)
    work(redis_app)
    assert redis_proxy.tripped.is_set()
    assert analysed == []
    (runs,) = runs_by_site(redis_app).values()
    assert [status for _, status in runs] == ["queued"]

    # When the run's hand-over is due again, a new job replaces the lost one.
    later = utcnow() + dispatcher.requeue_after + timedelta(seconds=1)
    assert dispatcher.tick(now=later)["handed_over"] == 1
    work(redis_app)
    (runs,) = runs_by_site(redis_app).values()
    assert [status for _, status in runs] == ["succeeded"]
    assert analysed == [runs[0][0]]
    connection = queue.connection
    assert Queue(QUEUE_NAME, connection=connection).job_ids == []
    assert connection.llen(Queue(QUEUE_NAME, connection=connection).intermediate_queue_key) == 0
    queue.close()
