"""Analysis runs: queued (at most one per site), claimed by exactly one job, then finished.

Every path that wants an analysis — new data, the hourly re-run, a manual request — inserts a
queued run with ``ON CONFLICT DO NOTHING``-like semantics against the partial unique index
"one queued run per site": a site that already has a queued run keeps that one, which will
read the newest data when it starts. A job runs a run only after claiming it (``queued`` →
``running`` in one conditional UPDATE), so a run handed to the queue twice runs once.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, exists, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from cei.extensions import db
from cei.models import AnalysisRun, Meter, Site
from cei.models.analysis import RUN_STATUSES, TRIGGERS
from cei.models.types import utcnow
from cei.services.errors import NotFound

runs_table = AnalysisRun.__table__
QUEUED_ONLY = text("status = 'queued'")
INSERT_CHUNK = 500


def _insert():
    name = db.session.get_bind().dialect.name
    return postgresql_insert if name == "postgresql" else sqlite_insert


def queue_runs(entries, trigger, now=None):
    """Queue a run per ``(site_pk, organization_id, due_since)`` unless one is queued already.

    A site's queued run keeps its trigger; it takes the earliest ``due_since`` (freshness is
    measured from the oldest data it answers to).
    """
    if trigger not in TRIGGERS:
        raise ValueError(f"unknown trigger {trigger!r}")
    now = now or utcnow()
    by_site = {}
    for site_pk, organization_id, due_since in entries:
        by_site.setdefault(site_pk, (organization_id, due_since))
    rows = [
        {
            "site_pk": site_pk,
            "organization_id": organization_id,
            "status": "queued",
            "trigger": trigger,
            "queued_at": now,
            "due_since": due_since,
        }
        for site_pk, (organization_id, due_since) in sorted(by_site.items())
    ]
    insert = _insert()
    for first in range(0, len(rows), INSERT_CHUNK):
        statement = insert(runs_table).values(rows[first : first + INSERT_CHUNK])
        statement = statement.on_conflict_do_update(
            index_elements=[runs_table.c.site_pk],
            index_where=QUEUED_ONLY,
            set_={"due_since": func.coalesce(runs_table.c.due_since, statement.excluded.due_since)},
        )
        db.session.execute(statement)
    return len(rows)


def request_runs(organization, site=None, now=None):
    """Queue a manual run of ``site`` (or of every site of the organization); return the runs.

    A site with a run already queued answers with that run (it will see the same data).
    """
    now = now or utcnow()
    if site is not None:
        targets = [site]
    else:
        targets = db.session.scalars(
            select(Site).where(Site.organization_id == organization.id).order_by(Site.id)
        ).all()
    if not targets:
        return []
    pks = [target.id for target in targets]
    queue_runs([(pk, organization.id, None) for pk in pks], trigger="manual", now=now)
    db.session.flush()
    latest = (
        select(func.max(AnalysisRun.id))
        .where(AnalysisRun.site_pk.in_(pks))
        .group_by(AnalysisRun.site_pk)
    )
    return db.session.scalars(
        select(AnalysisRun).where(AnalysisRun.id.in_(latest)).order_by(AnalysisRun.site_pk)
    ).all()


def queue_hourly_runs(now=None, every=timedelta(hours=1), limit=5000):
    """Queue an ``hourly`` run for every site with meters and no run queued within ``every``."""
    now = now or utcnow()
    recent = exists().where(AnalysisRun.site_pk == Site.id, AnalysisRun.queued_at >= now - every)
    has_meters = exists().where(Meter.site_pk == Site.id)
    rows = db.session.execute(
        select(Site.id, Site.organization_id).where(has_meters, ~recent).limit(limit)
    ).all()
    if rows:
        queue_runs([(pk, org, None) for pk, org in rows], trigger="hourly", now=now)
    return len(rows)


def claim_run(run_id, now=None):
    """Mark run ``run_id`` as running if it is still queued; tell whether this call got it."""
    result = db.session.execute(
        update(runs_table)
        .where(runs_table.c.id == run_id, runs_table.c.status == "queued")
        .values(status="running", started_at=now or utcnow())
    )
    return result.rowcount == 1


def finish_run(run, error=None, now=None):
    """Record the end of ``run``: succeeded, or failed with ``error``."""
    now = now or utcnow()
    run.status = "failed" if error else "succeeded"
    if error:
        run.error = str(error)[:2000]
    run.finished_at = now
    if run.started_at is not None:
        run.duration_ms = round((now - run.started_at).total_seconds() * 1000, 3)
    db.session.flush()
    return run


def runs_to_hand_over(
    now=None, requeue_after=timedelta(minutes=10), every_queued=False, limit=1000
):
    """Return ``[(run id, site_pk)]`` of queued runs the job queue does not have (yet).

    Those never handed over (``enqueued_at`` unset: e.g. Redis was down), those handed over
    longer than ``requeue_after`` ago (the queue may have lost them; handing over again is
    safe), or every queued run (``every_queued``: an in-process queue after a restart).
    """
    now = now or utcnow()
    query = select(AnalysisRun.id, AnalysisRun.site_pk).where(AnalysisRun.status == "queued")
    if not every_queued:
        query = query.where(
            (AnalysisRun.enqueued_at.is_(None)) | (AnalysisRun.enqueued_at < now - requeue_after)
        )
    return [tuple(row) for row in db.session.execute(query.order_by(AnalysisRun.id).limit(limit))]


def mark_handed_over(run_ids, now=None):
    """Record that the job queue accepted runs ``run_ids``."""
    if run_ids:
        db.session.execute(
            update(runs_table)
            .where(runs_table.c.id.in_(list(run_ids)))
            .values(enqueued_at=now or utcnow())
        )


WORKER_LOST = "worker lost mid-run"


def fail_interrupted_run(run_id, error, retry=False, now=None):
    """Fail run ``run_id`` if it is still running: its job ended without finishing it.

    With ``retry`` (its worker died: nothing wrong with the run itself), a new run of its
    site is queued, with its trigger, unless the site's previous run was lost the same way
    (an analysis that kills its worker is not tried forever). Returns ``(failed, retried)``;
    ``(False, False)`` when the run was not running (already finished, failed by another
    caller): each interruption is recorded, and retried, once.
    """
    now = now or utcnow()
    failed = db.session.execute(
        update(runs_table)
        .where(runs_table.c.id == run_id, runs_table.c.status == "running")
        .values(status="failed", finished_at=now, error=str(error)[:2000])
    )
    if failed.rowcount != 1:
        return False, False
    run = db.session.get(AnalysisRun, run_id)
    db.session.refresh(run)
    if run.started_at is not None:
        run.duration_ms = round((now - run.started_at).total_seconds() * 1000, 3)
    if not retry or _previous_run_lost(run):
        db.session.flush()
        return True, False
    queue_runs([(run.site_pk, run.organization_id, run.due_since)], run.trigger, now=now)
    db.session.flush()
    return True, True


def _previous_run_lost(run):
    previous = db.session.scalar(
        select(AnalysisRun.error)
        .where(
            AnalysisRun.site_pk == run.site_pk,
            AnalysisRun.id < run.id,
            AnalysisRun.status.in_(("succeeded", "failed")),
        )
        .order_by(AnalysisRun.id.desc())
        .limit(1)
    )
    return bool(previous) and previous.startswith(WORKER_LOST)


def release_run(run_id):
    """Mark queued run ``run_id`` as not handed over (its job died before claiming it), so
    the next dispatcher pass hands it over again; tell whether it was still queued."""
    result = db.session.execute(
        update(runs_table)
        .where(runs_table.c.id == run_id, runs_table.c.status == "queued")
        .values(enqueued_at=None)
    )
    return result.rowcount == 1


def fail_lost_runs(now=None, timeout=timedelta(minutes=30)):
    """Fail runs still running after ``timeout`` (their worker died); return how many."""
    now = now or utcnow()
    result = db.session.execute(
        update(runs_table)
        .where(runs_table.c.status == "running", runs_table.c.started_at < now - timeout)
        .values(status="failed", finished_at=now, error="worker lost: still running at timeout")
    )
    return result.rowcount


def prune_runs(older_than, now=None):
    """Delete finished runs queued before ``now - older_than``; return how many."""
    now = now or utcnow()
    result = db.session.execute(
        delete(runs_table).where(
            runs_table.c.status.in_(("succeeded", "failed")),
            runs_table.c.queued_at < now - older_than,
        )
    )
    return result.rowcount


def get_run(organization, run_id):
    """Return the organization's run ``run_id`` or raise ``NotFound``."""
    run = db.session.get(AnalysisRun, run_id)
    if run is None or run.organization_id != organization.id:
        raise NotFound(f"Analysis run {run_id} not found")
    return run


def list_runs(organization, site=None, status=None, limit=50, offset=0):
    """Return ``(total, runs)`` of the organization, newest first."""
    query = select(AnalysisRun).where(AnalysisRun.organization_id == organization.id)
    if site is not None:
        query = query.where(AnalysisRun.site_pk == site.id)
    if status:
        query = query.where(AnalysisRun.status.in_([s for s in status if s in RUN_STATUSES]))
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    runs = db.session.scalars(query.order_by(AnalysisRun.id.desc()).limit(limit).offset(offset))
    return total, runs.all()
