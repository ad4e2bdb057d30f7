"""Passwords: hashing with argon2id, and refusing the easily guessed ones.

Strength is zxcvbn's estimate (its frequency lists cover the common and breached passwords,
names, words and keyboard patterns); a password scoring below ``PASSWORD_MIN_SCORE`` is
refused with zxcvbn's reason.
"""

import unicodedata

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from zxcvbn import zxcvbn

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 128
# zxcvbn's work grows fast with length; a strong start makes a strong password.
STRENGTH_CHECKED_LENGTH = 64


def password_weakness(password, related=()):
    """Return why ``password`` is too easy to guess, or None when it is strong enough.

    ``related`` are the user's own details (e-mail, names): passwords built from them are
    weak too.
    """
    inputs = []
    for value in related:
        if isinstance(value, str) and value.strip():
            inputs.extend(part for part in _words(value) if len(part) > 2)
    result = zxcvbn(password[:STRENGTH_CHECKED_LENGTH], user_inputs=inputs)
    if result["score"] >= current_app.config["PASSWORD_MIN_SCORE"]:
        return None
    feedback = result["feedback"]
    reason = feedback.get("warning") or "It would be guessed quickly."
    hints = " ".join(feedback.get("suggestions") or [])
    return f"This password is too easy to guess. {reason} {hints}".strip()


def _words(value):
    for separator in "@._-+":
        value = value.replace(separator, " ")
    return [value.strip().lower(), *value.lower().split()]


def _hasher():
    config = current_app.config
    return PasswordHasher(
        time_cost=config["ARGON2_TIME_COST"],
        memory_cost=config["ARGON2_MEMORY_COST"],
        parallelism=config["ARGON2_PARALLELISM"],
    )


def normalise_password(password):
    """Normalise Unicode so the same password typed on another keyboard still matches."""
    return unicodedata.normalize("NFC", password)


def hash_password(password):
    """Return the argon2id hash of ``password``."""
    return _hasher().hash(normalise_password(password))


def verify_password(password_hash, password):
    """Tell whether ``password`` matches ``password_hash``."""
    try:
        return _hasher().verify(password_hash, normalise_password(password))
    except (VerificationError, InvalidHashError):
        return False


# A real hash to verify against when the email is unknown, so both failures take as long.
_DUMMY_HASH = {}


def burn_verification_time(password):
    """Spend the time of one verification (for unknown emails)."""
    config = current_app.config
    key = (config["ARGON2_TIME_COST"], config["ARGON2_MEMORY_COST"])
    if key not in _DUMMY_HASH:
        _DUMMY_HASH[key] = hash_password("not-a-real-password")
    verify_password(_DUMMY_HASH[key], password)
