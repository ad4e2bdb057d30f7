"""Where analysis runs go to be executed: RQ on Redis, or an in-process thread pool.

Both take a run by ``hand_over(run_id, site_pk)``. The RQ job id is deterministic per run,
``analyse-site-<site_pk>-run-<run_id>`` (RQ allows letters, digits, ``-`` and ``_``), and is
enqueued with ``unique=True``, so handing the same run over twice leaves one job in Redis.
One id per run rather than one per site: an id reused while the site's previous job is still
running would overwrite that job's hash.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger("cei.tasks")

QUEUE_NAME = "analytics"
JOB_FUNCTION = "cei.tasks.analytics.analyse_run"
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
            self.queue.enqueue(
                JOB_FUNCTION,
                run_id,
                job_id=job_id(run_id, site_pk),
                unique=True,
                job_timeout=self.job_timeout,
                result_ttl=0,  # the run row is the record; the job goes once done
                failure_ttl=24 * 3600,
                description=f"analyse site {site_pk} (run {run_id})",
            )
        except DuplicateJobError:
            pass
        return True

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
