"""The job path on a real Redis with a real RQ worker; Redis down while data arrives."""

import pytest
from rq import Queue, SimpleWorker

from cei.extensions import db
from cei.models import AnalysisRun, SiteAnalysis
from cei.tasks.dispatcher import Dispatcher
from cei.tasks.queues import QUEUE_NAME, RQJobQueue, job_id
from tests.analytics import fakes
from tests.analytics.conftest import NOW, hourly, use_plugins

CLOSED_PORT_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture
def rq_app(make_app, redis_url, account, plugins):
    """An app configured for RQ on the test Redis, with the fake plugins."""
    app = make_app(REDIS_URL=redis_url)
    use_plugins(app, fakes.STANDARD)
    return app


@pytest.fixture
def rq_queue():
    """Return ``rq_queue(url)``: an RQJobQueue closed after the test."""
    made = []

    def make(url):
        made.append(RQJobQueue(url))
        return made[-1]

    yield make
    for queue in made:
        queue.close()


def work(app, redis_url):
    """Run a real RQ worker in burst mode on the analytics queue; return jobs done."""
    queue = RQJobQueue(redis_url)
    worker = SimpleWorker(
        [Queue(QUEUE_NAME, connection=queue.connection)], connection=queue.connection
    )
    done = []
    original = worker.perform_job

    def counting(job, *args, **kwargs):
        done.append(job.id)
        return original(job, *args, **kwargs)

    worker.perform_job = counting
    with app.app_context():
        worker.work(burst=True, logging_level="WARNING")
    queue.close()
    return done


def queued_jobs(redis_url):
    queue = RQJobQueue(redis_url)
    try:
        return list(queue.queue.job_ids)
    finally:
        queue.close()


def test_new_data_is_analysed_by_a_real_worker(
    rq_app, redis_url, rq_queue, two_sites, write_readings, runs_of, frozen_clock
):
    a_ref, a_pk = two_sites["a"]
    write_readings(a_ref.meters["main"], hourly(hours=48), [a_pk])
    dispatcher = Dispatcher(rq_app, rq_queue(redis_url))
    assert dispatcher.tick(now=NOW)["handed_over"] == 2  # a: new data; b: hourly
    with rq_app.app_context():
        run_id = db.session.scalar(db.select(AnalysisRun.id).where(AnalysisRun.site_pk == a_pk))
    assert job_id(run_id, a_pk) in queued_jobs(redis_url)
    # Another pass hands nothing over twice.
    assert dispatcher.tick(now=NOW)["handed_over"] == 0
    assert len(queued_jobs(redis_url)) == 2
    done = work(rq_app, redis_url)
    assert len(done) == 2
    assert runs_of(a_pk) == [("succeeded", "new_data")]
    with rq_app.app_context():
        assert db.session.get(SiteAnalysis, a_pk).kpis["last_24h_kwh"] == 240.0
    assert queued_jobs(redis_url) == []


def test_redis_down_while_data_arrives_then_analysed_once(
    make_app,
    redis_url,
    rq_queue,
    account,
    plugins,
    two_sites,
    write_readings,
    runs_of,
    frozen_clock,
):
    down = make_app(REDIS_URL=CLOSED_PORT_URL)
    use_plugins(down, fakes.STANDARD)
    a_ref, a_pk = two_sites["a"]
    points = hourly(hours=48)
    write_readings(a_ref.meters["main"], points[:24], [a_pk])
    outage = Dispatcher(down, rq_queue(CLOSED_PORT_URL))
    first = outage.tick(now=NOW)
    assert first["handed_over"] == 0 and first["waiting"] == 2
    # More data while Redis is still down: still one queued run for the site.
    write_readings(a_ref.meters["main"], points[24:], [a_pk])
    assert outage.tick(now=NOW)["waiting"] == 2
    assert runs_of(a_pk) == [("queued", "new_data")]
    with down.app_context():
        assert (
            db.session.scalar(db.select(AnalysisRun.enqueued_at).where(AnalysisRun.site_pk == a_pk))
            is None
        )

    # Redis is back.
    back = make_app(REDIS_URL=redis_url)
    use_plugins(back, fakes.STANDARD)
    dispatcher = Dispatcher(back, rq_queue(redis_url))
    assert dispatcher.tick(now=NOW)["handed_over"] == 2
    assert dispatcher.tick(now=NOW)["handed_over"] == 0
    # A retried hand-over (say the commit after it was lost) adds no second job.
    with back.app_context():
        run_id = db.session.scalar(db.select(AnalysisRun.id).where(AnalysisRun.site_pk == a_pk))
    rq_queue(redis_url).hand_over(run_id, a_pk)
    assert len(queued_jobs(redis_url)) == 2
    done = work(back, redis_url)
    assert done.count(job_id(run_id, a_pk)) == 1 and len(done) == 2
    assert runs_of(a_pk) == [("succeeded", "new_data")]
    with back.app_context():
        assert db.session.get(SiteAnalysis, a_pk).kpis["last_24h_kwh"] == 240.0
    # Nothing left to run.
    assert dispatcher.tick(now=NOW)["handed_over"] == 0
    assert work(back, redis_url) == []


def test_manual_run_goes_straight_to_redis(rq_app, redis_url, account, factory, frozen_clock):
    client = rq_app.test_client()
    response = client.post(
        "/api/v1/analytics/run", json={"site_id": "plant-1"}, headers=account["headers"]
    )
    assert response.status_code == 202
    (run,) = response.get_json()["runs"]
    assert job_id(run["id"], factory[1]) in queued_jobs(redis_url)
    work(rq_app, redis_url)
    shown = client.get(f"/api/v1/analytics/runs/{run['id']}", headers=account["headers"])
    assert shown.get_json()["status"] == "succeeded"


def test_manual_run_with_redis_down_is_still_accepted(make_app, account, factory):
    app = make_app(REDIS_URL=CLOSED_PORT_URL)
    response = app.test_client().post(
        "/api/v1/analytics/run", json={"site_id": "plant-1"}, headers=account["headers"]
    )
    assert response.status_code == 202
    assert response.get_json()["runs"][0]["status"] == "queued"
