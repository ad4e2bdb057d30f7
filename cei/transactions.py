"""Transactions the edge (a view) commits, run again when PostgreSQL breaks a deadlock.

Ingestion takes its row locks in key order (sites, meters, readings, keys, rollups, due
marks), so overlapping batches take turns instead of deadlocking. Should a transaction
still meet another in a cycle (a writer with another order), PostgreSQL ends one of them
with SQLSTATE ``40P01`` (``40001`` for a serialization failure). The ended transaction
wrote nothing, so running it again is safe, and it is what the client would do after a
503: the server does it at once instead, and the client never sees the conflict.
"""

import itertools
import logging
import random
import time

from sqlalchemy.exc import DBAPIError

from cei.extensions import db

log = logging.getLogger("cei.transactions")

# SQLSTATE -> what it is called in the log.
RETRYABLE = {"40P01": "deadlock", "40001": "serialization failure"}
ATTEMPTS = 3


def retryable_conflict(error):
    """The name of the conflict that ended ``error``'s transaction, or None if it is not one."""
    return RETRYABLE.get(getattr(getattr(error, "orig", None), "sqlstate", None))


def run_committed(work, attempts=ATTEMPTS):
    """Run ``work()`` and commit; on a deadlock or serialization failure, roll back and run
    both again (at most ``attempts`` times in all). Returns what ``work`` returned."""
    for attempt in itertools.count(1):
        try:
            result = work()
            db.session.commit()
            return result
        except DBAPIError as error:
            db.session.rollback()
            conflict = retryable_conflict(error)
            if conflict is None or attempt >= attempts:
                raise
            log.warning(
                "%s ended the transaction (attempt %d of %d); running it again",
                conflict,
                attempt,
                attempts,
            )
            # A short random pause: the two transactions should not meet again in step.
            time.sleep(random.uniform(0.01, 0.05) * attempt)
