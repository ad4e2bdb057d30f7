"""The dispatcher: turns due sites into queued runs and hands queued runs to the job queue.

Each pass (every ``ANALYTICS_POLL_SECONDS``):

0. lets RQ fail the jobs of workers that died mid-job (their runs are failed and queued
   again, :func:`cei.tasks.analytics.job_failed`);
1. fails runs whose worker was lost, turns due marks into queued ``new_data`` runs, and —
   once a minute — queues an ``hourly`` run for every site not analysed in the last hour
   (time-based alerts such as a silent meter need no new data); commits;
2. hands every queued run the queue does not have yet to the queue (RQ or threads) and
   records it. If Redis is down the runs stay queued in the database and are handed over
   on a later pass; RQ's unique job ids and the run claim keep it to one execution.

Any number of dispatchers may run (one per ``cei worker``): on PostgreSQL a transaction-level
advisory lock lets one do step 1 at a time and due rows are taken with ``SKIP LOCKED``.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from sqlalchemy import text

from cei.extensions import db
from cei.models.types import utcnow
from cei.services.analytics import due, runs
from cei.tasks import reports as report_tasks

log = logging.getLogger("cei.dispatcher")

ADVISORY_LOCK_KEY = 0x0CE1_0A7A  # any constant shared by every dispatcher
HOURLY_CHECK_SECONDS = 60
PRUNE_EVERY_SECONDS = 3600


def _redis_errors():
    try:
        from redis.exceptions import RedisError

        return (RedisError,)
    except ImportError:  # pragma: no cover - redis is a dependency
        return ()


class Dispatcher:
    """Moves analysis work from the database to a job queue; see the module docstring."""

    def __init__(self, app, job_queue, every_queued_first=False):
        self.app = app
        self.job_queue = job_queue
        config = app.config
        self.poll_seconds = float(config["ANALYTICS_POLL_SECONDS"])
        self.rerun_every = timedelta(minutes=float(config["ANALYTICS_RERUN_MINUTES"]))
        self.requeue_after = timedelta(seconds=float(config["ANALYTICS_REQUEUE_SECONDS"]))
        self.run_timeout = timedelta(seconds=float(config["ANALYTICS_JOB_TIMEOUT"]) * 2)
        self.retention = timedelta(days=float(config["ANALYTICS_RUN_RETENTION_DAYS"]))
        # An in-process queue forgets its runs on restart: hand every queued run over once.
        self._every_queued = every_queued_first
        self._next_hourly = 0.0
        self._next_prune = 0.0
        self._next_reports = 0.0

    def _lock(self):
        if db.session.get_bind().dialect.name != "postgresql":
            return True  # SQLite: one writer at a time anyway
        return bool(
            db.session.scalar(
                text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
            )
        )

    def tick(self, now=None):
        """Do one pass; return what it did (counts)."""
        stats = {"lost": 0, "due": 0, "hourly": 0, "pruned": 0, "handed_over": 0, "waiting": 0}
        with self.app.app_context():
            moment = now or utcnow()
            clock = time.monotonic()
            self._reap_abandoned()
            if self._lock():
                stats["lost"] = runs.fail_lost_runs(moment, self.run_timeout)
                stats["due"] = due.take_due_sites(now=moment)
                if now is not None or clock >= self._next_hourly:
                    stats["hourly"] = runs.queue_hourly_runs(moment, self.rerun_every)
                    self._next_hourly = clock + HOURLY_CHECK_SECONDS
                if clock >= self._next_prune:
                    stats["pruned"] = runs.prune_runs(self.retention, moment)
                    self._next_prune = clock + PRUNE_EVERY_SECONDS
            db.session.commit()
            pending = runs.runs_to_hand_over(
                moment, self.requeue_after, every_queued=self._every_queued
            )
            # End the read before handing over: an in-process job may write at once.
            db.session.commit()
            handed = self._hand_over(pending)
            stats["handed_over"], stats["waiting"] = len(handed), len(pending) - len(handed)
            if handed:
                runs.mark_handed_over(handed, utcnow())
                db.session.commit()
            if len(handed) == len(pending):
                self._every_queued = False
            # Reports: lost jobs, the weekly schedule (once a minute), queued ones handed over.
            schedule = now is not None or clock >= self._next_reports
            stats.update(report_tasks.dispatch(self.app, moment, schedule=schedule))
            if schedule:
                self._next_reports = clock + HOURLY_CHECK_SECONDS
        if any(stats.values()):
            log.info("dispatch %s", " ".join(f"{key}={value}" for key, value in stats.items()))
        return stats

    def _hand_over(self, pending):
        return _hand_over(self.job_queue, pending)

    def _reap_abandoned(self):
        """Fail (and retry) the runs of jobs whose worker died (see cei.tasks.worker)."""
        try:
            self.job_queue.reap_abandoned()
        except _redis_errors() as exc:
            log.warning("job queue unavailable, abandoned jobs are reaped later: %s", exc)

    def run_forever(self, stop: threading.Event):
        """Tick every ``poll_seconds`` until ``stop`` is set; a failing pass is logged."""
        log.info(
            "dispatcher started (%s queue, every %.1f s)", self.job_queue.kind, self.poll_seconds
        )
        while not stop.is_set():
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - e.g. the database is down: try again later
                log.exception("dispatcher pass failed")
            stop.wait(self.poll_seconds)


def start_dispatcher_thread(app, job_queue, every_queued_first=False):
    """Start a daemon thread running a :class:`Dispatcher`; return ``(thread, stop event)``."""
    stop = threading.Event()
    dispatcher = Dispatcher(app, job_queue, every_queued_first=every_queued_first)
    thread = threading.Thread(
        target=dispatcher.run_forever, args=(stop,), name="cei-dispatcher", daemon=True
    )
    thread.start()
    return thread, stop


def _hand_over(job_queue, pending):
    """Hand runs over until the queue fails; return the ids it took."""
    handed = []
    for run_id, site_pk in pending:
        try:
            job_queue.hand_over(run_id, site_pk)
        except _redis_errors() as exc:
            log.warning(
                "job queue unavailable, %d run(s) stay queued: %s", len(pending) - len(handed), exc
            )
            break
        handed.append(run_id)
    return handed


def _request_job_queue(app):
    """The job queue a web request may hand runs to directly, or None (the dispatcher will)."""
    from cei.tasks.queues import EXTENSION_KEY, InlineJobQueue, RQJobQueue

    if app.config.get("JOBS_INLINE"):
        return InlineJobQueue(app)
    if app.config.get("REDIS_URL"):
        queue = app.extensions.get(EXTENSION_KEY + ".rq")
        if queue is None:
            queue = RQJobQueue(app.config["REDIS_URL"], app.config["ANALYTICS_JOB_TIMEOUT"])
            app.extensions[EXTENSION_KEY + ".rq"] = queue
        return queue
    background = app.extensions.get(EXTENSION_KEY)
    return background.job_queue if background is not None else None


def hand_over_now(app, pending):
    """Hand committed queued runs ``[(run id, site_pk)]`` to the queue at once, if there is one.

    Saves a dispatcher pass of latency for manual runs; whatever fails stays queued and the
    dispatcher hands it over later. ``JOBS_INLINE`` runs them here and now.
    """
    job_queue = _request_job_queue(app)
    if job_queue is None or not pending:
        return []
    handed = _hand_over(job_queue, pending)
    if handed:
        runs.mark_handed_over(handed, utcnow())
        db.session.commit()
    return handed
