"""Fast JSON: orjson where it can, the standard library where orjson is stricter.

orjson rejects ``NaN``/``Infinity`` and integers beyond 64 bits; the ingestion contract wants
those to be per-record ``INVALID_VALUE`` errors, not a malformed request, so we fall back to
``json`` (which accepts them) before calling the body malformed.
"""

import json

import orjson
from flask.json.provider import DefaultJSONProvider

from cei.text import shown, text_problem

# Deeper than any body the API takes (three levels), far from the interpreter's recursion
# limit (about 1,000) that any code walking a document recursively (repr, a validator) hits.
MAX_JSON_DEPTH = 32


class NestedTooDeeply(ValueError):
    """A JSON document nests containers more than :data:`MAX_JSON_DEPTH` deep."""

    def __init__(self):
        super().__init__(f"JSON nested more than {MAX_JSON_DEPTH} levels deep")


def loads(data):
    """Parse JSON text or bytes; raise ``ValueError`` when it is not JSON.

    :class:`NestedTooDeeply` (a ``ValueError``) when it nests containers more than
    :data:`MAX_JSON_DEPTH` deep, so that no request body can make later code recurse until it
    dies, even under keys nobody reads.
    """
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError:
        if isinstance(data, bytes | bytearray | memoryview):
            data = bytes(data).decode("utf-8")
        try:
            document = json.loads(data)
        except RecursionError:
            # orjson refuses documents nested over 1,024 levels; json recurses until it dies.
            raise NestedTooDeeply() from None
    if nested_too_deeply(document):
        raise NestedTooDeeply()
    return document


def nested_too_deeply(document, max_depth=MAX_JSON_DEPTH):
    """Tell whether containers nest more than ``max_depth`` deep (one level at a time)."""
    level = [document] if isinstance(document, dict | list) else []
    for _ in range(max_depth):
        # The containers one level down; a flat batch of records is two levels.
        level = [
            child
            for container in level
            for child in (container.values() if type(container) is dict else container)
            if type(child) is dict or type(child) is list
        ]
        if not level:
            return False
    return True


def unstorable_text(document):
    """Return ``(path, message)`` for the first string of a parsed JSON document (a value or
    a key, in reading order) that :func:`cei.text.text_problem` refuses, or None.

    ``path`` is the tuple of keys and list indices leading to it. Iterative: no document can
    exhaust the interpreter's stack.
    """
    stack = [((), document)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            message = text_problem(value)
            if message:
                return path, message
            continue
        if isinstance(value, dict):
            items = value.items()
        elif isinstance(value, list):
            items = enumerate(value)
        else:
            continue
        children = []
        for key, item in items:
            message = text_problem(key) if isinstance(key, str) else None
            if message:
                return (*path, shown(key)), f"In the field name: {message}"
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
