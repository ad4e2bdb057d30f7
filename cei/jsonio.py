"""Fast JSON: orjson where it can, the standard library where orjson is stricter.

orjson rejects ``NaN``/``Infinity`` and integers beyond 64 bits; the ingestion contract wants
those to be per-record ``INVALID_VALUE`` errors, not a malformed request, so we fall back to
``json`` (which accepts them) before calling the body malformed.
"""

import json

import orjson
from flask.json.provider import DefaultJSONProvider


def loads(data):
    """Parse JSON text or bytes; raise ``ValueError`` when it is not JSON."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        if isinstance(data, bytes | bytearray | memoryview):
            data = bytes(data).decode("utf-8")
        try:
            return json.loads(data)
        except RecursionError:
            # orjson refuses documents nested over 1,024 levels; json recurses until it dies.
            raise ValueError("JSON nested too deeply") from None


def dumps_bytes(obj):
    """Serialise to JSON bytes (datetimes as ISO 8601)."""
    return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)


class FastJSONProvider(DefaultJSONProvider):
    """Flask JSON provider backed by :func:`loads`."""

    def loads(self, s, **kwargs):
        return loads(s)
