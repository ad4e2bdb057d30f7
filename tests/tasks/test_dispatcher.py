"""The dispatcher without Redis: due marks become one run per site, hourly re-runs, lost runs,
and the in-process background path end to end."""

import time
from datetime import timedelta

from cei.extensions import db
from cei.models import AnalysisRun, DueAnalysis, SiteAnalysis
from cei.services.analytics import due, mark_sites_due
from cei.tasks.dispatcher import Dispatcher
from cei.tasks.queues import EXTENSION_KEY, InlineJobQueue, InProcessJobQueue
from tests.analytics import fakes
from tests.analytics.conftest import NOW, hourly, use_plugins


def test_new_data_gives_one_run_per_site(
    app, two_sites, write_readings, runs_of, due_count, frozen_clock
):
    (a_ref, a_pk), (b_ref, b_pk) = two_sites["a"], two_sites["b"]
    points = hourly(hours=48)
    # Three batches for a, one for b, before the dispatcher looks.
    write_readings(a_ref.meters["main"], points[:16], [a_pk])
    write_readings(a_ref.meters["main"], points[16:32], [a_pk])
    write_readings(a_ref.meters["main"], points[32:], [a_pk])
    write_readings(b_ref.meters["main"], points, [b_pk])
    assert due_count() == 2
    with app.app_context():
        mark = db.session.get(DueAnalysis, a_pk)
        assert mark.version == 3 and mark.due_since <= mark.marked_at
    queue = InlineJobQueue(app)
    stats = Dispatcher(app, queue).tick(now=NOW)
    assert stats["due"] == 2 and stats["handed_over"] == 2
    assert sorted(result for _, result in queue.results) == ["succeeded", "succeeded"]
    assert runs_of(a_pk) == [("succeeded", "new_data")]
    assert runs_of(b_pk) == [("succeeded", "new_data")]
    assert due_count() == 0
    with app.app_context():
        run = db.session.get(AnalysisRun, 1)
        assert run.due_since is not None and run.enqueued_at is not None
        assert db.session.get(SiteAnalysis, a_pk).kpis["last_24h_kwh"] == 240.0
    # Nothing new: the next pass does nothing (both sites were analysed within the hour).
    assert Dispatcher(app, queue).tick(now=NOW + timedelta(minutes=5))["handed_over"] == 0


def test_a_mark_made_while_the_dispatcher_works_is_kept(app, two_sites, monkeypatch, due_count):
    _, a_pk = two_sites["a"]
    with app.app_context():
        mark_sites_due(db.session, [a_pk])
        db.session.commit()
    original = due.queue_runs

    def ingestion_meanwhile(*args, **kwargs):
        original(*args, **kwargs)
        mark_sites_due(db.session, [a_pk])  # a batch lands between the read and the delete

    monkeypatch.setattr(due, "queue_runs", ingestion_meanwhile)
    with app.app_context():
        assert due.take_due_sites() == 1
        db.session.commit()
    assert due_count() == 1
    monkeypatch.setattr(due, "queue_runs", original)
    with app.app_context():
        # The run queued for the first mark is still waiting: the second mark joins it.
        assert due.take_due_sites() == 1
        db.session.commit()
        queued = db.session.scalars(db.select(AnalysisRun)).all()
        assert [(run.status, run.trigger) for run in queued] == [("queued", "new_data")]
    assert due_count() == 0


def test_sites_are_rerun_hourly_without_new_data(app, two_sites, make_site, runs_of, frozen_clock):
    (_, a_pk), (_, b_pk) = two_sites["a"], two_sites["b"]
    make_site("no-meters", meters=())
    queue = InlineJobQueue(app)
    first = Dispatcher(app, queue).tick(now=NOW)
    assert first["hourly"] == 2  # never analysed; the site without meters is left alone
    assert Dispatcher(app, queue).tick(now=NOW + timedelta(minutes=30))["hourly"] == 0
    assert Dispatcher(app, queue).tick(now=NOW + timedelta(minutes=61))["hourly"] == 2
    assert runs_of(a_pk) == [("succeeded", "hourly"), ("succeeded", "hourly")]
    assert len(runs_of(b_pk)) == 2


def test_runs_whose_worker_died_are_failed(app, two_sites, runs_of):
    _, a_pk = two_sites["a"]
    with app.app_context():
        run = AnalysisRun(
            organization_id=1,
            site_pk=a_pk,
            status="running",
            trigger="new_data",
            queued_at=NOW - timedelta(hours=3),
            started_at=NOW - timedelta(hours=3),
        )
        db.session.add(run)
        db.session.commit()
        run_id = run.id
    stats = Dispatcher(app, InlineJobQueue(app)).tick(now=NOW)
    assert stats["lost"] == 1
    with app.app_context():
        lost = db.session.get(AnalysisRun, run_id)
        assert lost.status == "failed" and "worker lost" in lost.error


def test_a_run_is_executed_once_even_if_handed_over_twice(app, two_sites):
    from cei.tasks.analytics import run_in_app

    _, a_pk = two_sites["a"]
    with app.app_context():
        run = AnalysisRun(organization_id=1, site_pk=a_pk, status="queued", trigger="manual")
        db.session.add(run)
        db.session.commit()
        run_id = run.id
    assert run_in_app(app, run_id) == "succeeded"
    assert run_in_app(app, run_id) == "skipped"


def test_in_process_pool(app, two_sites, write_readings, runs_of, frozen_clock):
    a_ref, a_pk = two_sites["a"]
    write_readings(a_ref.meters["main"], hourly(hours=48), [a_pk])
    pool = InProcessJobQueue(app, threads=1)
    try:
        stats = Dispatcher(app, pool).tick(now=NOW)
        assert stats["handed_over"] == 2  # a (new data) and b (never analysed)
    finally:
        pool.executor.shutdown(wait=True)
    assert runs_of(a_pk) == [("succeeded", "new_data")]


def test_background_starts_with_the_first_request_and_analyses_new_data(
    make_app, account, two_sites, write_readings, frozen_clock
):
    app = make_app(ANALYTICS_BACKGROUND=True, ANALYTICS_POLL_SECONDS=0.2)
    use_plugins(app, fakes.STANDARD)
    assert EXTENSION_KEY not in app.extensions
    app.test_client().get("/api/v1/health")
    background = app.extensions[EXTENSION_KEY]
    try:
        a_ref, a_pk = two_sites["a"]
        write_readings(a_ref.meters["main"], hourly(hours=48), [a_pk])
        deadline = time.monotonic() + 30
        kpis = None
        while time.monotonic() < deadline:
            with app.app_context():
                result = db.session.get(SiteAnalysis, a_pk)
                kpis = result.kpis if result is not None else None
            if kpis and kpis.get("last_24h_kwh") == 240.0:
                break
            time.sleep(0.1)
        assert kpis and kpis["last_24h_kwh"] == 240.0
    finally:
        background.stop(wait=True)
