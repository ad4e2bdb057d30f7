"""The fast path of ``/timeseries/batch``: well-formed batches, checked column by column.

Most batches a factory sends are entirely well formed. For them, msgspec decodes the body
straight into typed records, checking each field's type, range and length (and parsing the
timestamps with the one RFC 3339 parser, :mod:`.timestamps`) while it parses; what is left
(identifiers, the time window, idempotency keys) is checked over whole columns.

The fast path only vouches for batches it can answer exactly as the per-record checks of
:mod:`.checks` would. Anything else (a wrong type anywhere, a future timestamp, a power
unit, a blank or unusual key, an id not in NFC form …) makes :func:`decode_batch` or
:func:`check_columns` return None, and the batch takes the per-record path, which finds and
reports every bad record. Declining happens before anything touches the database.
``tests/ingest/test_paths_agree.py`` sends random batches through both paths and compares
the answers and the stored rows.
"""

from datetime import datetime
from itertools import repeat
from operator import add, mul
from typing import Annotated, Literal

import msgspec

from cei.services.ingest.checks import new_checked_record
from cei.services.ingest.limits import MAX_INTERVAL_MINUTES, MAX_KEY_LENGTH, MAX_KWH
from cei.services.ingest.timestamps import column_seconds
from cei.services.ingest.units import DEFAULT_UNIT, ENERGY_UNIT_NAMES, find_unit

# Energy units only: a power reading may need its meter's interval, which the per-record
# path settles. None (no unit) is kWh.
KWH_PER_UNIT = {None: DEFAULT_UNIT.kwh}
KWH_PER_UNIT.update((name, find_unit(name).kwh) for name in ENERGY_UNIT_NAMES)


class TypedRecord(msgspec.Struct, gc=False, forbid_unknown_fields=True):
    """A record as the fast path accepts it (DESIGN §4).

    Unknown fields send the batch to the general path, whose JSON parser applies the nesting
    limit to every part of the body (msgspec would skip what it does not know unchecked).
    """

    site_id: str
    meter_id: str
    timestamp_utc: datetime
    value: Annotated[float, msgspec.Meta(ge=0.0, le=MAX_KWH)]
    unit: Literal[ENERGY_UNIT_NAMES] | None = None
    interval_minutes: Annotated[int, msgspec.Meta(ge=1, le=MAX_INTERVAL_MINUTES)] | None = None
    idempotency_key: Annotated[str, msgspec.Meta(max_length=MAX_KEY_LENGTH)] | None = None


class TypedBatch(msgspec.Struct, gc=False, forbid_unknown_fields=True):
    """A batch body whose records are all :class:`TypedRecord`."""

    records: list[TypedRecord]
    source: str | None = None
    on_conflict: str | None = None


_decoder = msgspec.json.Decoder(TypedBatch)


def decode_batch(raw):
    """Return the :class:`TypedBatch` in the JSON bytes ``raw``, or None when it is not one.

    None also for bytes that are not UTF-8: the general path then answers for the body.
    """
    try:
        return _decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError):
        return None


class Columns:
    """Checked records column by column: what :func:`check_columns` returns.

    The pipeline's simple cases work on whole columns; :meth:`records` gives the records as
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

    def records(self):
        """The records as the per-record checks return them (:class:`CheckedRecord`)."""
        return list(
            map(
                new_checked_record,
                zip(
                    self.indices,
                    self.sites,
                    self.meters,
                    self.stamps,
                    self.amounts,
                    repeat(False),
                    self.keys,
                    strict=False,
                ),
            )
        )


def check_columns(checker, records, first_index=0):
    """Check typed records column by column; return :class:`Columns`, or None.

    ``checker`` is the :class:`~cei.services.ingest.checks.RecordChecker` of the ingestion:
    its remembered pairs, key groups and declared intervals are updated just as its own loop
    updates them. None means some record needs the per-record checks; then the checker is
    left as it was, except for identifiers found good.
    """
    count = len(records)
    if not count:
        return None
    # One transposition of the records into their seven columns (tuples).
    sites, meters, moments, values, units, intervals, keys = zip(
        *map(msgspec.structs.astuple, records), strict=True
    )
    site_ids, meter_ids = _distinct(sites), _distinct(meters)
    if not (_good_ids(checker, site_ids, "site_id") and _good_ids(checker, meter_ids, "meter_id")):
        return None
    stamps = column_seconds(moments)
    if min(stamps) < checker.min_ts or max(stamps) > checker.max_ts:
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


def _distinct(column):
    """The distinct values of ``column``; one equality pass when they are all the same."""
    first = column[0]
    return {first} if column.count(first) == len(column) else set(column)


def _good_ids(checker, ids, what):
    """Whether every id in the set ``ids`` passes the identifier rule as sent (NFC)."""
    for value in ids:
        clean, problem = checker.clean_id(value, what)
        if problem or clean != value:
            return False
    return True


def _amounts(values, units):
    """The values in kWh (zero as plain zero) as a list, or None when one is out of range."""
    if _distinct(units) <= {None, DEFAULT_UNIT.name}:
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
    joined = "".join(present)
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
