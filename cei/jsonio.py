"""Fast JSON: orjson where it can, the standard library where orjson is stricter.

orjson rejects ``NaN``/``Infinity`` and integers beyond 64 bits; the ingestion contract wants
those to be per-record ``INVALID_VALUE`` errors, not a malformed request, so we fall back to
``json`` (which accepts them) before calling the body malformed.
"""

import json

import orjson
from flask.json.provider import DefaultJSONProvider

from cei.text import shown, text_problem

# Deeper than any body the API takes (three levels); code that recurses over a document
# (repr, logging, a validator) stays far from the interpreter's limit of about 1,000.
MAX_JSON_DEPTH = 32


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


def document_problem(document, max_depth=MAX_JSON_DEPTH):
    """Find the first problem of a parsed JSON document in reading order, or return None.

    Returns ``("depth", path, message)`` when containers nest deeper than ``max_depth``, or
    ``("text", path, message)`` for the first string (key or value) that
    :func:`cei.text.text_problem` refuses; ``path`` is the tuple of keys and indices leading
    there. Iterative, so no document can exhaust the interpreter's stack.
    """
    stack = [((), document)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            message = text_problem(value)
            if message:
                return "text", path, message
            continue
        if isinstance(value, dict):
            items = value.items()
        elif isinstance(value, list):
            items = enumerate(value)
        else:
            continue
        if len(path) >= max_depth:
            return "depth", path, f"JSON nested more than {max_depth} levels deep"
        children = []
        for key, item in items:
            message = text_problem(key) if isinstance(key, str) else None
            if message:
                return "text", (*path, shown(key)), f"In the field name: {message}"
            children.append(((*path, key), item))
        # Pushed last-first, so the document is searched in reading order.
        stack.extend(reversed(children))
    return None


def dumps_bytes(obj):
    """Serialise to JSON bytes (datetimes as ISO 8601)."""
    return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)


class FastJSONProvider(DefaultJSONProvider):
    """Flask JSON provider backed by :func:`loads`."""

    def loads(self, s, **kwargs):
        return loads(s)
