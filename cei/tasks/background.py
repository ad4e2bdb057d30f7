"""In-process background work for the embedded setup (no Redis): a dispatcher thread and a
thread pool running the analysis jobs, started with the app's first request.

Not at ``create_app`` time: CLI commands (``cei init-db``, ``cei db upgrade``) build the app
too and must not start threads that query tables still being created. With ``REDIS_URL``
nothing starts here: ``cei worker`` runs the dispatcher and the jobs.
"""

from __future__ import annotations

import atexit
import logging
import threading

from cei.tasks.dispatcher import start_dispatcher_thread
from cei.tasks.queues import EXTENSION_KEY, InProcessJobQueue

log = logging.getLogger("cei.tasks")


class Background:
    """The in-process job queue and the dispatcher thread feeding it."""

    def __init__(self, app):
        self.job_queue = InProcessJobQueue(app, app.config["ANALYTICS_THREADS"])
        self.thread, self.stop_event = start_dispatcher_thread(
            app, self.job_queue, every_queued_first=True
        )

    def stop(self, wait=False):
        """Stop the dispatcher and the pool (the current job finishes; ``wait`` for it)."""
        self.stop_event.set()
        if wait:
            self.thread.join()
        self.job_queue.close(wait=wait)


def install(app):
    """Start in-process background work with the first request, when the config asks for it."""
    if app.config.get("REDIS_URL") or not app.config.get("ANALYTICS_BACKGROUND"):
        return
    lock = threading.Lock()

    @app.before_request
    def start_background_work():
        if EXTENSION_KEY in app.extensions:
            return
        with lock:
            if EXTENSION_KEY not in app.extensions:
                background = Background(app)
                app.extensions[EXTENSION_KEY] = background
                atexit.register(background.stop)
                log.info("in-process analytics started")
