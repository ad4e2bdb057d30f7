"""The text every field may hold: no NUL characters, no unpaired surrogates.

PostgreSQL refuses NUL in text (``DataError``) where SQLite stores it silently, and no database
driver can encode an unpaired surrogate (``"\\ud800"``, which a JSON escape can produce). So
such text is refused at the edge, wherever it arrives (JSON body, form, query string, URL path),
before any view or service sees it: :mod:`cei.http` applies this rule to every request.
Stricter rules for ids (control and bidi characters …) live with the identifiers.
"""

import re

# A NUL, or a surrogate code point: a Python str holds a valid pair as one astral character,
# so any surrogate found here is unpaired.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
NUL_MESSAGE = "Must not contain NUL characters"
SURROGATE_MESSAGE = "Must be valid Unicode text (no unpaired surrogates)"


def text_problem(value):
    """Say why the string ``value`` cannot be stored as text, or return None."""
    if value.isascii():
        return NUL_MESSAGE if "\x00" in value else None
    bad = _UNSTORABLE.search(value)
    if bad is None:
        return None
    return NUL_MESSAGE if bad.group() == "\x00" else SURROGATE_MESSAGE


def shown(value):
    """Return ``value`` fit to echo in an error (what the rule refuses, as escapes)."""
    return _UNSTORABLE.sub(lambda match: ascii(match.group())[1:-1], value)
