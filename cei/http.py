"""Request plumbing shared by every endpoint: request ids, body limits, JSON parsing.

Also the guards that keep hostile input away from views and the database, each in one place:
text that cannot be stored (:mod:`cei.text`) in any path, query or form parameter or JSON
body; JSON nested absurdly deep; integer path ids beyond what an id column holds.
"""

import logging
import re
import uuid

from flask import abort, current_app, g, request
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from werkzeug.exceptions import BadRequest, ServiceUnavailable, UnprocessableEntity
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from cei.api import api_abort, error_envelope, is_api_request
from cei.gcpause import collector_paused
from cei.jsonio import NestedTooDeeply, loads, unstorable_text
from cei.models.types import MAX_INTEGER
from cei.text import shown, text_problem

log = logging.getLogger("cei.http")

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
    refuse_unstorable_text(g.json_body)


def refuse_unstorable_text(document):
    """Answer 422, naming the field, when a string of ``document`` cannot be stored."""
    problem = unstorable_text(document)
    if problem is None:
        return
    path, message = problem
    api_abort(
        422,
        "VALIDATION_ERROR",
        "Text in the request cannot be stored",
        detail={"json": _nested(path, [message])},
    )


def _nested(path, leaf):
    """``("a", 0, "b"), leaf`` -> ``{"a": {0: {"b": leaf}}}``, the shape of webargs' details."""
    for key in reversed(path):
        leaf = {key: leaf}
    return leaf


def refuse_unstorable_parameters():
    """Refuse path, query and form parameters holding text that cannot be stored.

    A 422 naming each parameter (API) or a plain 400 (web pages). Multipart forms are left
    to their endpoint, which streams them; JSON bodies are checked where they are parsed.
    """
    sources = [("path", (request.view_args or {}).items()), ("query", request.args.items(True))]
    if request.method in BODY_METHODS and request.mimetype == "application/x-www-form-urlencoded":
        sources.append(("form", request.form.items(True)))
    problems = {}
    for location, items in sources:
        for name, value in items:
            message = text_problem(name) or (
                text_problem(value) if isinstance(value, str) else None
            )
            if message:
                problems.setdefault(location, {})[shown(name)] = [message]
    if not problems:
        return
    if not is_api_request():
        abort(400)
    api_abort(422, "VALIDATION_ERROR", "Text in the request cannot be stored", detail=problems)


def parse_json(raw):
    """Return the JSON document in ``raw`` (None when blank), or answer 400 MALFORMED_JSON.

    Not JSON, not UTF-8, or nested over ``MAX_JSON_DEPTH`` levels (see :func:`cei.jsonio.loads`).
    """
    if not raw.strip():
        return None
    try:
        # A batch parses into thousands of dicts that form no cycles: the collector's
        # passes over them during parsing would be wasted.
        with collector_paused():
            return loads(raw)
    except NestedTooDeeply as exc:
        api_abort(400, "MALFORMED_JSON", "Request body is nested too deeply", detail=str(exc))
    except (ValueError, UnicodeDecodeError) as exc:
        api_abort(400, "MALFORMED_JSON", "Request body is not valid JSON", detail=str(exc)[:200])


def _json_limit():
    return current_app.config["MAX_JSON_BODY"]


def add_request_id_header(response):
    """Send the request id back."""
    response.headers["X-Request-ID"] = g.get("request_id", "-")
    return response


def database_error(error):
    """Answer database errors that are not the server's fault; re-raise the others.

    A lost connection: 503 with ``Retry-After``. A value the database refused
    (``DataError``): 422 (400 on web pages) — a backstop, since the guards above and the
    schemas should refuse such values first; the warning names the check that is missing.
    """
    connection_lost = isinstance(error, OperationalError) or getattr(
        error, "connection_invalidated", False
    )
    if connection_lost:
        exc = ServiceUnavailable()
        exc.data = {
            "code": "DATABASE_UNAVAILABLE",
            "message": "The database is unavailable; retry later",
            "headers": {"Retry-After": str(current_app.config["DATABASE_RETRY_AFTER"])},
        }
    elif isinstance(error, DataError):
        log.warning("database refused a value on %s: %s", request.path, str(error.orig)[:200])
        exc = UnprocessableEntity() if is_api_request() else BadRequest()
        exc.data = {
            "code": "VALIDATION_ERROR",
            "message": "A value in the request cannot be stored",
        }
    else:
        raise error
    # Returned, not raised: an exception raised by an error handler would be a 500.
    return error_envelope(exc) if is_api_request() else exc


class IdConverter(IntegerConverter):
    """``<int:…>`` that matches only ids an INTEGER column can hold (else the route 404s).

    Unbounded, ``/integration-tokens/9223372036854775808`` reached the database and failed
    there (an overflow on SQLite, a ``DataError`` on PostgreSQL).
    """

    # Ten digits cover MAX_INTEGER; longer strings are not even converted.
    regex = r"\d{1,10}"

    def __init__(self, map, fixed_digits=0, min=None, max=MAX_INTEGER, signed=False):
        super().__init__(map, fixed_digits, min, max, signed)


def register(app):
    """Install the converters and request hooks on ``app`` (before any route is added)."""
    from cei import headers, ratelimits, sessions

    proxies = app.config["TRUSTED_PROXIES"]
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    app.url_map.converters["int"] = IdConverter
    sessions.register(app)
    headers.register(app)
    ratelimits.register(app)
    app.before_request(assign_request_id)
    app.before_request(refuse_unstorable_parameters)
    app.before_request(parse_json_body)
    app.after_request(add_request_id_header)
    app.register_error_handler(DBAPIError, database_error)
