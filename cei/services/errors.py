"""Errors that services raise and the edges translate (to an HTTP status, a form message …)."""


class ServiceError(Exception):
    """A business rule said no; ``code`` is machine-readable, ``status`` the HTTP analogue."""

    status = 400
    code = "BAD_REQUEST"

    def __init__(self, message, code=None, status=None, detail=None):
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.status = status or self.status
        self.detail = detail


class Conflict(ServiceError):
    """The request clashes with what is stored."""

    status = 409
    code = "CONFLICT"


class NotFound(ServiceError):
    """No such object in the caller's organization."""

    status = 404
    code = "NOT_FOUND"


class InvalidCredentials(ServiceError):
    """Wrong email or password (deliberately not saying which)."""

    status = 401
    code = "INVALID_CREDENTIALS"
