"""gunicorn settings for CEI's web process (docs/deploy.md).

Used by ``cei-web.service`` and the ``Procfile``:
``gunicorn -c docs/deploy/gunicorn.conf.py --bind 0.0.0.0:8000 wsgi:app``. Options given on
the command line win over these. gunicorn itself reads ``PORT`` (bind ``0.0.0.0:$PORT``
when no ``--bind`` is given) and this file reads ``WEB_CONCURRENCY`` (worker processes).

Logging and metrics come from CEI's own gunicorn settings (:mod:`cei.gunicorn_config`, what
``make run`` uses): gunicorn's lines in the app's format (JSON in production,
``CEI_LOG_FORMAT``), gunicorn's access log off because the app writes its own (logger
``cei.access``, no query strings), and the ``PROMETHEUS_MULTIPROC_DIR`` housekeeping.
"""

import os

# gunicorn reads these names from this file: CEI's logger class, the hooks that empty the
# metrics directory at start and forget a dead worker's gauges, and a query-free access
# format for whoever turns gunicorn's access log on (--access-logfile).
from cei.gunicorn_config import (  # noqa: F401
    access_log_format,
    child_exit,
    logger_class,
    on_starting,
)

# Worker processes: each has its own connection pool and serves `threads` requests at once.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = 4
worker_class = "gthread"
# A large CSV upload streams for a while; analysis work never runs in a request.
timeout = 120
graceful_timeout = 30
keepalive = 5

# gunicorn 23+ opens a control socket in $HOME by default; the service user needs none.
control_socket_disable = True
