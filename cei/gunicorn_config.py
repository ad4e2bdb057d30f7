"""gunicorn settings for CEI: ``gunicorn -c python:cei.gunicorn_config wsgi:app``.

- gunicorn's own log lines (start, workers, errors) come out in the app's format: JSON
  lines when ``CEI_LOG_FORMAT`` is ``json`` (the default with ``CEI_ENV=production``), text
  otherwise, on stderr like the app's.
- The app writes one access line per request itself (logger ``cei.access``, with request
  id, organization and duration), so gunicorn's access log stays off. Turned on
  (``--access-logfile``), it never writes the query string: the text format below has the
  path alone (``%(U)s``), and JSON lines carry the path field alone.
- ``PROMETHEUS_MULTIPROC_DIR`` (optional, a directory for this gunicorn alone): emptied when
  gunicorn starts; a dead worker's live gauges are dropped (prometheus_client's
  multiprocess mode, see :mod:`cei.metrics`).

Any other setting (workers, threads, bind, timeout) is given on the command line as usual.
"""

import glob
import os

from gunicorn.glogging import Logger

from cei.config import settings_from_environment
from cei.logs import make_formatter
from cei.metrics import MULTIPROCESS_ENV

# The path alone (%(U)s), never the query string (%(q)s, or %(r)s which holds it).
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%({x-request-id}o)s"'


class CeiLogger(Logger):
    """gunicorn's logger, formatting its lines as the app formats its own."""

    def setup(self, cfg):
        """Set up gunicorn's handlers, then give them the app's formatter."""
        super().setup(cfg)
        self.log_format = settings_from_environment()["LOG_FORMAT"]
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(make_formatter(self.log_format))

    def access(self, resp, req, environ, request_time):
        """Write an access line; as JSON, with named fields and no query string."""
        if self.log_format != "json":
            return super().access(resp, req, environ, request_time)
        if not self.access_log_enabled:
            return None
        status = str(resp.status).split(None, 1)[0]
        headers = dict((name.lower(), value) for name, value in resp.headers)
        duration_ms = round(request_time.total_seconds() * 1000, 1)
        method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO")
        self.access_log.info(
            "%s %s %s",
            method,
            path,
            status,
            extra={
                "method": method,
                "path": path,
                "status": int(status) if status.isdigit() else status,
                "duration_ms": duration_ms,
                "remote_addr": environ.get("REMOTE_ADDR"),
                "request_id": headers.get("x-request-id"),
                "response_bytes": getattr(resp, "sent", None),
            },
        )
        return None


logger_class = CeiLogger


def on_starting(server):
    """Empty the multiprocess metrics directory: values of an earlier run must not count."""
    directory = os.environ.get(MULTIPROCESS_ENV)
    if directory:
        os.makedirs(directory, exist_ok=True)
        for path in glob.glob(os.path.join(directory, "*.db")):
            os.remove(path)


def child_exit(server, worker):
    """Forget the live gauges of a worker that exited (its counters still count)."""
    if os.environ.get(MULTIPROCESS_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
