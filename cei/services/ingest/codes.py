"""Why a record of a batch or a row of an upload was not stored: the one list of codes.

Each code carries its meaning; the API documentation, the README's table (checked by
``tests/docs``) and the factory client's list are held to this enum.
"""

from enum import StrEnum


class ErrorCode(StrEnum):
    """A per-record error code and what it means."""

    MISSING_FIELD = "MISSING_FIELD", "site_id, meter_id, timestamp_utc or value is missing"
    INVALID_SITE_ID = (
        "INVALID_SITE_ID",
        "site_id is not 1-100 characters of text without control or bidi characters, '/' "
        "or surrounding spaces",
    )
    INVALID_METER_ID = "INVALID_METER_ID", "meter_id breaks the same rules as site_id"
    INVALID_TIMESTAMP = (
        "INVALID_TIMESTAMP",
        "not an RFC 3339 timestamp, more than 5 minutes in the future, or older than the "
        "retention limit",
    )
    INVALID_VALUE = (
        "INVALID_VALUE",
        "not a number, NaN or infinite, negative, implausibly large, or a bad interval_minutes",
    )
    INVALID_UNIT = "INVALID_UNIT", "not one of the units"
    INVALID_IDEMPOTENCY_KEY = (
        "INVALID_IDEMPOTENCY_KEY",
        "not a string of at most 200 printable characters",
    )
    UNKNOWN_SITE = (
        "UNKNOWN_SITE",
        "the site does not exist and the organization does not create sites on first ingest",
    )
    IDEMPOTENCY_KEY_REUSED = (
        "IDEMPOTENCY_KEY_REUSED",
        "the idempotency key already names a reading of another meter or time",
    )
    CONFLICTING_VALUE = (
        "CONFLICTING_VALUE",
        "another value is stored (or sent earlier in the batch) for that meter and time; "
        'on_conflict "update" replaces it',
    )

    def __new__(cls, value, meaning):
        member = str.__new__(cls, value)
        member._value_ = value
        member.meaning = meaning
        return member


def describe_codes():
    """The codes and their meanings as a Markdown list (for the API documentation)."""
    return "\n".join(f"- `{code}`: {code.meaning}" for code in ErrorCode)
