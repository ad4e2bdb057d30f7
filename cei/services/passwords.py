"""Password hashing with argon2id."""

import unicodedata

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 128


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
