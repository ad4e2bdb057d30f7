"""Logging: one handler on the root logger, JSON lines or plain text, and the access log.

``LOG_FORMAT=json`` writes one JSON object per line (python-json-logger): ``timestamp``
(UTC, ISO 8601), ``level``, ``logger``, ``message``, ``process`` (the process id: which
gunicorn worker), then the record's own fields. A record logged while a request is served
also carries ``request_id`` and ``org_id`` (the caller's organization, once authenticated).
``text`` writes ``time level logger message``.

The access log (logger ``cei.access``, one line per request, ``ACCESS_LOG``) adds
``method``, ``path``, ``endpoint`` (the URL rule), ``status``, ``duration_ms`` and
``remote_addr``. The path never holds the query string: a token sent as ``?access_token=``
must not reach a log.
"""

from __future__ import annotations

import logging
import sys

from flask import g, has_request_context
from pythonjsonlogger.json import JsonFormatter

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
LEADING_FIELDS = ("timestamp", "level", "logger", "message", "process")

access_log = logging.getLogger("cei.access")


class JsonLineFormatter(JsonFormatter):
    """One JSON object per record: timestamp, level, logger, message, process, extras."""

    def __init__(self):
        super().__init__(
            "%(levelname)s %(name)s %(message)s %(process)d",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp=True,
        )

    def process_log_record(self, log_data):
        """Put the common fields first, for people reading the raw lines."""
        ordered = {key: log_data.pop(key) for key in LEADING_FIELDS if key in log_data}
        ordered.update(log_data)
        return ordered


def make_formatter(log_format):
    """The formatter for ``log_format`` (``json`` or ``text``)."""
    if log_format == "json":
        return JsonLineFormatter()
    return logging.Formatter(TEXT_FORMAT)


class RequestContextFilter(logging.Filter):
    """Give records logged during a request its ``request_id`` and ``org_id``."""

    def filter(self, record):
        if has_request_context():
            if not hasattr(record, "request_id"):
                record.request_id = g.get("request_id")
            if not hasattr(record, "org_id"):
                record.org_id = g.get("log_org_id")
        return True


class StderrHandler(logging.StreamHandler):
    """A stream handler on the process's own stderr (file descriptor 2).

    ``sys.__stderr__``, not ``sys.stderr``: code that swaps ``sys.stderr`` for a while (a
    CLI test runner capturing a command's output) neither gets the log lines mixed into
    what it captures nor leaves the handler writing to a stream it closed.
    """

    def __init__(self):
        super().__init__(sys.__stderr__ or sys.stderr)


def configure_logging(log_format, level):
    """Send every log record to stderr in ``log_format``; ``cei`` loggers log from ``level``.

    One handler on the root logger (so library warnings come out in the same format),
    installed once per process; a later call changes its format.
    """
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, StderrHandler)), None)
    if handler is None:
        handler = StderrHandler()
        handler.addFilter(RequestContextFilter())
        root.addHandler(handler)
    handler.setFormatter(make_formatter(log_format))
    logging.getLogger("cei").setLevel(level)


def bind_organization(organization_id):
    """Name the caller's organization in the log records of this request."""
    if has_request_context():
        g.log_org_id = organization_id


def log_request(request, response, duration_seconds, endpoint):
    """Write the access log line of ``request``."""
    duration_ms = round(duration_seconds * 1000, 1)
    request_id = g.get("request_id")
    org_id = g.get("log_org_id")
    # key=value for people and grep; the same fields as ``extra`` for the JSON lines.
    access_log.info(
        "%s %s %s %.1fms request_id=%s org_id=%s",
        request.method,
        request.path,
        response.status_code,
        duration_ms,
        request_id,
        org_id,
        extra={
            "method": request.method,
            "path": request.path,
            "endpoint": endpoint,
            "status": response.status_code,
            "duration_ms": duration_ms,
            "remote_addr": request.remote_addr,
        },
    )
