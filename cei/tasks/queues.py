"""Where analysis runs go to be executed: RQ on Redis, or an in-process thread pool.

Both take a run by ``hand_over(run_id, site_pk)``. The RQ job id is deterministic per run,
``analyse-site-<site_pk>-run-<run_id>`` (RQ allows letters, digits, ``-`` and ``_``), and is
enqueued with ``unique=True``, so handing the same run over twice leaves one job in Redis.
One id per run rather than one per site: an id reused while the site's previous job is still
running would overwrite that job's hash.

A job that ended without finishing its run calls back :func:`cei.tasks.analytics.job_failed`:
raising, or abandoned by a worker that died (RQ finds those when it cleans the queue's
registry of started jobs, :meth:`RQJobQueue.reap_abandoned`). A run still queued whose job
is dead (it failed before claiming the run, or was lost on its way to a worker) is handed
over again with a new job in place of the dead one, which RQ keeps for a day and would
otherwise count as a duplicate.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger("cei.tasks")

QUEUE_NAME = "analytics"
JOB_FUNCTION = "cei.tasks.analytics.analyse_run"
FAILURE_CALLBACK = "cei.tasks.analytics.job_failed"
EXTENSION_KEY = "cei.jobs"


def job_id(run_id, site_pk):
    """Return the RQ job id of analysis run ``run_id`` of site ``site_pk``."""
    return f"analyse-site-{site_pk}-run-{run_id}"


def redis_connection(url):
    """Return a Redis client that fails fast when Redis is down."""
    from redis import Redis

    return Redis.from_url(url, socket_connect_timeout=2, socket_timeout=10)


class RQJobQueue:
    """Analysis runs as RQ jobs on the ``analytics`` queue."""

    kind = "rq"

    def __init__(self, redis_url, job_timeout=600):
        from rq import Queue

        self.connection = redis_connection(redis_url)
        self.queue = Queue(QUEUE_NAME, connection=self.connection)
        self.job_timeout = job_timeout

    def hand_over(self, run_id, site_pk):
        """Enqueue the run's job unless Redis has it already (raises ``RedisError`` if down)."""
        from rq.exceptions import DuplicateJobError

        try:
            self._enqueue(run_id, site_pk)
        except DuplicateJobError:
            if self._remove_dead_job(job_id(run_id, site_pk)):
                try:
                    self._enqueue(run_id, site_pk)
                except DuplicateJobError:
                    pass  # another dispatcher replaced it first
        return True

    def _enqueue(self, run_id, site_pk):
        from rq import Callback

        self.queue.enqueue(
            JOB_FUNCTION,
            run_id,
            job_id=job_id(run_id, site_pk),
            unique=True,
            job_timeout=self.job_timeout,
            result_ttl=0,  # the run row is the record; the job goes once done
            failure_ttl=24 * 3600,
            on_failure=Callback(FAILURE_CALLBACK),
            description=f"analyse site {site_pk} (run {run_id})",
        )

    def _remove_dead_job(self, existing_id):
        """Delete job ``existing_id`` unless it waits in the queue or runs; tell whether it
        is gone.

        Called for a run still queued in the database: its job failed before claiming it,
        or was lost between the queue and a worker (Redis gone at that moment: RQ leaves it
        in the queue's "intermediate" list, and fails it a minute later).
        """
        from rq.exceptions import NoSuchJobError
        from rq.job import Job

        try:
            job = Job.fetch(existing_id, connection=self.connection)
        except NoSuchJobError:
            return True
        if self._alive(job):
            return False
        with self.connection.pipeline() as pipeline:
            job.delete(pipeline=pipeline)
            pipeline.lrem(self.queue.intermediate_queue_key, 0, existing_id)
            pipeline.execute()
        log.info("job %s was %s; handing its run over again", existing_id, job.get_status(False))
        return True

    def _alive(self, job):
        """Whether ``job`` waits in the queue, runs, or waits for its time."""
        from rq.job import JobStatus

        status = job.get_status(refresh=False)
        if status == JobStatus.QUEUED:
            return self.queue.get_job_position(job.id) is not None
        if status == JobStatus.STARTED:
            return job.id in self.queue.started_job_registry
        return status in (JobStatus.DEFERRED, JobStatus.SCHEDULED)

    def reap_abandoned(self):
        """Let RQ fail the jobs whose worker stopped beating (calling back ``job_failed``)."""
        from rq.registry import StartedJobRegistry
        from rq.timeouts import TimerDeathPenalty

        # The callbacks' time limit works from any thread (the dispatcher's is not the main).
        StartedJobRegistry(
            QUEUE_NAME, connection=self.connection, death_penalty_class=TimerDeathPenalty
        ).cleanup()

    def close(self, wait=False):
        """Release the Redis connections."""
        self.connection.close()


class InProcessJobQueue:
    """Analysis runs on a thread pool of the web process (no Redis)."""

    kind = "in-process"

    def __init__(self, app, threads=1):
        self.app = app
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="cei-analytics")

    def hand_over(self, run_id, site_pk):
        """Submit the run to the pool."""
        from cei.tasks.analytics import run_in_app

        self.executor.submit(run_in_app, self.app, run_id)
        return True

    def reap_abandoned(self):
        """Nothing to reap: a job that dies here takes the process (and this queue) along."""

    def close(self, wait=False):
        """Stop taking runs; let the current one finish (``wait`` for it)."""
        self.executor.shutdown(wait=wait, cancel_futures=True)


class InlineJobQueue:
    """Runs analyse at once, in the caller's thread (tests, ``cei dispatch --inline``)."""

    kind = "inline"

    def __init__(self, app):
        self.app = app
        self.results = []

    def hand_over(self, run_id, site_pk):
        """Analyse the run now."""
        from cei.tasks.analytics import run_in_app

        self.results.append((run_id, run_in_app(self.app, run_id)))
        return True

    def reap_abandoned(self):
        """Nothing to reap: runs finish before ``hand_over`` returns."""

    def close(self, wait=False):
        """Nothing to release."""


def rq_queue_lengths(redis_url, names):
    """Return ``{queue name: jobs waiting}`` for the RQ queues ``names``; None if Redis is down."""
    from redis import Redis
    from redis.exceptions import RedisError
    from rq import Queue

    # Short timeouts: a scrape must answer even when Redis does not.
    connection = Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return {name: Queue(name, connection=connection).count for name in names}
    except RedisError as exc:
        log.warning("job queue lengths unavailable: %s", exc)
        return None
    finally:
        connection.close()


def make_job_queue(app):
    """Return the job queue the app's config asks for (RQ with ``REDIS_URL``, else threads)."""
    if app.config.get("REDIS_URL"):
        return RQJobQueue(app.config["REDIS_URL"], app.config["ANALYTICS_JOB_TIMEOUT"])
    return InProcessJobQueue(app, app.config["ANALYTICS_THREADS"])
