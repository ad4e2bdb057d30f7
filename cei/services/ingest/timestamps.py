"""Timestamps of readings: RFC 3339 text to whole seconds since the epoch (UTC).

One parser for every path: msgspec's RFC 3339 parser, which the fast path's decoder runs on
``timestamp_utc`` while it decodes (:mod:`.columns`) and which :func:`parse_timestamp` runs
on a single string (per-record checks, CSV cells). Accepted: ``2026-01-15T13:00:00Z``,
with an offset (``+01:00``), with a fraction of a second, with ``t`` or a space between date
and time, and without an offset (then it is UTC, as the field name says). Refused: ISO 8601
forms outside RFC 3339 (week dates ``2026-W40-1T00:00Z``, the basic format
``20261001T000000Z``, dates alone, hours without seconds).

One conversion to epoch seconds, :func:`epoch_seconds`, used for single values and columns:
whole seconds, fractions floored (readings are keyed by whole seconds).
"""

import math
from datetime import UTC, datetime
from operator import attrgetter

import msgspec

CACHE_LIMIT = 100_000
LONGEST_CACHED = 40  # "2024-01-01T00:00:00.000000+00:00" is 32 characters

# text -> epoch seconds of valid timestamps seen lately: a batch repeats the same hours for
# every meter, an upload for every row of a time. Short strings only, emptied at its bound,
# so hostile input cannot make it large.
_cache = {}
_ZONE = attrgetter("tzinfo")


def parse_moment(text):
    """Return the ``datetime`` of RFC 3339 ``text`` (naive when it has no offset), or None."""
    if type(text) is not str:
        return None
    try:
        return msgspec.convert(text, datetime)
    except (msgspec.ValidationError, UnicodeEncodeError):  # a lone surrogate is not UTF-8
        return None


def epoch_seconds(moment):
    """Whole seconds since the epoch of ``moment`` (a naive one is UTC), fractions floored."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return math.floor(moment.timestamp())


def column_seconds(moments):
    """:func:`epoch_seconds` of each of ``moments``, as a list."""
    if None in set(map(_ZONE, moments)):
        return list(map(epoch_seconds, moments))
    # All aware: the same computation, mapped over the column directly.
    return list(map(math.floor, map(datetime.timestamp, moments)))


def parse_timestamp(text):
    """Return epoch seconds for RFC 3339 ``text``, or None when it is not a valid timestamp."""
    seconds = _cache.get(text) if type(text) is str else None
    if seconds is not None:
        return seconds
    moment = parse_moment(text)
    if moment is None:
        return None
    seconds = epoch_seconds(moment)
    if len(text) <= LONGEST_CACHED:
        if len(_cache) >= CACHE_LIMIT:
            _cache.clear()
        _cache[text] = seconds
    return seconds
