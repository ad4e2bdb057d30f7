"""``/metrics`` of a ``cei worker``: its jobs' counters and durations, on a port of its own.

The jobs of an RQ worker run in the worker's process, so their metrics live there, not in
the web processes. ``cei worker --metrics-port 9101`` serves them (a small WSGI server on a
daemon thread, bound to 127.0.0.1 unless ``--metrics-host`` says otherwise), with the same
rule as the web ``/metrics``: the bearer ``CEI_METRICS_TOKEN`` when set, else loopback
callers outside production (:func:`cei.metrics.scrape_refusal`).
"""

from __future__ import annotations

import json
import logging
import threading
from wsgiref.simple_server import WSGIRequestHandler, make_server

from cei import metrics

log = logging.getLogger("cei.tasks")


class _QuietHandler(WSGIRequestHandler):
    """No request line on stderr (scrapes come every few seconds)."""

    def log_message(self, format, *args):
        return None


def metrics_app(token, production):
    """A WSGI app answering ``GET /metrics`` with this process's metrics."""

    def application(environ, start_response):
        headers = [
            (key[5:].replace("_", "-"), value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        ]
        status = metrics.scrape_refusal(
            token,
            production,
            environ.get("HTTP_AUTHORIZATION"),
            environ.get("REMOTE_ADDR"),
            [name for name, _ in headers],
        )
        if status is None and environ.get("PATH_INFO") != "/metrics":
            status = 404
        if status is not None:
            code, message = metrics.REFUSALS[status]
            body = json.dumps({"code": code, "message": message}).encode()
            answer = [("Content-Type", "application/json"), ("Cache-Control", "no-store")]
            if status == 401:
                answer.append(("WWW-Authenticate", "Bearer"))
            reason = "Unauthorized" if status == 401 else "Not Found"
            start_response(f"{status} {reason}", answer)
            return [body]
        body = metrics.exposition()
        start_response(
            "200 OK", [("Content-Type", metrics.CONTENT_TYPE), ("Cache-Control", "no-store")]
        )
        return [body]

    return application


def start_metrics_server(host, port, token, production):
    """Serve ``/metrics`` on ``host:port`` from a daemon thread; return the server."""
    server = make_server(
        host,
        port,
        metrics_app(token, production),
        handler_class=_QuietHandler,
    )
    thread = threading.Thread(target=server.serve_forever, name="cei-metrics", daemon=True)
    thread.start()
    log.info("worker metrics on http://%s:%d/metrics", host, server.server_port)
    return server
