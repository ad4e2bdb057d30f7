"""Styled error pages for the web; the API keeps its JSON envelope.

Handlers registered for a status code win over flask-smorest's catch-all ``HTTPException``
handler, for every path: so an ``/api/`` request is handed straight back to it.
"""

import logging

from flask import render_template
from flask_wtf.csrf import CSRFError

from cei.api import is_api_request
from cei.blueprints.web.blueprint import bp
from cei.extensions import api

log = logging.getLogger("cei.web")

PAGE_STATUSES = (400, 403, 404, 405, 413, 429, 500)
TITLES = {
    400: "That request could not be understood",
    403: "You cannot do that here",
    404: "Page not found",
    405: "That is not how this page works",
    413: "That file is too large",
    429: "Too many attempts",
    500: "Something went wrong on our side",
}


def error_page(error):
    """Answer a web error with a styled page (or an API error with the envelope)."""
    if is_api_request():
        return api.handle_http_exception(error)
    status = error.code or 500
    if status == 500:
        original = getattr(error, "original_exception", None)
        log.error("unhandled error on a web page", exc_info=original)
    description = None if status == 500 else error.description
    page = render_template(
        "errors/error.html",
        status=status,
        title=TITLES.get(status, error.name),
        description=description,
    )
    # Keep what the error says in headers (Allow on 405, Retry-After on 429 …).
    headers = [(name, value) for name, value in error.get_headers() if name != "Content-Type"]
    return page, status, headers


def csrf_error_page(error):
    """Explain a refused form (missing or expired CSRF token) in plain words."""
    if is_api_request():
        return api.handle_http_exception(error)
    page = render_template(
        "errors/error.html",
        status=400,
        title="This form has expired",
        description="The form was missing its security token or was open too long. "
        "Go back, reload the page and send it again.",
    )
    return page, 400


for _status in PAGE_STATUSES:
    bp.app_errorhandler(_status)(error_page)
bp.app_errorhandler(CSRFError)(csrf_error_page)
