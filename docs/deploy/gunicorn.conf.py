"""gunicorn settings for CEI's web process (docs/deploy.md).

Used by ``cei-web.service`` and the ``Procfile``:
``gunicorn -c docs/deploy/gunicorn.conf.py --bind 0.0.0.0:8000 wsgi:app``. Options given on
the command line win over these. gunicorn itself reads ``PORT`` (bind ``0.0.0.0:$PORT``
when no ``--bind`` is given) and this file reads ``WEB_CONCURRENCY`` (worker processes).
"""

import os

# Worker processes: each has its own connection pool and serves `threads` requests at once.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = 4
worker_class = "gthread"
# A large CSV upload streams for a while; analysis work never runs in a request.
timeout = 120
graceful_timeout = 30
keepalive = 5

# Access log on stdout (the journal), without the query string: a token sent as
# ?access_token=… must not land in a log (the same format as `make run`).
accesslog = "-"
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%({x-request-id}o)s"'

# gunicorn 23+ opens a control socket in $HOME by default; the service user needs none.
control_socket_disable = True
