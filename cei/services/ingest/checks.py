"""Per-record checks of ingested readings: the general path, one record at a time.

One hand-written loop per batch, not a schema library: DESIGN §4 ("Speed notes") measured
validation with marshmallow at about ten times the cost of these checks. Each failing record
yields one error with the first problem found, in the order of the checks below. The fast
path (:mod:`.columns`) must answer every batch it accepts exactly as this loop would;
``tests/ingest/test_paths_agree.py`` holds the two together.
"""

import re
from functools import partial
from typing import NamedTuple

from cei.services.identifiers import InvalidIdentifier, check_identifier
from cei.services.ingest.codes import ErrorCode
from cei.services.ingest.limits import (
    MAX_FUTURE_SECONDS,
    MAX_INTERVAL_MINUTES,
    MAX_KEY_LENGTH,
    MAX_KWH,
    MAX_SOURCE_LENGTH,
    ON_CONFLICT,
    RETENTION_DAYS,
)
from cei.services.ingest.timestamps import parse_timestamp
from cei.services.ingest.units import DEFAULT_UNIT, UNIT_LIST, find_unit

REQUIRED_FIELDS = ("site_id", "meter_id", "timestamp_utc", "value")

# C0 and C1 controls (NUL included), non-characters; and lone surrogates (text that was not
# UTF-8).
_CONTROLS = r"\x00-\x1f\x7f-\x9f\ufffe\uffff"
_BAD_CHARACTERS = re.compile(f"[{_CONTROLS}\ud800-\udfff]")
# Free text (a key, a source) as the OpenAPI document states it (``pattern``).
TEXT_PATTERN = rf"^[^{_CONTROLS}]*$"
JSON_TYPES = {
    bool: "a boolean",
    int: "a number",
    float: "a number",
    str: "a string",
    list: "an array",
    dict: "an object",
    type(None): "null",
}


class CheckedRecord(NamedTuple):
    """A record that passed the checks."""

    index: int  # position in the batch (or among the upload's data rows)
    site_id: str  # NFC
    meter_id: str  # NFC
    ts: int  # interval start, epoch seconds
    amount: float  # kWh, or kW when ``needs_interval``
    needs_interval: bool  # a power reading waiting for its meter's interval
    key: str | None  # idempotency key (None: absent or blank)


new_checked_record = partial(tuple.__new__, CheckedRecord)


def json_type(value):
    """Name the JSON type of ``value`` for an error message."""
    return JSON_TYPES.get(type(value), type(value).__name__)


def shorten(value, limit=60):
    """Return a short printable representation of ``value`` for an error message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def text_problem(value, what, limit):
    """Return why ``value`` is not acceptable free text (a key, a source), or None."""
    if type(value) is not str:
        return f"{what} must be a string, got {json_type(value)}"
    if len(value) > limit:
        return f"{what} must be at most {limit} characters, got {len(value)}"
    if not (value.isascii() and value.isprintable()):
        bad = _BAD_CHARACTERS.search(value)
        if bad and "\ud800" <= bad.group() <= "\udfff":
            return f"{what} is not valid UTF-8 text"
        if bad:
            return f"{what} must not contain control characters"
    return None


def source_problem(source):
    """Why a batch's ``source`` is not acceptable, or None (absent or blank is acceptable)."""
    if source is None or source == "":
        return None
    return text_problem(source, "source", MAX_SOURCE_LENGTH)


def on_conflict_problem(on_conflict):
    """Why ``on_conflict`` is not acceptable, or None (absent or blank means "reject")."""
    if on_conflict in (None, "") or on_conflict in ON_CONFLICT:
        return None
    return 'on_conflict must be "reject" or "update"'


def id_problem(value, what):
    """Why ``value`` is not an acceptable site or meter id (with the JSON type), or None."""
    if type(value) is not str:
        return f"{what} must be a string, got {json_type(value)}"
    try:
        check_identifier(value, what)
    except InvalidIdentifier as problem:
        return str(problem)
    return None


def number_from_text(text):
    """Read a CSV cell as a float (``12.5`` or the decimal comma ``12,5``), or None."""
    try:
        return float(text)
    except ValueError:
        if "," in text and "." not in text:
            try:
                return float(text.replace(",", ".", 1))
            except ValueError:
                return None
        return None


