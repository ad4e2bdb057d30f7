"""The fast path of ``/timeseries/batch``: well-formed batches, checked column by column.

Most batches a factory sends are entirely well formed. For them, msgspec decodes the body
straight into typed records and checks each field's type, range and length in C while it
parses; what is left (identifiers, the time window, idempotency keys) is checked over whole
columns with C-level passes (``map``, ``min``, ``max``, ``count``) instead of record by record.

The fast path only vouches for batches it can answer exactly as the per-record checks of
:mod:`cei.services.ingest_checks` would. Anything else (a wrong type anywhere, a naive or
future timestamp, a power unit, a blank or unusual key …) makes :func:`decode_batch` or
:func:`check_columns` return None, and the batch takes the per-record path, which finds and
reports every bad record. Declining happens before anything touches the database.
``tests/ingest/test_fast_path.py`` holds the two paths to the same answers.
"""

from datetime import datetime
from functools import lru_cache
from itertools import repeat
from operator import add, attrgetter, mul
from typing import Annotated, Literal

import msgspec

from cei.services.ingest_checks import (
    MAX_ID_LENGTH,
    MAX_INTERVAL_MINUTES,
    MAX_KEY_LENGTH,
    MAX_KWH,
    UNITS,
    text_problem,
)

# Energy units only: a power reading may need its meter's interval, which the per-record
# path settles. None (no unit) is kWh.
ENERGY_UNITS = ("Wh", "kWh", "MWh")
KWH_PER_UNIT = {None: 1.0, **{unit: UNITS[unit.lower()][0] for unit in ENERGY_UNITS}}


class TypedRecord(msgspec.Struct, gc=False):
    """A record as the fast path accepts it (DESIGN §4); other fields are ignored."""

    site_id: str
    meter_id: str
    timestamp_utc: str
    value: Annotated[float, msgspec.Meta(ge=0.0, le=MAX_KWH)]
    unit: Literal[ENERGY_UNITS] | None = None
    interval_minutes: Annotated[int, msgspec.Meta(ge=1, le=MAX_INTERVAL_MINUTES)] | None = None
    idempotency_key: Annotated[str, msgspec.Meta(max_length=MAX_KEY_LENGTH)] | None = None


class TypedBatch(msgspec.Struct, gc=False):
    """A batch body whose records are all :class:`TypedRecord`."""

    records: list[TypedRecord]
    source: str | None = None
    on_conflict: str | None = None


# Timestamp columns remembered (see column_seconds): at most this many, of this many rows.
REMEMBERED_COLUMNS = 32
LARGEST_REMEMBERED_COLUMN = 10_000

_decoder = msgspec.json.Decoder(TypedBatch)
_tzinfo = attrgetter("tzinfo")


def decode_batch(raw):
    """Return the :class:`TypedBatch` in the JSON bytes ``raw``, or None when it is not one."""
    try:
        return _decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


class Columns:
    """Checked records column by column: what :func:`check_columns` returns.

    The pipeline's simple cases work on whole columns; :meth:`tuples` gives the records as
    the per-record checks return them, for the general case.
    """

    __slots__ = ("first_index", "sites", "meters", "stamps", "amounts", "keys")

    def __init__(self, first_index, sites, meters, stamps, amounts, keys):
        self.first_index = first_index
        self.sites, self.meters = sites, meters
        self.stamps, self.amounts, self.keys = stamps, amounts, keys

    def __len__(self):
        return len(self.stamps)

    @property
    def indices(self):
        """The records' indices in the batch."""
        return range(self.first_index, self.first_index + len(self.stamps))

    def tuples(self):
        """The records as ``(index, site_id, meter_id, ts, kWh, False, key)`` tuples."""
        return list(
            zip(
                self.indices,
                self.sites,
                self.meters,
                self.stamps,
                self.amounts,
                repeat(False),
                self.keys,
                strict=False,
            )
        )


