"""The RQ worker of ``cei worker``: jobs run in this process, and it keeps saying it is alive.

RQ's ``SimpleWorker`` runs a job in its own process (the app, pandas and the connection
pool stay warm) but reports only once, when the job starts, that it is working on it: the
job's entry in the queue's ``StartedJobRegistry`` expires ``job_timeout + 60`` seconds
later (11 minutes by default). A worker killed mid-job (the OOM killer, a lost machine) was
noticed only then. :class:`HeartbeatWorker` renews the entry every
``WORKER_HEARTBEAT_SECONDS`` while the job runs, with a short expiry: a dead worker's job
is found abandoned within seconds by RQ's registry cleanup, which every dispatcher pass
runs (:meth:`cei.tasks.queues.RQJobQueue.reap_abandoned`), and which calls the job's
failure callback (:func:`cei.tasks.analytics.job_failed`): the run is failed, and retried.
"""

from __future__ import annotations

import logging
import math
import signal
import threading

from rq import SimpleWorker

log = logging.getLogger("cei.tasks")


def heartbeat_ttl(heartbeat_seconds):
    """Seconds a job's entry stays in the registry without a heartbeat (three beats missed)."""
    return math.ceil(3 * heartbeat_seconds) + 2


class HeartbeatWorker(SimpleWorker):
    """A ``SimpleWorker`` that renews its running job's registry entry on a thread."""

    heartbeat_seconds = 10.0
    # Set by SIGINT/SIGTERM. RQ ends an idle worker's loop on them without setting its own
    # ``_stop_requested`` (only a busy one gets it), so run_worker could not tell a stop
    # asked for from a loop that ended on an error, and started the worker again.
    asked_to_stop = False

    def request_stop(self, signum, frame):
        """Remember that a stop was asked for, then stop as RQ does (warm shutdown)."""
        self.asked_to_stop = True
        super().request_stop(signum, frame)

    def get_heartbeat_ttl(self, job, working_time=0.0):
        """The expiry of the job's entry, renewed by the heartbeat thread."""
        return heartbeat_ttl(self.heartbeat_seconds)

    def perform_job(self, job, queue, execution):
        """Run the job with a heartbeat beside it."""
        stop = threading.Event()
        beat = threading.Thread(
            target=self._beat,
            args=(queue, execution, stop),
            name="cei-worker-heartbeat",
            daemon=True,
        )
        beat.start()
        try:
            return super().perform_job(job, queue, execution)
        finally:
            stop.set()
            beat.join()

    def _beat(self, queue, execution, stop):
        ttl = heartbeat_ttl(self.heartbeat_seconds)
        while not stop.wait(self.heartbeat_seconds):
            try:
                with self.connection.pipeline() as pipeline:
                    execution.heartbeat(queue.started_job_registry, ttl, pipeline)
                    self.heartbeat(ttl, pipeline=pipeline)
                    pipeline.execute()
            except Exception as exc:  # noqa: BLE001 - Redis away: beat again next time
                log.warning("worker heartbeat failed: %s", exc)


def run_worker(app, queue_names, burst=False, heartbeat_seconds=None, restart_pause=None):
    """Work on the RQ queues ``queue_names`` of the app's Redis until asked to stop
    (SIGINT/SIGTERM) or, with ``burst``, until they are empty. Call inside an app context.

    RQ's loop gives up when Redis fails at some moments (registering the worker, finishing
    a job, its maintenance): the worker then starts again after ``restart_pause`` seconds
    (a job it was finishing is found abandoned and recorded by its failure callback, and
    one it had just taken waits in RQ's intermediate queue for the next worker).
    """
    from redis import Redis
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError
    from rq import Queue

    pause = RESTART_PAUSE_SECONDS if restart_pause is None else restart_pause
    # No socket timeout here: the worker blocks on Redis while it waits for jobs.
    connection = Redis.from_url(app.config["REDIS_URL"])
    queues = [Queue(name, connection=connection) for name in queue_names]
    failures = 0
    try:
        while True:
            try:
                worker = HeartbeatWorker(queues, connection=connection)  # asks Redis things
                worker.heartbeat_seconds = float(
                    heartbeat_seconds or app.config["WORKER_HEARTBEAT_SECONDS"]
                )
                worker.work(burst=burst)
                if worker.asked_to_stop or worker._stop_requested or (burst and _drained(queues)):
                    return
                reason = "its loop stopped on an error"
            except (RedisConnectionError, RedisTimeoutError) as exc:
                reason = f"Redis: {exc}"
            failures += 1
            if burst and failures >= BURST_ATTEMPTS:
                raise RuntimeError(f"worker stopped {failures} times, last: {reason}")
            log.warning("worker stopped (%s); starting again in %.1f s", reason, pause)
            if _stop_asked_during(pause):
                return
    finally:
        connection.close()


RESTART_PAUSE_SECONDS = 2.0
BURST_ATTEMPTS = 10


def _drained(queues):
    """Whether every queue is empty (False when Redis cannot tell)."""
    from redis.exceptions import RedisError

    try:
        return all(queue.count == 0 for queue in queues)
    except RedisError:
        return False


def _stop_asked_during(seconds):
    """Wait ``seconds``; tell whether SIGINT or SIGTERM came meanwhile (no worker is
    running to catch them)."""
    asked = threading.Event()
    previous = {
        number: signal.signal(number, lambda *_: asked.set())
        for number in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        asked.wait(seconds)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    return asked.is_set()
