"""Translate service errors into the API error envelope."""

from contextlib import contextmanager

from cei.api import api_abort
from cei.services.errors import ServiceError


@contextmanager
def service_errors():
    """Turn a ``ServiceError`` raised inside the block into an API error response."""
    try:
        yield
    except ServiceError as exc:
        api_abort(exc.status, exc.code, exc.message, detail=exc.detail)