def check_columns(checker, records, first_index=0):
    """Check typed records column by column; return :class:`Columns`, or None.

    ``checker`` is the :class:`~cei.services.ingest_checks.RecordChecker` of the ingestion:
    its remembered identifiers, pairs, key groups and declared intervals are updated just as
    its own loop updates them. None means some record needs the per-record checks; then the
    checker is left as it was, except for identifiers found good.
    """
    count = len(records)
    if not count:
        return None
    # One C-level transposition of the records into their seven columns (tuples).
    sites, meters, texts, values, units, intervals, keys = zip(
        *map(msgspec.structs.astuple, records), strict=True
    )
    site_ids, meter_ids = _distinct(sites), _distinct(meters)
    if not (_good_ids(checker, site_ids) and _good_ids(checker, meter_ids)):
        return None
    stamps = column_seconds(texts)
    if stamps is None or min(stamps) < checker.min_ts or max(stamps) > checker.max_ts:
        return None
    amounts = _amounts(values, units)
    if amounts is None:
        return None
    keyless = keys.count(None) == count
    if not (keyless or _plain_keys(keys)):
        return None
    single = len(site_ids) == 1 and len(meter_ids) == 1
    pairs = {(sites[0], meters[0])} if single else set(zip(sites, meters, strict=True))
    if intervals.count(None) != count:
        _declare_intervals(checker, sites, meters, intervals, single)
    checker.pairs = pairs
    checker.key_groups = {} if keyless else _key_groups(sites, meters, keys, single)
    checker.needs_intervals = False
    return Columns(first_index, sites, meters, stamps, amounts, keys)


def column_seconds(texts):
    """:func:`epoch_seconds` of a tuple of texts, remembered for recently seen columns.

    A replay, a retry or the next meter's batch of the same hours sends the same column of
    timestamps again: one hash of the column replaces parsing it (the per-record path keeps
    a cache of single timestamps for the same reason). Large columns are not kept.
    """
    if len(texts) > LARGEST_REMEMBERED_COLUMN:
        return epoch_seconds(texts)
    return _remembered_seconds(texts)


def epoch_seconds(stamps):
    """Whole seconds since the epoch for each ISO 8601 string, or None for a naive or bad one.

    Parsed as the per-record checks parse them (``datetime.fromisoformat``, fractions
    dropped); naive timestamps (UTC by the contract) are left to the per-record path. No
    cache of single strings here: parsing a column in C costs less than looking each string
    up in a large cache (:func:`column_seconds` remembers whole columns instead).
    """
    try:
        moments = list(map(datetime.fromisoformat, stamps))
    except ValueError:
        return None
    if None in set(map(_tzinfo, moments)):
        return None
    # timestamp() is exact to the microsecond for aware times (a double resolves better than
    # a microsecond here), and int() floors it for the positive times that can pass.
    return list(map(int, map(datetime.timestamp, moments)))


@lru_cache(maxsize=REMEMBERED_COLUMNS)
def _remembered_seconds(texts):
    seconds = epoch_seconds(texts)
    return None if seconds is None else tuple(seconds)


def _distinct(column):
    """The distinct values of ``column``; one equality pass when they are all the same."""
    first = column[0]
    return {first} if column.count(first) == len(column) else set(column)


def _good_ids(checker, ids):
    """Whether every site or meter id in the set ``ids`` passes the identifier rule."""
    good = checker.good_ids
    for value in ids:
        if value not in good:
            if text_problem(value, "id", MAX_ID_LENGTH):
                return False
            good.add(value)
    return True


def _amounts(values, units):
    """The values in kWh (zero as plain zero) as a list, or None when one is out of range."""
    if _distinct(units) <= {None, "kWh"}:
        values = list(values)
    else:
        values = list(map(mul, values, map(KWH_PER_UNIT.__getitem__, units)))
        if max(values) > MAX_KWH:
            return None
    if 0.0 in values:
        values = list(map(add, values, repeat(0.0)))  # -0.0 + 0.0 is 0.0
    return values


def _plain_keys(keys):
    """Whether every key is absent or a printable, non-blank string."""
    present = keys if None not in keys else [key for key in keys if key is not None]
    if not present:
        return True
    joined = "".join(present)  # one C pass over all the keys' characters
    if "" in present or not joined.isprintable():
        return False
    # A printable blank key is made of spaces: look for one only when a space was sent.
    return " " not in joined or not any(map(str.isspace, present))


def _key_groups(sites, meters, keys, single):
    """``{(site_id, meter_id): [keys in record order]}``, as the per-record checks build it."""
    if single:
        present = list(keys) if None not in keys else [key for key in keys if key is not None]
        return {(sites[0], meters[0]): present} if present else {}
    groups = {}
    for site, meter, key in zip(sites, meters, keys, strict=True):
        if key is not None:
            groups.setdefault((site, meter), []).append(key)
    return groups


def _declare_intervals(checker, sites, meters, intervals, single):
    """Remember the first interval each (site, meter) pair declares, as the loop does."""
    declared = checker.declared_intervals
    if single:
        pair = (sites[0], meters[0])
        if pair not in declared:
            declared[pair] = next(minutes for minutes in intervals if minutes is not None)
        return
    for site, meter, minutes in zip(sites, meters, intervals, strict=True):
        if minutes is not None and (site, meter) not in declared:
            declared[site, meter] = minutes
