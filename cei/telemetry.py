"""Every request is timed, counted (:mod:`cei.metrics`) and logged (:mod:`cei.logs`).

The clock starts when the request enters the app (before rate limits, sessions and body
parsing) and stops when its response is ready; a streamed body (CSV export) is not waited
for. Requests for ``/metrics`` itself are neither counted nor logged: a scrape every few
seconds would drown the access log.
"""

import logging
import time

from flask import current_app, g, request
from flask_login import user_logged_in

from cei import logs, metrics

log = logging.getLogger("cei.http")

STARTED_KEY = "cei.started"
QUIET_ENDPOINTS = {"metrics.scrape"}


class StartClock:
    """WSGI middleware: note when the request arrived, before anything else runs."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        environ[STARTED_KEY] = time.perf_counter()
        return self.wsgi_app(environ, start_response)


def record_request(response):
    """Count and log the request ``response`` answers."""
    if request.endpoint in QUIET_ENDPOINTS:
        return response
    started = request.environ.get(STARTED_KEY)
    seconds = time.perf_counter() - started if started is not None else 0.0
    endpoint = request.url_rule.rule if request.url_rule is not None else None
    try:
        metrics.count_request(request.method, endpoint, response.status_code, seconds)
        if current_app.config["ACCESS_LOG"]:
            logs.log_request(request, response, seconds, endpoint)
    except Exception:  # noqa: BLE001 - telemetry must never turn an answer into a 500
        log.exception("could not record request %s", g.get("request_id"))
    return response


def _logged_in(sender, user, **extra):
    logs.bind_organization(user.organization_id)


def register(app):
    """Time, count and log every request of ``app``."""
    # A login request's log lines name the organization that just signed in.
    user_logged_in.connect(_logged_in)
    app.wsgi_app = StartClock(app.wsgi_app)
    # Registered first, so it runs last of the after_request functions (they run in
    # reverse): the status it sees is the final one.
    app.after_request_funcs.setdefault(None, []).insert(0, record_request)