def interval_from(raw, from_text):
    """Return ``interval_minutes`` as an int in 1..1440, or None when it is not one."""
    kind = type(raw)
    if kind is int:
        minutes = raw
    elif kind is float and raw.is_integer():
        minutes = int(raw)
    elif kind is str and from_text:
        digits = raw.strip()
        # ASCII digits only: "²".isdigit() is true, but int("²") fails.
        if not (digits.isascii() and digits.isdigit()):
            return None
        minutes = int(digits)
    else:
        return None
    return minutes if 1 <= minutes <= MAX_INTERVAL_MINUTES else None


def key_from(key):
    """Return ``(key or None when blank, None)``, or ``(None, problem)`` for a bad key."""
    if type(key) is str and key.isprintable() and len(key) <= MAX_KEY_LENGTH:
        # Printable: no controls, surrogates or non-characters; the only blank is the space.
        return (None if not key or (key[0] == " " and key.isspace()) else key), None
    if type(key) is str and key.isspace():
        return None, None  # blank means absent (DESIGN §4)
    problem = text_problem(key, "idempotency_key", MAX_KEY_LENGTH)
    return (None, problem) if problem else (key, None)


class RecordChecker:
    """Validate records; remember ids, units and declared intervals across calls.

    ``from_text`` accepts numbers written as text (CSV cells); JSON records must carry real
    numbers, so a JSON string ``"12.5"`` is an ``INVALID_VALUE`` there.
    """

    def __init__(self, now, from_text=False):
        self.max_ts = int(now) + MAX_FUTURE_SECONDS
        self.min_ts = int(now) - RETENTION_DAYS * 86400
        self.from_text = from_text
        # id as sent -> id as stored (NFC), for ids that passed the rule.
        self.good_ids = {}
        self.units = {"": DEFAULT_UNIT, "kWh": DEFAULT_UNIT}
        # (site_id, meter_id) -> interval_minutes, from the first record that declared one;
        # used as the interval of meters created by this ingestion.
        self.declared_intervals = {}
        # (site_id, meter_id) pairs met by the last ``check`` call, for one bulk lookup.
        self.pairs = set()
        # (site_id, meter_id) -> idempotency keys of the last call's valid records: a
        # factory's keys for one meter are neighbours in key order, scanned as a range.
        self.key_groups = {}
        # Whether the last call met a power reading waiting for its meter's interval.
        self.needs_intervals = False

    def clean_id(self, value, what):
        """Return ``(id as stored, None)`` or ``(None, problem)``; remember good ids."""
        if type(value) is str:
            clean = self.good_ids.get(value)
            if clean is not None:
                return clean, None
        problem = id_problem(value, what)
        if problem:
            return None, problem
        clean = self.good_ids[value] = check_identifier(value, what)
        return clean, None

    def check(self, records, first_index, fail):
        """Return the valid records as :class:`CheckedRecord`, reporting the others to ``fail``.

        ``fail`` is called as ``fail(index, code, detail)``.
        """
        valid = []
        append = valid.append
        units = self.units
        max_ts, min_ts = self.max_ts, self.min_ts
        from_text = self.from_text
        pairs = self.pairs = set()
        key_groups = self.key_groups = {}
        self.needs_intervals = False
        pair_keys = None
        # The last (site, meter) as sent and as stored: records usually come meter by meter.
        site_sent = meter_sent = site = meter = None
        index = first_index - 1
        for record in records:
            index += 1
            if type(record) is not dict:
                fail(
                    index,
                    ErrorCode.MISSING_FIELD,
                    f"a record must be an object, got {json_type(record)}",
                )
                continue
            get = record.get
            sent_site = get("site_id")
            sent_meter = get("meter_id")
            stamp = get("timestamp_utc")
            value = get("value")
            if (
                sent_site is None
                or sent_meter is None
                or stamp is None
                or value is None
                # An empty CSV cell is an absent value.
                or (from_text and "" in (sent_site, sent_meter, stamp, value))
            ):
                fail(index, ErrorCode.MISSING_FIELD, _missing(record, from_text))
                continue

            if sent_site != site_sent or sent_meter != meter_sent:
                clean_site, problem = self.clean_id(sent_site, "site_id")
                if problem:
                    fail(index, ErrorCode.INVALID_SITE_ID, problem)
                    continue
                clean_meter, problem = self.clean_id(sent_meter, "meter_id")
                if problem:
                    fail(index, ErrorCode.INVALID_METER_ID, problem)
                    continue
                site_sent, meter_sent, site, meter = sent_site, sent_meter, clean_site, clean_meter
                pairs.add((site, meter))
                pair_keys = key_groups.get((site, meter))

            ts = parse_timestamp(stamp)
            if ts is None:
                fail(index, ErrorCode.INVALID_TIMESTAMP, _bad_timestamp(stamp))
                continue
            if ts > max_ts:
                fail(
                    index,
                    ErrorCode.INVALID_TIMESTAMP,
                    f"{shorten(stamp)} is more than 5 minutes in the future",
                )
                continue
            if ts < min_ts:
                fail(
                    index,
                    ErrorCode.INVALID_TIMESTAMP,
                    f"{shorten(stamp)} is older than the retention limit ({RETENTION_DAYS} days)",
                )
                continue

            sent_unit = get("unit")
            if sent_unit is None:
                unit = DEFAULT_UNIT
            else:
                unit = units.get(sent_unit) if type(sent_unit) is str else None
                if unit is None:
                    unit = find_unit(sent_unit)
                    if unit is None:
                        fail(index, ErrorCode.INVALID_UNIT, f"unit must be one of {UNIT_LIST}")
                        continue
                    units[sent_unit] = unit

            kind = type(value)
            if kind is int:
                # Compare before converting: float(10**400) would raise.
                if not 0 <= value <= MAX_KWH:
                    fail(index, ErrorCode.INVALID_VALUE, _bad_number(value))
                    continue
                value = float(value)
            elif kind is not float:
                if kind is str and from_text:
                    value = number_from_text(value)
                if type(value) is not float:
                    fail(index, ErrorCode.INVALID_VALUE, _not_a_number(get("value"), from_text))
                    continue
            # Written this way round so NaN (which compares false) fails too.
            if not 0.0 <= value <= MAX_KWH:
                fail(index, ErrorCode.INVALID_VALUE, _bad_number(value))
                continue

            interval = get("interval_minutes")
            if interval is not None and interval != "":
                interval = interval_from(interval, from_text)
                if interval is None:
                    fail(
                        index,
                        ErrorCode.INVALID_VALUE,
                        f"interval_minutes must be a whole number from 1 to "
                        f"{MAX_INTERVAL_MINUTES}, got {shorten(get('interval_minutes'))}",
                    )
                    continue
                if (site, meter) not in self.declared_intervals:
                    self.declared_intervals[site, meter] = interval
            else:
                interval = None

            needs_interval = False
            if unit is DEFAULT_UNIT:
                amount = value  # kWh: already checked against the limit
            else:
                amount = value * unit.kwh
                if unit.is_power:
                    if interval is None:
                        needs_interval = self.needs_intervals = True
                    else:
                        amount = amount * interval / 60
                if amount > MAX_KWH:
                    fail(
                        index,
                        ErrorCode.INVALID_VALUE,
                        f"{value:g} {unit.name} is more than {MAX_KWH:g} kWh",
                    )
                    continue

            key = get("idempotency_key")
            if key is not None:
                key, problem = key_from(key)
                if problem:
                    fail(index, ErrorCode.INVALID_IDEMPOTENCY_KEY, problem)
                    continue
                if key is not None:
                    if pair_keys is None:
                        pair_keys = key_groups[site, meter] = [key]
                    else:
                        pair_keys.append(key)

            # -0.0 + 0.0 is 0.0: a zero reading is stored and compared as plain zero.
            append(new_checked_record((index, site, meter, ts, amount + 0.0, needs_interval, key)))
        return valid


def _missing(record, from_text):
    blank = (None, "") if from_text else (None,)
    absent = [name for name in REQUIRED_FIELDS if record.get(name) in blank]
    return "missing " + ", ".join(absent)


def _bad_timestamp(stamp):
    if type(stamp) is not str:
        return f"timestamp_utc must be an RFC 3339 string, got {json_type(stamp)}"
    return (
        f"{shorten(stamp)} is not an RFC 3339 timestamp "
        "(like 2026-01-15T13:00:00Z or 2026-01-15T14:00:00+01:00)"
    )


def _not_a_number(value, from_text):
    if type(value) is str and not from_text:
        return f"value must be a JSON number, not the string {shorten(value)}"
    if type(value) is str:
        return f"{shorten(value)} is not a number"
    return f"value must be a number, got {json_type(value)}"


def _bad_number(value):
    if value != value or value in (float("inf"), float("-inf")):
        return "value must be a finite number"
    if value < 0:
        return "value must not be negative"
    return f"value is implausibly large (more than {MAX_KWH:g} kWh)"
