"""The life of a job that works on a row it claims (an analysis run, a report).

Claiming commits at once, so other workers skip the row; the work and the row's ending
commit together; a failure rolls the work back and records the error on the row, unless
the row went meanwhile (its site or organization was deleted).
"""

from __future__ import annotations

import logging

from cei.extensions import db

log = logging.getLogger("cei.tasks")


def run_claimed(label, model, row_id, claim, work, fail):
    """Run the job of row ``row_id`` (of ``model``); return how it ended.

    ``claim(row_id)`` takes the row for this worker (False: another has it, ``skipped``);
    ``work(row)`` does the job and marks the row done; ``fail(row, message)`` records an
    error. ``label`` names the row in the log line of a failure.
    """
    if not claim(row_id):
        db.session.rollback()
        return "skipped"
    db.session.commit()
    try:
        work(db.session.get(model, row_id))
        db.session.commit()
        return "succeeded"
    except Exception as exc:  # noqa: BLE001 - the row must say what happened
        db.session.rollback()
        log.exception("%s %s failed", label, row_id)
        row = db.session.get(model, row_id)
        if row is None:  # deleted meanwhile
            return "failed"
        fail(row, f"{type(exc).__name__}: {exc}")
        db.session.commit()
        return "failed"
