"""Timestamps of ingested readings: ISO 8601 text to whole seconds since the epoch (UTC).

A batch usually repeats the same timestamps for every meter and a replay repeats all of
them, so parsed values are cached per process. The cache holds short, valid strings only
and is emptied when it reaches its bound, so hostile input cannot make it large.
"""

from datetime import UTC, datetime

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NAIVE_EPOCH = datetime(1970, 1, 1)
CACHE_LIMIT = 100_000
LONGEST_CACHED = 40  # "2024-01-01T00:00:00.000000+00:00" is 32 characters

_cache = {}


def parse_timestamp(text):
    """Return epoch seconds for ISO 8601 ``text`` (no offset = UTC), or None when unreadable.

    Fractions of a second are dropped (floored): readings are keyed by whole seconds.
    """
    seconds = _cache.get(text)
    if seconds is not None:
        return seconds
    return parse_new_timestamp(text)


def parse_new_timestamp(text):
    """Like :func:`parse_timestamp`, for a string just found missing from the cache."""
    try:
        moment = datetime.fromisoformat(text)
    except (ValueError, TypeError):
        return None
    # Subtracting the matching epoch and reading days and seconds (floored: microseconds are
    # dropped) is several times faster than replace(tzinfo=UTC) and timestamp().
    delta = moment - (NAIVE_EPOCH if moment.tzinfo is None else EPOCH)
    seconds = delta.days * 86400 + delta.seconds
    if len(text) <= LONGEST_CACHED:
        if len(_cache) >= CACHE_LIMIT:
            _cache.clear()
        _cache[text] = seconds
    return seconds


def cached_timestamps():
    """Return the process-wide cache (for the validation loop's fastest path)."""
    return _cache
