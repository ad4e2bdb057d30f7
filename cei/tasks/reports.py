"""The report job: generate one queued report (by id), then record how it ended.

Reports go to RQ (queue ``reports``) when ``REDIS_URL`` is set, else to a one-thread pool of
the web process (unless ``ANALYTICS_BACKGROUND`` is off, as in tests: they stay queued);
``JOBS_INLINE`` generates them inside the request (tests, scripts). The RQ
job id is ``report-<id>`` and the job claims its row first (``queued`` → ``running``), so a
report handed over twice is generated once. If Redis is down the row stays ``queued`` and is
handed over again later (``hand_over_queued``).
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from cei import metrics
from cei.extensions import db
from cei.models import Report
from cei.models.types import utcnow
from cei.services.reports import csv as report_csv
from cei.services.reports import jobs, pdf
from cei.services.reports.build import build_report
from cei.tasks.analytics import job_context
from cei.tasks.claimed import run_claimed

log = logging.getLogger("cei.tasks")

QUEUE_NAME = "reports"
JOB_FUNCTION = "cei.tasks.reports.generate_report"
EXECUTOR_KEY = "cei.reports.executor"
RQ_KEY = "cei.reports.rq"
JOB_TIMEOUT = 600


def job_id(report_id):
    """Return the RQ job id of report ``report_id``."""
    return f"report-{report_id}"


def generate_report(report_id):
    """RQ job: generate report ``report_id``; return how it ended."""
    with job_context():
        return execute(report_id)


def run_in_app(app, report_id):
    """In-process job: generate report ``report_id`` in ``app``; return how it ended."""
    with job_context(app):
        return execute(report_id)


def execute(report_id):
    """Claim report ``report_id``, generate it and commit; ``skipped`` if not ours.

    Counted in the ``cei_jobs`` metrics (job ``report``) with how it ended and how long
    it took.
    """
    return metrics.counted_job("report", _execute, report_id)


def _execute(report_id):
    return run_claimed("report", Report, report_id, jobs.claim_report, _generate, jobs.fail)


def _generate(report):
    jobs.generate(report, build_report, pdf.render_pdf, report_csv.render_csv)


def _redis_queue(app):
    queue = app.extensions.get(RQ_KEY)
    if queue is None:
        from redis import Redis
        from rq import Queue

        connection = Redis.from_url(
            app.config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=10
        )
        queue = Queue(QUEUE_NAME, connection=connection)
        app.extensions[RQ_KEY] = queue
    return queue


def _executor(app):
    executor = app.extensions.get(EXECUTOR_KEY)
    if executor is None:
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cei-reports")
        app.extensions[EXECUTOR_KEY] = executor
    return executor


def _enqueue(app, report_id):
    from rq.exceptions import DuplicateJobError

    try:
        _redis_queue(app).enqueue(
            JOB_FUNCTION,
            report_id,
            job_id=job_id(report_id),
            unique=True,
            job_timeout=JOB_TIMEOUT,
            result_ttl=0,  # the report row is the record
            failure_ttl=24 * 3600,
            description=f"report {report_id}",
        )
    except DuplicateJobError:
        pass


def hand_over(app, report_ids):
    """Give committed queued reports to the job queue; return the ids it took.

    ``JOBS_INLINE`` generates them here and now. With Redis down the reports stay queued
    (``hand_over_queued`` tries again).
    """
    from redis.exceptions import RedisError

    taken = []
    for report_id in report_ids:
        if app.config.get("JOBS_INLINE"):
            run_in_app(app, report_id)
        elif app.config.get("REDIS_URL"):
            try:
                _enqueue(app, report_id)
            except RedisError as exc:
                log.warning("report queue unavailable, report %s stays queued: %s", report_id, exc)
                break
        elif app.config.get("ANALYTICS_BACKGROUND", True):
            _executor(app).submit(run_in_app, app, report_id)
        else:
            break  # no background work in this process (tests): the report stays queued
        taken.append(report_id)
    if taken and not app.config.get("JOBS_INLINE"):
        jobs.mark_enqueued(taken, utcnow())
        db.session.commit()
    return taken


def hand_over_queued(app, now=None):
    """Hand over every queued report never handed over (or long ago); for the dispatcher."""
    pending = jobs.reports_to_hand_over(now)
    db.session.commit()
    return hand_over(app, pending)


def dispatch(app, now=None, schedule=True):
    """One dispatcher pass for reports: fail lost jobs, queue due weekly reports (``schedule``;
    once a minute is plenty), hand queued reports over.

    Returns ``{"reports_lost", "reports_scheduled", "reports_handed_over"}`` counts.
    """
    lost = jobs.fail_lost_reports(now, timedelta(seconds=2 * JOB_TIMEOUT))
    scheduled = jobs.queue_weekly_reports(now) if schedule else []
    db.session.commit()
    handed = hand_over_queued(app, now)
    return {
        "reports_lost": lost,
        "reports_scheduled": len(scheduled),
        "reports_handed_over": len(handed),
    }


def schedule_weekly(app, now=None):
    """Queue the due weekly portfolio reports and hand them over; return ``(queued, handed)``."""
    queued = jobs.queue_weekly_reports(now)
    db.session.commit()
    return queued, hand_over(app, queued)
