"""The ingestion pipeline: one transaction's worth of records, fed in one or more chunks.

Every chunk goes through the same steps:

1. check each record (:mod:`.checks`, or :mod:`.columns` for a well-formed JSON batch);
2. find the chunk's sites and meters in bulk, creating missing ones (:mod:`.catalog`);
3. look up the chunk's idempotency keys in one query;
4. settle what the chunk says about itself (the same reading twice, a key reused);
5. store the readings in bulk, telling new readings, exact duplicates and conflicting values
   apart (:mod:`.store`), then the idempotency keys of the accepted records;
6. hand the readings actually written to :meth:`Ingestion._after_write` (rollup sums, written
   with the due marks in :meth:`Ingestion.finish`).

Nothing is committed here: the caller commits once, so a batch (or a whole upload) is
stored entirely or not at all and a retry after a failure is always safe. Ingestion never
touches Redis.
"""

import itertools
import time
from dataclasses import dataclass, field
from operator import attrgetter

from cei.extensions import db
from cei.services import rollups
from cei.services.analytics.due import mark_sites_due
from cei.services.ingest.catalog import Catalog, infer_intervals
from cei.services.ingest.checks import RecordChecker
from cei.services.ingest.codes import ErrorCode
from cei.services.ingest.columns import Columns, check_columns
from cei.services.ingest.limits import MAX_KWH
from cei.services.ingest.results import BatchResult, ErrorLog
from cei.services.ingest.store import ChangedRows, KeyRow, Row, store_for


@dataclass
class Plan:
    """What one chunk will write, after the chunk has been settled against itself."""

    rows: list = field(default_factory=list)  # Row, one per meter and time
    owners: list = field(default_factory=list)  # index of the record that brought each row
    slots: dict = field(default_factory=dict)  # meter_pk -> {ts: position in rows}
    repeats: dict = field(default_factory=dict)  # position -> indices of exact repeats
    keys: list = field(default_factory=list)  # KeyRow: new idempotency keys to store


