"""Accounts: sign-up, login, logout, password change, and signed access tokens."""

import logging

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from cei.extensions import db
from cei.models import Organization, User
from cei.models.types import MAX_INTEGER, utcnow
from cei.services.errors import Conflict, InvalidCredentials, ServiceError
from cei.services.passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    burn_verification_time,
    hash_password,
    password_weakness,
    verify_password,
)

log = logging.getLogger("cei.accounts")
ACCESS_TOKEN_SALT = "cei-access-token"


def normalise_email(email):
    """Return the canonical (trimmed, lower-case) form of an email address."""
    return email.strip().lower()


def check_password_rules(password, related=(), field="password"):
    """Raise when ``password`` is too short, too long or too easy to guess.

    ``related``: the user's e-mail and names; ``field``: the request field, for the detail.
    """
    if not isinstance(password, str) or not (
        MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH
    ):
        raise ServiceError(
            f"Password must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters",
            code="INVALID_PASSWORD",
            status=422,
        )
    weakness = password_weakness(password, related)
    if weakness:
        raise ServiceError(
            weakness, code="WEAK_PASSWORD", status=422, detail={"json": {field: [weakness]}}
        )


def find_user_by_email(email):
    """Return the user with ``email`` (any case) or None."""
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


def sign_up(email, password, organization_name, full_name=None):
    """Create a new organization and its first admin; return the user."""
    check_password_rules(password, related=(email, organization_name, full_name))
    email = normalise_email(email)
    if find_user_by_email(email) is not None:
        raise Conflict("An account with this email already exists", code="EMAIL_TAKEN")
    organization = Organization(name=organization_name.strip())
    user = User(
        organization=organization,
        email=email,
        password_hash=hash_password(password),
        full_name=(full_name or "").strip() or None,
        role="admin",
    )
    db.session.add_all([organization, user])
    try:
        db.session.flush()
    except IntegrityError as exc:
        # A concurrent sign-up took the email between the check above and this insert.
        db.session.rollback()
        raise Conflict("An account with this email already exists", code="EMAIL_TAKEN") from exc
    log.info("signup org_id=%s user_id=%s", organization.id, user.id)
    return user


def authenticate(email, password):
    """Return the user whose credentials these are, or raise ``InvalidCredentials``."""
    user = find_user_by_email(email or "") if isinstance(email, str) else None
    if user is None or not isinstance(password, str):
        burn_verification_time(password if isinstance(password, str) else "")
        raise InvalidCredentials("Invalid email or password")
    if not verify_password(user.password_hash, password):
        raise InvalidCredentials("Invalid email or password")
    user.last_login_at = utcnow()
    return user


def end_all_sessions(user):
    """Invalidate every access token and web session the user holds."""
    user.session_version = (user.session_version or 0) + 1
    db.session.flush()


def change_password(user, current_password, new_password):
    """Set a new password after checking the current one; ends older sessions."""
    if not verify_password(user.password_hash, current_password):
        raise InvalidCredentials("Current password is wrong")
    related = (user.email, user.full_name, user.organization.name)
    check_password_rules(new_password, related=related, field="new_password")
    user.password_hash = hash_password(new_password)
    end_all_sessions(user)


def _serializer():
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=ACCESS_TOKEN_SALT)


def issue_access_token(user):
    """Return ``(token, expires_in)`` for ``user``."""
    token = _serializer().dumps({"u": user.id, "v": user.session_version})
    return token, current_app.config["ACCESS_TOKEN_TTL"]


class AccessTokenError(Exception):
    """An access token that cannot be used; ``code`` says why."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def user_for_access_token(token):
    """Return the user an access token belongs to, or raise ``AccessTokenError``."""
    try:
        data = _serializer().loads(token, max_age=current_app.config["ACCESS_TOKEN_TTL"])
    except SignatureExpired as exc:
        raise AccessTokenError("TOKEN_EXPIRED", "Access token expired; log in again") from exc
    except BadSignature as exc:
        raise AccessTokenError("TOKEN_INVALID", "Access token is not valid") from exc
    user_id = data.get("u") if isinstance(data, dict) else None
    # Signed by us, so well formed unless the secret key leaked; checked all the same.
    valid_id = type(user_id) is int and 0 < user_id <= MAX_INTEGER
    user = db.session.get(User, user_id) if valid_id else None
    if user is None or user.session_version != data.get("v"):
        raise AccessTokenError("TOKEN_REVOKED", "Access token is no longer valid; log in again")
    return user


def count_users():
    """Return the number of users (for health and seeding)."""
    return db.session.scalar(select(func.count()).select_from(User))


def load_session_user(session_id):
    """Return the user of a web session id (``"<user id>:<session version>"``), or None.

    None as well when the session predates a logout or a password change.
    """
    user_id, _, version = (session_id or "").partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or user.session_version != int(version):
        return None
    return user
