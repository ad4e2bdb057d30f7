"""Per-record checks of ingested readings.

One hand-written loop per batch, not a schema library: validating a record with marshmallow
costs about ten times as much as these checks and capped the endpoint well below what the
database can take (DESIGN §4, "Speed notes"). Each failing record yields one error with the
first problem found, in the order of the checks below.
"""

import re

from cei.services.ingest_time import cached_timestamps, parse_new_timestamp

MISSING_FIELD = "MISSING_FIELD"
INVALID_SITE_ID = "INVALID_SITE_ID"
INVALID_METER_ID = "INVALID_METER_ID"
INVALID_TIMESTAMP = "INVALID_TIMESTAMP"
INVALID_VALUE = "INVALID_VALUE"
INVALID_UNIT = "INVALID_UNIT"
INVALID_IDEMPOTENCY_KEY = "INVALID_IDEMPOTENCY_KEY"

REQUIRED_FIELDS = ("site_id", "meter_id", "timestamp_utc", "value")
MAX_ID_LENGTH = 100
MAX_KEY_LENGTH = 200
MAX_KWH = 1e9  # a billion kWh in one interval is a unit mistake, not a meter reading
MAX_FUTURE_SECONDS = 300
RETENTION_DAYS = 3653
MAX_INTERVAL_MINUTES = 1440
DEFAULT_INTERVAL_MINUTES = 60

# Lower-case unit -> (kWh per unit, whether it is an average power to multiply by the interval).
UNITS = {
    "wh": (0.001, False),
    "kwh": (1.0, False),
    "mwh": (1000.0, False),
    "w": (0.001, True),
    "kw": (1.0, True),
    "mw": (1000.0, True),
}
UNIT_NAMES = "Wh, kWh, MWh, W, kW, MW"
ENERGY_KWH = UNITS["kwh"]

# C0 and C1 controls (NUL included), lone surrogates (not encodable) and non-characters.
_BAD_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
JSON_TYPES = {
    bool: "a boolean",
    int: "a number",
    float: "a number",
    str: "a string",
    list: "an array",
    dict: "an object",
    type(None): "null",
}


def json_type(value):
    """Name the JSON type of ``value`` for an error message."""
    return JSON_TYPES.get(type(value), type(value).__name__)


