"""Work waiting in the database: sites due for analysis, queued and running jobs.

For ``/metrics`` (queue depth without Redis, and what the queues do not show: due marks not
yet turned into runs, runs and reports whose job has not finished). No tenant is named.
"""

import logging

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from cei.extensions import db
from cei.models import AnalysisRun, DueAnalysis, Report

log = logging.getLogger("cei.metrics")

WAITING_STATUSES = ("queued", "running")


def _by_status(model):
    rows = db.session.execute(
        select(model.status, func.count())
        .where(model.status.in_(WAITING_STATUSES))
        .group_by(model.status)
    ).all()
    counts = dict.fromkeys(WAITING_STATUSES, 0)
    counts.update({status: count for status, count in rows})
    return counts


def pending_work():
    """Return ``{"due_sites": n, "analysis_runs": {status: n}, "reports": {status: n}}``,
    or None when the database does not answer."""
    try:
        due_sites = db.session.scalar(select(func.count()).select_from(DueAnalysis))
        work = {
            "due_sites": due_sites or 0,
            "analysis_runs": _by_status(AnalysisRun),
            "reports": _by_status(Report),
        }
    except SQLAlchemyError as exc:
        log.warning("pending work unavailable: %s", type(exc).__name__)
        work = None
    # A read only: end the transaction at once (a scrape must hold no snapshot or lock).
    db.session.rollback()
    return work