class Ingestion:
    """One transaction's worth of records, fed in one or more chunks.

    ``shortcuts=False`` turns off every path that exists only for speed (the typed fast
    path, the plan of simple chunks, whole-column replay detection): the answers and the
    stored rows must be the same either way, which ``tests/ingest`` checks by running
    both ways (``INGEST_SHORTCUTS``).
    """

    def __init__(
        self, organization, on_conflict="reject", from_text=False, now=None, shortcuts=True
    ):
        connection = db.session.connection()
        self.organization_id = organization.id
        self.update = on_conflict == "update"
        self.shortcuts = shortcuts
        self.checker = RecordChecker(time.time() if now is None else now, from_text=from_text)
        self.catalog = Catalog(connection, organization)
        self.store = store_for(connection, shortcuts)
        self.result = BatchResult()
        self.errors = ErrorLog()
        self.first_index = 0
        self.row_numbers = None
        # sites.id of every site that got a new or changed reading in this transaction.
        self.changed_site_pks = set()
        # Rollup changes of every chunk, written once in finish().
        self.rollup_deltas = rollups.RollupDeltas()
        self.started = time.perf_counter()

    def fail(self, index, code, detail):
        """Count record ``index`` as failed with ``code``."""
        self.result.failed += 1
        entry = {"index": index, "code": code.value, "detail": detail}
        if self.row_numbers is not None:
            entry["row"] = self.row_numbers[index - self.first_index]
        self.errors.add(entry)

    def add(self, records, first_index=0, row_numbers=None):
        """Run ``records`` (indexed from ``first_index``) through the per-record checks."""
        self.first_index, self.row_numbers = first_index, row_numbers
        valid = self.checker.check(records, first_index, self.fail)
        if valid:
            self._process(valid)

    def add_typed(self, records):
        """Run typed records (:mod:`.columns`) through the pipeline, if all are valid.

        Returns False, having stored nothing, when some record needs the per-record checks.
        """
        columns = check_columns(self.checker, records)
        if columns is None:
            return False
        self._process(columns)
        return True

    def _process(self, valid):
        """Resolve, settle and write the checked records (a list, or :class:`Columns`)."""
        declared = self.checker.declared_intervals
        self.catalog.resolve(
            self.checker.pairs,
            lambda missing: infer_intervals(_readings(valid), missing, declared),
        )
        groups = self.checker.key_groups
        known_keys = (
            self.store.find_keys(self.organization_id, list(groups.values())) if groups else {}
        )
        self._write(self._settle(valid, known_keys))

    def _settle(self, valid, known_keys):
        """Decide, record by record, what the chunk itself and the stored keys say.

        An idempotency key names one meter and time: sent again for them, the record is an
        ordinary reading of that meter and time (a duplicate, a conflict or a correction,
        as the stored value decides); sent for another meter or time, it is refused.
        ``known_keys`` maps stored keys to :class:`KeyRow`. Returns the :class:`Plan`.
        """
        plan = self._simple_plan(valid, known_keys)
        if plan is not None:
            return plan
        fail, update = self.fail, self.update
        meters = self.catalog.meters
        plan = Plan()
        rows, owners, slots, repeats = plan.rows, plan.owners, plan.slots, plan.repeats
        # Keys stored or met earlier in the chunk -> KeyRow.
        seen_keys = dict(known_keys)
        new_keys = plan.keys
        duplicates = updated = 0
        last_pair = found = meter_slots = None
        for record in _records(valid):
            index, site, meter, ts, amount, needs_interval, key = record
            # Records usually come meter by meter: look the meter up only when it changes.
            if (site, meter) != last_pair:
                last_pair = (site, meter)
                found = meters.get(last_pair)
                if found is not None:
                    meter_slots = slots.setdefault(found.pk, {})
            if found is None:
                fail(index, ErrorCode.UNKNOWN_SITE, _unknown_site(site))
                continue
            meter_pk = found.pk
            if needs_interval:
                amount = amount * found.interval_minutes / 60
                if amount > MAX_KWH:
                    fail(index, ErrorCode.INVALID_VALUE, f"value is more than {MAX_KWH:g} kWh")
                    continue
            new_key = False
            if key is not None:
                known = seen_keys.get(key)
                if known is None:
                    new_key = True
                elif known.meter_pk != meter_pk or known.ts != ts:
                    fail(index, ErrorCode.IDEMPOTENCY_KEY_REUSED, _key_reused(key))
                    continue
            position = meter_slots.get(ts)
            if position is None:
                meter_slots[ts] = len(rows)
                rows.append(Row(meter_pk, ts, amount))
                owners.append(index)
            elif rows[position].kwh == amount:
                duplicates += 1
                repeats.setdefault(position, []).append(index)
            elif update:
                rows[position] = Row(meter_pk, ts, amount)
                updated += 1
            else:
                kept = rows[position].kwh
                fail(
                    index,
                    ErrorCode.CONFLICTING_VALUE,
                    _conflict(kept, amount, owners[position]),
                )
                continue
            if new_key:
                entry = seen_keys[key] = KeyRow(key, meter_pk, ts, amount)
                new_keys.append(entry)
        self.result.skipped_duplicate += duplicates
        self.result.updated += updated
        return plan

    def _simple_plan(self, valid, known_keys):
        """The plan of a common simple chunk, or None: the one :meth:`_settle` would return.

        The chunk: one known meter, no power reading waiting for the meter's interval, no
        time sent twice, and either no idempotency keys, or a key on every record, none sent
        twice, and either none stored or all stored for exactly the record's meter and time
        (then, unless they are a replay of a never corrected meter, the store compares the
        values). Every record becomes a row, in order, with its key when the key is new; the
        store tells new readings, exact duplicates and changed values apart. Works on whole
        columns.
        """
        checker = self.checker
        if not self.shortcuts or checker.needs_intervals or len(checker.pairs) != 1:
            return None
        found = self.catalog.meters.get(next(iter(checker.pairs)))
        if found is None:
            return None
        meter_pk = found.pk
        owners, stamps, amounts, keys = _columns(valid)
        slots = dict(zip(stamps, range(len(stamps)), strict=True))
        if len(slots) != len(stamps):
            return None  # a time sent twice: the loop tells repeats and conflicts apart
        meter_pks = itertools.repeat(meter_pk)
        store_keys = False
        if checker.key_groups:
            if sum(map(len, checker.key_groups.values())) != len(stamps):
                return None  # some records without a key
            if len(set(keys)) != len(keys):
                return None  # a key sent twice
            known = list(map(known_keys.get, keys)) if known_keys else None
            if known is None or known.count(None) == len(known):
                store_keys = True
            elif (
                None in known
                or set(map(_METER_PK, known)) != {meter_pk}
                or list(map(_TS_OF_KEY, known)) != list(stamps)
            ):
                return None  # some keys new, or stored for another meter or time
            elif not found.corrected and list(map(_KWH, known)) == list(amounts):
                # A replay: every key names its record's meter and time with the very value
                # sent, and no reading of the meter was ever replaced, so that value is the
                # one stored (a corrected meter's readings are compared by the store).
                # bench/ingest.py "replay 5000 + keys": no readings scan.
                self.result.skipped_duplicate += len(stamps)
                return Plan(slots={meter_pk: {}})
        # Plain tuples in Row and KeyRow order (see Row: the stores read them by position).
        rows = list(zip(meter_pks, stamps, amounts, strict=False))
        return Plan(
            rows=rows,
            owners=owners,
            slots={meter_pk: slots},
            keys=(list(zip(keys, meter_pks, stamps, amounts, strict=False)) if store_keys else []),
        )

    def _write(self, plan):
        """Store the planned readings, then the keys of those that were accepted."""
        result, rows = self.result, plan.rows
        outcome = self.store.write_readings(rows, replace=self.update)
        inserted, replaced, differing = outcome
        result.ingested += len(inserted)
        result.updated += len(replaced)
        result.skipped_duplicate += len(rows) - len(inserted) - len(replaced) - len(differing)
        new_keys = plan.keys
        for (meter_pk, ts), difference in differing.items():
            position = plan.slots[meter_pk][ts]
            detail = _stored_conflict(difference.stored, difference.sent)
            self.fail(plan.owners[position], ErrorCode.CONFLICTING_VALUE, detail)
            # Exact repeats of a rejected reading are rejected with it.
            for repeat in plan.repeats.get(position, ()):
                result.skipped_duplicate -= 1
                self.fail(repeat, ErrorCode.CONFLICTING_VALUE, detail)
        if differing:
            new_keys = [row for row in new_keys if (row[1], row[2]) not in differing]  # meter, ts
        if new_keys:
            self.store.insert_keys(self.organization_id, new_keys)
        if replaced:
            self.catalog.mark_corrected({row.meter_pk for row in replaced})
        changed = ChangedRows(inserted, replaced)
        if len(changed):
            site_of_meter = self.catalog.site_of_meter
            self.changed_site_pks.update(map(site_of_meter.__getitem__, changed.meter_pks()))
            self._after_write(changed)

    def _after_write(self, changed_rows):
        """Site rollups are summed here and written in :meth:`finish`, in the same
        transaction (where sites with new data are also marked due for analysis, once).

        ``changed_rows`` (:class:`~.store.ChangedRows`) are the readings this chunk wrote:
        iterating gives ``ChangedRow(meter_pk, ts, kwh, previous_kwh)`` with
        ``previous_kwh`` None for new readings and the replaced value otherwise.
        ``self.changed_site_pks`` already holds their sites.
        """
        # New readings only (the common case): their rows as they are, without building a
        # ChangedRow per reading (1 µs a row: 0.2 s of a 200,000-row upload, bench/upload.py).
        rows = changed_rows.replaced and list(changed_rows) or changed_rows.inserted
        self.rollup_deltas.add(db.session.connection(), rows)

    def finish(self):
        """Write the rollups and mark the sites with new data due for analysis, once per
        batch or upload (same transaction); return the result (errors ordered by index,
        duration measured)."""
        if self.changed_site_pks:
            connection = db.session.connection()
            self.rollup_deltas.write(connection)
            mark_sites_due(connection, self.changed_site_pks)
        result = self.result
        result.errors = self.errors.sorted()
        result.errors_truncated = self.errors.truncated
        result.duration_ms = round((time.perf_counter() - self.started) * 1000, 1)
        return result


