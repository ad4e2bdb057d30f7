"""Who is calling: one authentication layer for every endpoint.

A caller is a user (web session or signed access token) or a machine (integration token).
``authenticated(...)`` resolves it into a :class:`Principal` on ``g.principal``, checks the
scope or role the endpoint needs, and documents the security scheme in OpenAPI.

A bearer token can do anything its scopes allow. The session cookie alone only reads: a
request that changes state with it must also carry the session's CSRF token in the
``X-CSRFToken`` header (which ``/docs`` sends, see ``cei/static/swagger-init.js``), so
another site cannot use a signed-in browser's cookie. Wrong bearer tokens are counted per
address (:func:`cei.ratelimits.refuse_after_bad_tokens`).
"""

import functools
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from flask import g, request
from flask_login import current_user
from flask_smorest import Blueprint
from flask_wtf.csrf import validate_csrf
from wtforms import ValidationError

from cei import ratelimits
from cei.api import api_abort
from cei.logs import bind_organization
from cei.models import IntegrationToken, Organization, User
from cei.models.integration_token import SCOPES
from cei.services.accounts import AccessTokenError, user_for_access_token
from cei.services.tokens import TOKEN_PREFIX, find_token_with_organization, touch_token

SECURITY_DOC = [{"bearerAuth": []}, {"sessionCookie": []}]
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CSRF_HEADERS = ("X-CSRFToken", "X-CSRF-Token")


@dataclass
class Principal:
    """The authenticated caller."""

    organization: Organization
    user: User | None = None
    token: IntegrationToken | None = None
    scopes: tuple = field(default=SCOPES)

    @property
    def organization_id(self):
        """The id of the caller's organization."""
        return self.organization.id

    @property
    def kind(self):
        """``user`` or ``integration_token``."""
        return "integration_token" if self.token is not None else "user"


def _unauthorized(code, message, bad_token=True):
    if bad_token:
        ratelimits.count_bad_token()
    api_abort(401, code, message, headers={"WWW-Authenticate": "Bearer"})


def _bearer_token():
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if not header:
        return None
    ratelimits.refuse_after_bad_tokens()
    if scheme.lower() != "bearer" or not value.strip():
        _unauthorized("TOKEN_INVALID", "Authorization header must be 'Bearer <token>'")
    return value.strip()


def _check_cookie_request():
    """Let the session cookie change state only with the CSRF header, from this origin."""
    if request.method in SAFE_METHODS:
        return
    origin = request.headers.get("Origin")
    if origin and urlsplit(origin).netloc != request.host:
        api_abort(
            403, "CROSS_ORIGIN", "Cross-origin requests must authenticate with a bearer token"
        )
    token = next((request.headers[name] for name in CSRF_HEADERS if name in request.headers), "")
    if not token:
        api_abort(
            403,
            "CSRF_REQUIRED",
            "A request authenticated by the session cookie needs the X-CSRFToken header; "
            "or send 'Authorization: Bearer <token>'",
        )
    try:
        validate_csrf(token)
    except ValidationError:
        api_abort(403, "CSRF_INVALID", "The X-CSRFToken header does not match the session")


def _principal_for_integration_token(raw):
    token, organization = find_token_with_organization(raw)
    if token is None:
        _unauthorized("TOKEN_UNKNOWN", "Integration token is not recognised")
    if not token.is_active:
        _unauthorized("TOKEN_REVOKED", "Integration token has been revoked")
    touch_token(token)
    return Principal(organization=organization, token=token, scopes=tuple(token.scope_list))


def _principal_for_user(user):
    return Principal(organization=user.organization, user=user)


def resolve_principal():
    """Return the caller's Principal, or abort with 401 when there is none."""
    if "principal" in g:
        return g.principal
    raw = _bearer_token()
    if raw is not None:
        if raw.startswith(TOKEN_PREFIX):
            principal = _principal_for_integration_token(raw)
        else:
            try:
                principal = _principal_for_user(user_for_access_token(raw))
            except AccessTokenError as exc:
                _unauthorized(exc.code, exc.message)
    elif current_user.is_authenticated:
        _check_cookie_request()
        principal = _principal_for_user(current_user)
    else:
        _unauthorized(
            "AUTHENTICATION_REQUIRED", "Send 'Authorization: Bearer <token>'", bad_token=False
        )
    g.principal = principal
    bind_organization(principal.organization_id)
    return principal


def authorize(principal, scope=None, users_only=False, admin=False):
    """Abort with 403 unless ``principal`` may do what the endpoint needs."""
    if (users_only or admin) and principal.token is not None:
        api_abort(403, "TOKEN_NOT_ALLOWED", "Integration tokens cannot use this endpoint")
    if admin and not principal.user.is_admin:
        api_abort(403, "ADMIN_REQUIRED", "Only organization admins can do this")
    if scope is not None and scope not in principal.scopes:
        api_abort(
            403, "INSUFFICIENT_SCOPE", f"Token lacks the '{scope}' scope", detail={"needed": scope}
        )


def authenticated(scope=None, users_only=False, admin=False):
    """Require a caller (with ``scope``, a user, or an admin) and document it in OpenAPI."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            authorize(resolve_principal(), scope=scope, users_only=users_only, admin=admin)
            return view(*args, **kwargs)

        return Blueprint.doc(security=SECURITY_DOC)(wrapper)

    return decorator


def current_principal():
    """The Principal resolved for this request (``authenticated`` must have run)."""
    return g.principal


def current_organization():
    """The caller's organization (``authenticated`` must have run)."""
    return g.principal.organization