def shorten(value, limit=60):
    """Return a short printable representation of ``value`` for an error message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def text_problem(value, what, limit):
    """Return why ``value`` is not an acceptable identifier, or None when it is."""
    if type(value) is not str:
        return f"{what} must be a string, got {json_type(value)}"
    if not value or value.isspace():
        return f"{what} must not be blank"
    if len(value) > limit:
        return f"{what} must be at most {limit} characters, got {len(value)}"
    # Printable ASCII is the common case and needs no regular expression.
    if not (value.isascii() and value.isprintable()):
        bad = _BAD_CHARACTERS.search(value)
        if bad and "\ud800" <= bad.group() <= "\udfff":
            return f"{what} is not valid UTF-8 text"
        if bad:
            return f"{what} must not contain control characters"
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
    elif kind is str and from_text and raw.strip().isdigit():
        minutes = int(raw)
    else:
        return None
    return minutes if 1 <= minutes <= MAX_INTERVAL_MINUTES else None


class RecordChecker:
    """Validate records; remember ids, units and declared intervals across calls.

    ``from_text`` accepts numbers written as text (CSV cells); JSON records must carry real
    numbers, so a JSON string ``"12.5"`` is an ``INVALID_VALUE`` there.
    """

    def __init__(self, now, from_text=False):
        self.max_ts = int(now) + MAX_FUTURE_SECONDS
        self.min_ts = int(now) - RETENTION_DAYS * 86400
        self.from_text = from_text
        self.good_ids = set()
        self.units = {"": ENERGY_KWH, "kWh": ENERGY_KWH}
        # (site_id, meter_id) -> interval_minutes, from the first record that declared one;
        # used as the interval of meters created by this ingestion.
        self.declared_intervals = {}
        # (site_id, meter_id) pairs met by the last ``check`` call, for one bulk lookup.
        self.pairs = set()
        # (site_id, meter_id) -> idempotency keys of the last call's valid records: a
        # factory's keys for one meter are neighbours in key order, scanned as a range.
        self.key_groups = {}
        # Whether the last call met a power reading waiting for its meter's interval (then
        # ``Ingestion`` settles the records one by one).
        self.needs_intervals = False

    def check(self, records, first_index, fail):
        """Return the valid records as tuples, reporting the others to ``fail``.

        A tuple is ``(index, site_id, meter_id, ts, amount, needs_interval, key)``:
        ``amount`` is kWh, or kW when ``needs_interval`` (a power reading without its own
        ``interval_minutes``, converted once the meter's interval is known). ``fail`` is
        called as ``fail(index, code, detail)``.
        """
        valid = []
        append = valid.append
        good_ids = self.good_ids
        units = self.units
        ts_get = cached_timestamps().get
        max_ts, min_ts = self.max_ts, self.min_ts
        max_kwh, energy_kwh = MAX_KWH, ENERGY_KWH
        from_text = self.from_text
        pairs = self.pairs = set()
        key_groups = self.key_groups = {}
        self.needs_intervals = False
        pair_keys = None
        # The last (site, meter) that passed: records usually come meter by meter, and an
        # equality test is cheaper than hashing a fresh string for a set lookup.
        site_ok = meter_ok = None
        index = first_index - 1
        for record in records:
            index += 1
            if type(record) is not dict:
                fail(index, MISSING_FIELD, f"a record must be an object, got {json_type(record)}")
                continue
            get = record.get
            site = get("site_id")
            meter = get("meter_id")
            stamp = get("timestamp_utc")
            value = get("value")
            if (
                site is None
                or meter is None
                or stamp is None
                or value is None
                # An empty CSV cell is an absent value.
                or (from_text and "" in (site, meter, stamp, value))
            ):
                fail(index, MISSING_FIELD, _missing(record, from_text))
                continue

            if site != site_ok or meter != meter_ok:
                if type(site) is not str or site not in good_ids:
                    problem = text_problem(site, "site_id", MAX_ID_LENGTH)
                    if problem:
                        fail(index, INVALID_SITE_ID, problem)
                        continue
                    good_ids.add(site)
                if type(meter) is not str or meter not in good_ids:
                    problem = text_problem(meter, "meter_id", MAX_ID_LENGTH)
                    if problem:
                        fail(index, INVALID_METER_ID, problem)
                        continue
                    good_ids.add(meter)
                site_ok, meter_ok = site, meter
                pairs.add((site, meter))
                pair_keys = key_groups.get((site, meter))

            ts = ts_get(stamp) if type(stamp) is str else None
            if ts is None:
                ts = parse_new_timestamp(stamp) if type(stamp) is str else None
                if ts is None:
                    fail(index, INVALID_TIMESTAMP, _bad_timestamp(stamp))
                    continue
            if ts > max_ts:
                fail(index, INVALID_TIMESTAMP, f"{stamp} is more than 5 minutes in the future")
                continue
            if ts < min_ts:
                fail(
                    index,
                    INVALID_TIMESTAMP,
                    f"{stamp} is older than the retention limit ({RETENTION_DAYS} days)",
                )
                continue

            unit = get("unit")
            if unit is None or unit == "kWh":
                factor, is_power = energy_kwh
            else:
                known = units.get(unit) if type(unit) is str else None
                if known is None:
                    known = _unit(unit)
                    if known is None:
                        fail(index, INVALID_UNIT, f"unit must be one of {UNIT_NAMES}")
                        continue
                    units[unit] = known
                factor, is_power = known

            kind = type(value)
            if kind is int:
                # Compare before converting: float(10**400) would raise.
                if not 0 <= value <= MAX_KWH:
                    fail(index, INVALID_VALUE, _bad_number(value))
                    continue
                value = float(value)
            elif kind is not float:
                if kind is str and from_text:
                    try:
                        value = float(value)
                    except ValueError:
                        value = number_from_text(value)
                if type(value) is not float:
                    fail(index, INVALID_VALUE, _not_a_number(get("value"), from_text))
                    continue
            # Written this way round so NaN (which compares false) fails too.
            if not 0.0 <= value <= max_kwh:
                fail(index, INVALID_VALUE, _bad_number(value))
                continue

            interval = get("interval_minutes")
            if interval is not None and interval != "":
                interval = interval_from(interval, from_text)
                if interval is None:
                    fail(
                        index,
                        INVALID_VALUE,
                        f"interval_minutes must be a whole number from 1 to "
                        f"{MAX_INTERVAL_MINUTES}, got {shorten(get('interval_minutes'))}",
                    )
                    continue
                if (site, meter) not in self.declared_intervals:
                    self.declared_intervals[site, meter] = interval
            else:
                interval = None

            needs_interval = False
            if factor == 1.0 and not is_power:
                amount = value  # kWh: already checked against the limit
            else:
                amount = value * factor
                if is_power:
                    if interval is None:
                        needs_interval = self.needs_intervals = True
                    else:
                        amount = amount * interval / 60
                if amount > max_kwh:
                    fail(index, INVALID_VALUE, f"{value:g} {unit} is more than {MAX_KWH:g} kWh")
                    continue

            key = get("idempotency_key")
            if key is not None:
                # Fast path: a printable string (no controls, surrogates or non-characters)
                # of acceptable length, where the only blank character is the space.
                if type(key) is str and key.isprintable() and len(key) <= MAX_KEY_LENGTH:
                    if not key or (key[0] == " " and key.isspace()):
                        key = None  # blank means absent (DESIGN §4)
                else:
                    problem = _key_problem(key)
                    if problem:
                        fail(index, INVALID_IDEMPOTENCY_KEY, problem)
                        continue
                    if not key or key.isspace():
                        key = None
                if key is not None:
                    if pair_keys is None:
                        pair_keys = key_groups[site, meter] = [key]
                    else:
                        pair_keys.append(key)

            # -0.0 + 0.0 is 0.0: a zero reading is stored and compared as plain zero.
            append((index, site, meter, ts, amount + 0.0, needs_interval, key))
        return valid


def _missing(record, from_text):
    blank = (None, "") if from_text else (None,)
    absent = [name for name in REQUIRED_FIELDS if record.get(name) in blank]
    return "missing " + ", ".join(absent)


def _key_problem(key):
    if type(key) is str and (not key or key.isspace()):
        return None
    return text_problem(key, "idempotency_key", MAX_KEY_LENGTH)


def _unit(unit):
    if type(unit) is not str:
        return None
    return UNITS.get(unit.strip().lower())


def _bad_timestamp(stamp):
    if type(stamp) is not str:
        return f"timestamp_utc must be an ISO 8601 string, got {json_type(stamp)}"
    return f"{shorten(stamp)} is not an ISO 8601 timestamp"


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