def _readings(valid):
    """``(site_id, meter_id, ts)`` of checked records (a list or :class:`Columns`)."""
    if isinstance(valid, Columns):
        return zip(valid.sites, valid.meters, valid.stamps, strict=True)
    return ((record.site_id, record.meter_id, record.ts) for record in valid)


def _records(valid):
    """Checked records as :class:`~.checks.CheckedRecord`, from a list or :class:`Columns`."""
    return valid.records() if isinstance(valid, Columns) else valid


_INDEX, _TS, _AMOUNT, _KEY = (attrgetter(name) for name in ("index", "ts", "amount", "key"))
_METER_PK, _TS_OF_KEY, _KWH = (attrgetter(name) for name in ("meter_pk", "ts", "kwh"))


def _columns(valid):
    """``(indices, stamps, amounts, keys)`` of checked records (a list or :class:`Columns`)."""
    if isinstance(valid, Columns):
        return valid.indices, valid.stamps, valid.amounts, valid.keys
    return tuple(list(map(getter, valid)) for getter in (_INDEX, _TS, _AMOUNT, _KEY))


def _unknown_site(site):
    return f"site {site!r} does not exist and this organization does not create sites automatically"


def _key_reused(key):
    return f"idempotency_key {key!r} already names a reading of another meter or time"


def _conflict(kept, sent, index):
    return (
        f"record {index} of this batch gives {kept:g} kWh for the same meter and time; "
        f"this one gives {sent:g} kWh"
    )


def _stored_conflict(stored, sent):
    return (
        f"{stored:g} kWh is already stored for this meter and time; this record gives "
        f'{sent:g} kWh (send on_conflict "update" to replace it)'
    )
