"""Request plumbing shared by every endpoint: request ids, body limits, JSON parsing."""

import re
import uuid

from flask import g, request
from sqlalchemy.exc import DBAPIError, OperationalError

from cei.api import api_abort, error_envelope, is_api_request
from cei.gcpause import collector_paused
from cei.jsonio import loads

REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
BODY_METHODS = {"POST", "PUT", "PATCH"}
# Endpoints that parse their JSON body themselves, from ``g.json_raw`` (see reads_raw_json).
RAW_JSON_ENDPOINTS = set()


def reads_raw_json(endpoint):
    """Leave the parsing of ``endpoint``'s JSON body to the endpoint (it gets ``g.json_raw``).

    The body is still read, and its size checked, before the endpoint runs; the endpoint
    calls :func:`parse_json` for a plain parse with the usual ``MALFORMED_JSON`` answer.
    """
    RAW_JSON_ENDPOINTS.add(endpoint)


def assign_request_id():
    """Echo a sane incoming ``X-Request-ID`` or invent one."""
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if REQUEST_ID_PATTERN.match(incoming) else uuid.uuid4().hex


def parse_json_body():
    """Parse an API JSON body once, rejecting malformed or oversized ones precisely."""
    if not is_api_request() or request.method not in BODY_METHODS or not request.is_json:
        return
    limit = request.environ.get("cei.max_json_body") or _json_limit()
    length = request.content_length
    if length is not None and length > limit:
        api_abort(413, "PAYLOAD_TOO_LARGE", f"JSON body larger than {limit} bytes")
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        api_abort(413, "PAYLOAD_TOO_LARGE", f"JSON body larger than {limit} bytes")
    # Keep the bytes for anything (webargs) that reads the body again.
    request._cached_data = g.json_raw = raw
    if request.endpoint in RAW_JSON_ENDPOINTS:
        return
    g.json_body = parse_json(raw)
    request._cached_json = (g.json_body, g.json_body)


def parse_json(raw):
    """Return the JSON document in ``raw`` (None when blank), or answer 400 MALFORMED_JSON."""
    if not raw.strip():
        return None
    try:
        # A batch parses into thousands of dicts that form no cycles: the collector's
        # passes over them during parsing would be wasted.
        with collector_paused():
            return loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        api_abort(400, "MALFORMED_JSON", "Request body is not valid JSON", detail=str(exc)[:200])


def _json_limit():
    from flask import current_app

    return current_app.config["MAX_JSON_BODY"]


def add_request_id_header(response):
    """Send the request id back."""
    response.headers["X-Request-ID"] = g.get("request_id", "-")
    return response


def database_unavailable(error):
    """Answer a lost database connection with 503 and ``Retry-After`` (API) or re-raise."""
    connection_lost = isinstance(error, OperationalError) or getattr(
        error, "connection_invalidated", False
    )
    if not connection_lost:
        raise error
    from werkzeug.exceptions import ServiceUnavailable

    exc = ServiceUnavailable()
    exc.data = {
        "code": "DATABASE_UNAVAILABLE",
        "message": "The database is unavailable; retry later",
        "headers": {"Retry-After": "5"},
    }
    if not is_api_request():
        return exc
    return error_envelope(exc)


def register(app):
    """Install the request hooks on ``app``."""
    app.before_request(assign_request_id)
    app.before_request(parse_json_body)
    app.after_request(add_request_id_header)
    app.register_error_handler(DBAPIError, database_unavailable)
