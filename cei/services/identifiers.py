"""The rule for the external ids factories choose: ``site_id`` and ``meter_id``.

One rule for every way in (ingestion, the sites API, the upload form), so an id that can be
stored can also be addressed as one URL path segment (``/api/v1/sites/<site_id>``):

- a string of 1 to 100 characters, compared in Unicode NFC form (a composed and a decomposed
  "ä" are the same id; ids are stored in NFC);
- no spaces around it, no ``/``, not ``.`` or ``..``;
- no control characters (NUL included), no bidirectional embedding, override or isolate
  characters (they make an id display as another), no lone surrogates (text that was not
  valid UTF-8) and no Unicode non-characters.
"""

import re
import unicodedata

MAX_ID_LENGTH = 100

# C0 and C1 controls, bidi embeddings/overrides (U+202A-U+202E) and isolates (U+2066-U+2069),
# non-characters; and lone surrogates (text that was not UTF-8).
_FORBIDDEN_CHARACTERS = r"\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufdd0-\ufdef\ufffe\uffff"
_FORBIDDEN = re.compile(f"[{_FORBIDDEN_CHARACTERS}\ud800-\udfff]")

# The rule as a regular expression for the OpenAPI document (``pattern``; valid in Python and
# ECMAScript alike): not "." or "..", no forbidden character and no "/", no space at either
# end. The length (counted in NFC) is ``maxLength``; lone surrogates cannot be sent in JSON
# that a client validates, so the pattern leaves them out.
_INNER = rf"[^{_FORBIDDEN_CHARACTERS}/]"
_EDGE = rf"[^\s{_FORBIDDEN_CHARACTERS}/]"
ID_PATTERN = rf"^(?!\.\.?$){_EDGE}(?:{_INNER}*{_EDGE})?$"


class InvalidIdentifier(ValueError):
    """An id breaks the rule; the message says how (it starts with the field's name)."""


def check_identifier(value, what="id"):
    """Return ``value`` in NFC form when it is an acceptable id, else raise ``InvalidIdentifier``.

    ``what`` names the field in the message (``site_id``, ``meter_id``).
    """
    problem = identifier_problem(value, what)
    if problem:
        raise InvalidIdentifier(problem)
    return value if value.isascii() else unicodedata.normalize("NFC", value)


def identifier_problem(value, what="id"):
    """Return why ``value`` is not an acceptable id, or None when it is."""
    if not isinstance(value, str):
        return f"{what} must be a string"
    if not value or value.isspace():
        return f"{what} must not be blank"
    bad = _FORBIDDEN.search(value) if not (value.isascii() and value.isprintable()) else None
    if bad:
        if "\ud800" <= bad.group() <= "\udfff":
            return f"{what} is not valid UTF-8 text"
        if bad.group() in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069":
            return f"{what} must not contain bidirectional control characters"
        return f"{what} must not contain control characters"
    if value[0].isspace() or value[-1].isspace():
        return f"{what} must not start or end with a space"
    if "/" in value or value in (".", ".."):
        return f"{what} must not contain '/' or be '.' or '..'"
    length = len(value if value.isascii() else unicodedata.normalize("NFC", value))
    if length > MAX_ID_LENGTH:
        return f"{what} must be at most {MAX_ID_LENGTH} characters, got {length}"
    return None


def is_nfc(value):
    """Whether ``value`` is already in the form ids are stored in."""
    return value.isascii() or unicodedata.is_normalized("NFC", value)


def lookup_form(value):
    """Return ``value`` as ids are stored, to look one up, or None when no id can be it.

    A path or query parameter with a NUL or a lone surrogate names nothing (and must not
    reach the database, which would refuse the text).
    """
    if identifier_problem(value) is not None:
        return None
    return value if value.isascii() else unicodedata.normalize("NFC", value)
