"""Timestamps of ingested readings: ISO 8601 text to whole seconds since the epoch (UTC).

A batch usually repeats the same few timestamps (one per interval, for every meter), and a
replay repeats all of them, so parsed values are cached per process. The cache only holds
valid, short strings and is emptied when it grows past its bound, so hostile input cannot
make it large.
"""

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_SECOND = timedelta(seconds=1)
CACHE_LIMIT = 200_000
LONGEST_CACHED = 40  # "2024-01-01T00:00:00.000000+00:00" is 32 characters

_cache = {}


def parse_timestamp(text):
    """Return epoch seconds for ISO 8601 ``text`` (no offset = UTC), or None when unreadable.

    Fractions of a second are dropped (floored): readings are keyed by whole seconds.
    """
    seconds = _cache.get(text)
    if seconds is not None:
        return seconds
    try:
        moment = datetime.fromisoformat(text)
    except (ValueError, TypeError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = (moment - EPOCH) // ONE_SECOND
    if len(text) <= LONGEST_CACHED:
        if len(_cache) >= CACHE_LIMIT:
            _cache.clear()
        _cache[text] = seconds
    return seconds


def cached_timestamps():
    """Return the process-wide cache (for the validation loop's fast path)."""
    return _cache
