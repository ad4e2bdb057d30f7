"""The API object and the JSON error envelope every ``/api/`` error uses."""

import logging

import flask_smorest
import marshmallow as ma
from flask import g, request
from flask_smorest import Api
from flask_smorest import abort as smorest_abort
from webargs import core as webargs_core
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

log = logging.getLogger("cei.api")

# Default machine-readable codes per HTTP status; views may pass a more precise one.
STATUS_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
}


class ErrorEnvelopeSchema(ma.Schema):
    """The JSON body of every API error."""

    code = ma.fields.String(
        required=True, metadata={"description": "Machine-readable code, e.g. MALFORMED_JSON"}
    )
    message = ma.fields.String(required=True, metadata={"description": "What went wrong"})
    detail = ma.fields.Raw(metadata={"description": "Field errors or other specifics"})
    request_id = ma.fields.String(
        required=True, metadata={"description": "Also sent as the X-Request-ID header"}
    )


def api_abort(status, code=None, message=None, detail=None, headers=None):
    """Stop the request with the JSON error envelope."""
    data = {"code": code or STATUS_CODES.get(status, "ERROR")}
    if message:
        data["message"] = message
    if detail is not None:
        data["detail"] = detail
    if headers:
        data["headers"] = headers
    smorest_abort(status, **data)


def is_api_request():
    """Tell whether the current request is for the JSON API (as opposed to a web page)."""
    return request.path.startswith("/api/")


def error_envelope(error):
    """Build ``(payload, status, headers)`` for an HTTPException."""
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    headers = dict(data.get("headers") or {})
    code = data.get("code") or STATUS_CODES.get(status, "ERROR")
    if status == 500:
        message = "Internal server error"
    else:
        message = data.get("message") or error.description or error.name
    payload = {"code": code, "message": message, "request_id": g.get("request_id", "-")}
    detail = data.get("detail")
    if detail is None:
        detail = data.get("errors") or data.get("messages")
    if detail is not None and status != 500:
        payload["detail"] = detail
    if status == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        headers.setdefault("Allow", ", ".join(error.valid_methods))
    return payload, status, headers


class CeiApi(Api):
    """flask-smorest ``Api`` whose errors use the CEI envelope."""

    ERROR_SCHEMA = ErrorEnvelopeSchema

    def handle_http_exception(self, error):
        """Answer API errors with the envelope and web errors with Werkzeug's page."""
        if not is_api_request():
            if error.code == 500:
                log.error("unhandled error on %s", request.path, exc_info=_original(error))
            return error
        if error.code == 500:
            log.error(
                "unhandled error on %s request_id=%s",
                request.path,
                g.get("request_id"),
                exc_info=_original(error),
            )
        return error_envelope(error)


def _original(error):
    return getattr(error, "original_exception", None) or None


class ParsedBodyParser(FlaskParser):
    """A webargs parser that takes the JSON body :mod:`cei.http` already parsed and checked.

    webargs would parse the body a second time with the standard library, slower, and
    recursing over nesting that the first parse refused (a 500 on ``RecursionError``).
    """

    def _raw_load_json(self, req):
        if not is_json_request(req):
            return webargs_core.missing
        if "json_body" not in g:
            from cei.http import parse_json, refuse_unstorable_text

            g.json_body = parse_json(req.get_data(cache=True))
            refuse_unstorable_text(g.json_body)
        # A blank body is "no arguments": required fields answer 422, not a parse error.
        return webargs_core.missing if g.json_body is None else g.json_body


class Blueprint(flask_smorest.Blueprint):
    """The flask-smorest Blueprint every API area uses: its arguments come from the body
    that :mod:`cei.http` parsed once."""

    ARGUMENTS_PARSER = ParsedBodyParser()


__all__ = [
    "Blueprint",
    "CeiApi",
    "api_abort",
    "error_envelope",
    "HTTPException",
    "ErrorEnvelopeSchema",
]
