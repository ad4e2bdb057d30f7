"""The analysis job: run one queued analysis run (by id), then record how it ended.

RQ workers import ``analyse_run`` by name; the in-process executor calls ``run_in_app``.
Both claim the run first (``queued`` → ``running`` in one conditional UPDATE), so a run that
reached the queue twice (a retried hand-over, two dispatchers) is analysed once. An RQ job
that ends without finishing its run (it raised, or its worker died) calls back
``job_failed``, which records that once.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager

from flask import current_app, has_app_context

from cei import metrics
from cei.extensions import db
from cei.models import AnalysisRun
from cei.services.analytics import runs
from cei.services.analytics.analyse import analyse_site
from cei.tasks.claimed import run_claimed

log = logging.getLogger("cei.tasks")

_process_app = None


def _app():
    """The app of this process: the current one, else one made from the environment."""
    global _process_app
    if has_app_context():
        return current_app._get_current_object()
    if _process_app is None:
        from cei import create_app

        _process_app = create_app()
    return _process_app


@contextmanager
def job_context(app=None):
    """Run a job in a fresh app context (its own database session)."""
    with (app or _app()).app_context():
        yield


def analyse_run(run_id):
    """RQ job: analyse run ``run_id``; return how it ended."""
    with job_context():
        return execute_run(run_id)


def run_in_app(app, run_id):
    """In-process job: analyse run ``run_id`` in ``app``; return how it ended."""
    with job_context(app):
        return execute_run(run_id)


def job_failed(job, connection, exc_type, exc_value, traceback):
    """RQ failure callback: record how an analysis job ended without finishing its run.

    A worker that died mid-run (RQ passes ``AbandonedJobError``): the run is failed and its
    site queued again. A job that raised: the run is failed (``execute_run`` records the
    analysis's own errors, so this is e.g. the database going away meanwhile). A job that
    died before claiming its run: the run is handed over again by the next dispatcher pass.
    """
    from rq.exceptions import AbandonedJobError

    (run_id,) = job.args
    lost = exc_type is not None and issubclass(exc_type, AbandonedJobError)
    kind = getattr(exc_type, "__name__", "error")
    reason = runs.WORKER_LOST if lost else f"job failed: {kind}: {exc_value}"
    with job_context():
        failed, retried = runs.fail_interrupted_run(run_id, reason, retry=lost)
        released = not failed and runs.release_run(run_id)
        db.session.commit()
    if failed or released:
        log.warning(
            "analysis job %s ended without finishing run %s (%s): %s",
            job.id,
            run_id,
            reason,
            "failed, site queued again" if retried else "failed" if failed else "queued again",
        )


def execute_run(run_id):
    """Claim run ``run_id``, analyse its site, commit the results; ``skipped`` if not ours.

    Counted in the ``cei_jobs`` metrics (job ``analysis``) with how it ended and how long
    it took.
    """
    return metrics.counted_job("analysis", _execute_run, run_id)


def _execute_run(run_id):
    return run_claimed("analysis run", AnalysisRun, run_id, runs.claim_run, _analyse, _fail)


def _analyse(run):
    analyse_site(run.site_pk, run.trigger, run=run)
    runs.finish_run(run)


def _fail(run, message):
    runs.finish_run(run, error=message)
