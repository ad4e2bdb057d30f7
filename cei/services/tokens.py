"""Integration tokens: issue, list, revoke, and resolve a raw token to its row."""

import hashlib
import logging
import secrets
from datetime import timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm.attributes import set_committed_value

from cei.extensions import db
from cei.models import IntegrationToken, Organization
from cei.models.integration_token import SCOPES
from cei.models.types import utcnow
from cei.services.errors import NotFound, ServiceError

log = logging.getLogger("cei.tokens")
TOKEN_PREFIX = "cei_int_"
DISPLAY_PREFIX_LENGTH = len(TOKEN_PREFIX) + 6
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_token(raw):
    """Return the SHA-256 hex digest stored for a raw token."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def issue_token(organization, name, scopes=None, created_by=None):
    """Create a token; return ``(token_row, raw_token)`` — the raw value is never stored."""
    scopes = list(dict.fromkeys(scopes or SCOPES))
    unknown = [scope for scope in scopes if scope not in SCOPES]
    if unknown:
        raise ServiceError(
            f"Unknown scope(s): {', '.join(unknown)}", code="INVALID_SCOPE", status=422
        )
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = IntegrationToken(
        organization_id=organization.id,
        created_by_id=created_by.id if created_by else None,
        name=name.strip(),
        prefix=raw[:DISPLAY_PREFIX_LENGTH],
        token_hash=hash_token(raw),
        scopes=" ".join(scopes),
    )
    db.session.add(token)
    db.session.flush()
    log.info("token issued org_id=%s token_id=%s scopes=%s", organization.id, token.id, scopes)
    return token, raw


def list_tokens(organization):
    """Return the organization's tokens, newest first."""
    return db.session.scalars(
        select(IntegrationToken)
        .where(IntegrationToken.organization_id == organization.id)
        .order_by(IntegrationToken.created_at.desc(), IntegrationToken.id.desc())
    ).all()


def get_token(organization, token_id):
    """Return one of the organization's tokens or raise ``NotFound``."""
    token = db.session.scalar(
        select(IntegrationToken).where(
            IntegrationToken.id == token_id,
            IntegrationToken.organization_id == organization.id,
        )
    )
    if token is None:
        raise NotFound("Integration token not found")
    return token


def revoke_token(organization, token_id):
    """Revoke a token (idempotent)."""
    token = get_token(organization, token_id)
    if token.is_active:
        token.is_active = False
        token.revoked_at = utcnow()
        db.session.flush()
        log.info("token revoked org_id=%s token_id=%s", organization.id, token.id)
    return token


def find_token_with_organization(raw):
    """Return ``(token, organization)`` for a raw token (active or not), or ``(None, None)``.

    One query instead of two: the token and its organization are needed on every
    request that an integration token authenticates.
    """
    row = db.session.execute(_TOKEN_WITH_ORGANIZATION, {"token_hash": hash_token(raw)}).first()
    return (None, None) if row is None else (row[0], row[1])


# Built once: constructing the select on every request cost as much as running it.
_TOKEN_WITH_ORGANIZATION = (
    select(IntegrationToken, Organization)
    .outerjoin(Organization, Organization.id == IntegrationToken.organization_id)
    .where(IntegrationToken.token_hash == bindparam("token_hash"))
)


def touch_token(token):
    """Record use at most once a minute, outside the request's own transaction."""
    now = utcnow()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return
    with db.engine.begin() as connection:
        connection.execute(
            update(IntegrationToken).where(IntegrationToken.id == token.id).values(last_used_at=now)
        )
    set_committed_value(token, "last_used_at", now)
