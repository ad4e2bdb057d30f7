"""Ingestion: store meter readings sent as JSON batches or CSV files.

``ingest_batch`` and ``ingest_csv`` run every chunk of records through one pipeline:

1. check each record (``ingest_checks``: a tight loop, one error per bad record);
2. find the batch's sites and meters in bulk, creating missing ones (``ingest_catalog``);
3. look up the batch's idempotency keys in one query;
4. settle what the batch says about itself (the same reading twice, a key reused);
5. store the readings in bulk with ``ON CONFLICT DO NOTHING``, telling new readings, exact
   duplicates and conflicting values apart (``ingest_store``); then store the idempotency
   keys of the accepted records.

Nothing is committed here: the caller commits once, so a batch (or a whole upload) is
stored entirely or not at all and a retry after a failure is always safe. Ingestion never
touches Redis.
"""

import heapq
import itertools
import logging
import time
from dataclasses import dataclass, field
from operator import itemgetter

from cei.extensions import db
from cei.gcpause import collector_paused
from cei.services import rollups
from cei.services.ingest_catalog import Catalog, infer_intervals
from cei.services.ingest_checks import INVALID_VALUE, MAX_KWH, RecordChecker
from cei.services.ingest_csv import read_chunks
from cei.services.ingest_fast import Columns, check_columns
from cei.services.ingest_store import store_for

log = logging.getLogger("cei.ingest")

MAX_BATCH_RECORDS = 50_000
MAX_ERRORS = 1000
ON_CONFLICT = ("reject", "update")
UNKNOWN_SITE = "UNKNOWN_SITE"
IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
CONFLICTING_VALUE = "CONFLICTING_VALUE"


@dataclass
class BatchResult:
    """What happened to the records of one batch or upload."""

    ingested: int = 0
    updated: int = 0
    skipped_duplicate: int = 0
    failed: int = 0
    errors: list = field(default_factory=list)
    errors_truncated: bool = False
    rows: int | None = None
    duration_ms: float = 0.0

    def as_dict(self):
        """Return the result as the API answers it."""
        body = {
            "ingested": self.ingested,
            "updated": self.updated,
            "skipped_duplicate": self.skipped_duplicate,
            "failed": self.failed,
            "errors": self.errors,
            "errors_truncated": self.errors_truncated,
            "duration_ms": self.duration_ms,
        }
        if self.rows is not None:
            body["rows"] = self.rows
        return body


class ErrorLog:
    """The first ``limit`` errors by record index, whatever order they are found in."""

    def __init__(self, limit=MAX_ERRORS):
        self.limit = limit
        self.heap = []  # (-index, -sequence, entry): the root is the highest index kept
        self.sequence = 0
        self.truncated = False

    def add(self, entry):
        """Keep ``entry`` if it is among the first ``limit`` by index."""
        self.sequence += 1
        item = (-entry["index"], -self.sequence, entry)
        if len(self.heap) < self.limit:
            heapq.heappush(self.heap, item)
            return
        self.truncated = True
        if item > self.heap[0]:
            heapq.heapreplace(self.heap, item)

    def sorted(self):
        """Return the kept entries ordered by index."""
        return [entry for _, _, entry in sorted(self.heap, reverse=True)]


@dataclass
class Plan:
    """What one chunk will write, after the batch has been settled against itself."""

    rows: list = field(default_factory=list)  # (meter_pk, ts, kWh), one per meter and time
    owners: list = field(default_factory=list)  # index of the record that brought each row
    slots: dict = field(default_factory=dict)  # meter_pk -> {ts: position in rows}
    repeats: dict = field(default_factory=dict)  # position -> indices of exact repeats
    keys: list = field(default_factory=list)  # (key, meter_pk, ts, kWh) to store


class Ingestion:
    """One transaction's worth of records, fed in one or more chunks."""

    def __init__(self, organization, on_conflict="reject", from_text=False, now=None):
        connection = db.session.connection()
        self.organization_id = organization.id
        self.update = on_conflict == "update"
        self.checker = RecordChecker(time.time() if now is None else now, from_text=from_text)
        self.catalog = Catalog(connection, organization)
        self.store = store_for(connection)
        self.result = BatchResult()
        self.errors = ErrorLog()
        self.first_index = 0
        self.row_numbers = None
        self.started = time.perf_counter()

    def fail(self, index, code, detail):
        """Count record ``index`` as failed with ``code``."""
        self.result.failed += 1
        entry = {"index": index, "code": code, "detail": detail}
        if self.row_numbers is not None:
            entry["row"] = self.row_numbers[index - self.first_index]
        self.errors.add(entry)

    def add(self, records, first_index=0, row_numbers=None):
        """Run ``records`` (indexed from ``first_index``) through the pipeline."""
        self.first_index, self.row_numbers = first_index, row_numbers
        valid = self.checker.check(records, first_index, self.fail)
        if valid:
            self._process(valid)

    def add_typed(self, records):
        """Run typed records (:mod:`ingest_fast`) through the pipeline, if all are valid.

        Returns False, having stored nothing, when some record needs the per-record checks.
        """
        columns = check_columns(self.checker, records)
        if columns is None:
            return False
        self._process(columns)
        return True

    def _process(self, valid):
        """Resolve, settle and write the checked records (tuples, or :class:`Columns`)."""
        declared = self.checker.declared_intervals
        self.catalog.resolve(
            self.checker.pairs,
            lambda missing: infer_intervals(_tuples(valid), missing, declared),
        )
        groups = self.checker.key_groups
        known_keys = (
            self.store.find_keys(self.organization_id, list(groups.values())) if groups else {}
        )
        self._write(self._settle(valid, known_keys))

    def _settle(self, valid, known_keys):
        """Decide, record by record, what the batch itself and the stored keys say.

        ``known_keys`` maps stored keys to rows ``(key, meter_pk, ts, value, …)``.
        Returns the :class:`Plan` of readings and keys to write.
        """
        plan = self._simple_plan(valid, known_keys)
        if plan is not None:
            return plan
        valid = _tuples(valid)
        fail, update = self.fail, self.update
        meters = self.catalog.meters
        plan = Plan()
        rows, owners, slots, repeats = plan.rows, plan.owners, plan.slots, plan.repeats
        # Keys stored or met earlier in the batch -> (key, meter_pk, ts, kWh, …).
        seen_keys = dict(known_keys)
        new_keys = plan.keys
        duplicates = updated = 0
        last_site = last_meter = found = meter_slots = None
        for index, site, meter, ts, amount, needs_interval, key in valid:
            # Records usually come meter by meter: look the meter up only when it changes.
            if site != last_site or meter != last_meter:
                last_site, last_meter = site, meter
                found = meters.get((site, meter))
                if found is not None:
                    meter_slots = slots.get(found[0])
                    if meter_slots is None:
                        meter_slots = slots[found[0]] = {}
            if found is None:
                fail(index, UNKNOWN_SITE, _unknown_site(site))
                continue
            meter_pk, interval = found
            if needs_interval:
                amount = amount * interval / 60
                if amount > MAX_KWH:
                    fail(index, INVALID_VALUE, f"value is more than {MAX_KWH:g} kWh")
                    continue
            if key is not None:
                known = seen_keys.get(key)
                if known is not None:
                    if known[1] == meter_pk and known[2] == ts and known[3] == amount:
                        duplicates += 1
                    else:
                        fail(index, IDEMPOTENCY_KEY_REUSED, _key_reused(key))
                    continue
            position = meter_slots.get(ts)
            if position is None:
                meter_slots[ts] = len(rows)
                rows.append((meter_pk, ts, amount))
                owners.append(index)
            elif rows[position][2] == amount:
                duplicates += 1
                repeats.setdefault(position, []).append(index)
            elif update:
                rows[position] = (meter_pk, ts, amount)
                updated += 1
            else:
                kept = rows[position][2]
                fail(index, CONFLICTING_VALUE, _conflict(kept, amount, owners[position]))
                continue
            if key is not None:
                entry = seen_keys[key] = (key, meter_pk, ts, amount)
                new_keys.append(entry)
        self.result.skipped_duplicate += duplicates
        self.result.updated += updated
        return plan

    def _simple_plan(self, valid, known_keys):
        """The plan of a common simple case, or None: the one :meth:`_settle` would return.

        The cases: one known meter, no power reading waiting for the meter's interval, and
        either no time and no idempotency key sent twice and none of the keys stored (every
        record becomes a row, in order, with its key if it has one), or a replay: every
        record has a key stored for exactly its reading (every record is a duplicate).
        C-level passes over the records replace the loop.
        """
        checker = self.checker
        if checker.needs_intervals or len(checker.pairs) != 1:
            return None
        found = self.catalog.meters.get(next(iter(checker.pairs)))
        if found is None:
            return None
        meter_pk = found[0]
        owners, stamps, amounts, keys = _columns(valid)
        if checker.key_groups:
            if sum(map(len, checker.key_groups.values())) != len(valid):
                return None  # some records without a key
            known = list(map(known_keys.get, keys)) if known_keys else None
            if known is not None and known.count(None) != len(known):
                sent = zip(keys, itertools.repeat(meter_pk), stamps, amounts, strict=False)
                if known != list(sent):
                    return None  # some keys known, or known for another reading
                self.result.skipped_duplicate += len(valid)
                return Plan(slots={meter_pk: {}})
            if len(set(keys)) != len(keys):
                return None  # a key sent twice: the loop tells repeats and reuses apart
        slots = dict(zip(stamps, range(len(stamps)), strict=True))
        if len(slots) != len(stamps):
            return None  # a time sent twice: the loop tells repeats and conflicts apart
        meter_pks = itertools.repeat(meter_pk)
        keyed = bool(checker.key_groups)
        return Plan(
            rows=list(zip(meter_pks, stamps, amounts, strict=False)),
            owners=owners,
            slots={meter_pk: slots},
            keys=list(zip(keys, meter_pks, stamps, amounts, strict=False)) if keyed else [],
        )

    def _write(self, plan):
        """Store the planned readings, then the keys of those that were accepted."""
        result, rows = self.result, plan.rows
        inserted, replaced, differing = self.store.write_readings(rows, replace=self.update)
        _roll_up(self.store, rows)
        result.ingested += inserted
        result.updated += replaced
        result.skipped_duplicate += len(rows) - inserted - replaced - len(differing)
        new_keys = plan.keys
        for (meter_pk, ts), (stored, sent) in differing.items():
            position = plan.slots[meter_pk][ts]
            detail = _stored_conflict(stored, sent)
            self.fail(plan.owners[position], CONFLICTING_VALUE, detail)
            # Exact repeats of a rejected reading are rejected with it.
            for repeat in plan.repeats.get(position, ()):
                result.skipped_duplicate -= 1
                self.fail(repeat, CONFLICTING_VALUE, detail)
        if differing:
            new_keys = [row for row in new_keys if (row[1], row[2]) not in differing]
        if new_keys:
            self.store.insert_keys(self.organization_id, new_keys)

    def finish(self):
        """Return the result (errors ordered by index, duration measured)."""
        result = self.result
        result.errors = self.errors.sorted()
        result.errors_truncated = self.errors.truncated
        result.duration_ms = round((time.perf_counter() - self.started) * 1000, 1)
        return result


def _roll_up(store, rows):
    """Fold the readings just written into the hourly rollups (same transaction)."""
    if store.changed is None:
        # A concurrent batch stored some of the same rows: rebuild the sites concerned.
        meter_pks = {row[0] for row in rows}
        for site_pk in rollups.load_layouts(store.connection, meter_pks=meter_pks):
            rollups.rebuild_rollups(store.connection, site_pk)
    else:
        rollups.apply_changed_readings(store.connection, store.changed)


def _tuples(valid):
    """Checked records as tuples, whether they come as tuples or as :class:`Columns`."""
    return valid.tuples() if isinstance(valid, Columns) else valid


def _columns(valid):
    """``(indices, stamps, amounts, keys)`` of checked records (tuples or :class:`Columns`)."""
    if isinstance(valid, Columns):
        return valid.indices, valid.stamps, valid.amounts, valid.keys
    return tuple(list(map(itemgetter(field), valid)) for field in (0, 3, 4, 6))


def ingest_batch(organization, records, source=None, on_conflict="reject", token_id=None):
    """Store a JSON batch of readings for ``organization``; return a :class:`BatchResult`."""
    return _ingest_batch(Ingestion.add, organization, records, source, on_conflict, token_id)


def ingest_typed_batch(organization, records, source=None, on_conflict="reject", token_id=None):
    """Like :func:`ingest_batch` for :class:`~ingest_fast.TypedRecord` records.

    Returns None, having stored nothing, when some record needs the per-record checks: then
    the caller runs the batch's plain JSON records through :func:`ingest_batch`.
    """
    return _ingest_batch(Ingestion.add_typed, organization, records, source, on_conflict, token_id)


def _ingest_batch(add, organization, records, source, on_conflict, token_id):
    """Run ``records`` through ``add`` (an :class:`Ingestion` method); None if it declines."""
    with collector_paused():
        ingestion = Ingestion(organization, on_conflict)
        if add(ingestion, records) is False:
            return None
        result = ingestion.finish()
    _log("batch", organization, token_id, source, len(records), result)
    return result


def ingest_csv(
    organization, stream, defaults=None, source=None, on_conflict="reject", token_id=None
):
    """Store the readings of a CSV file read from the binary ``stream``, chunk by chunk.

    ``defaults`` (site_id, meter_id, unit) fill in columns or cells the file lacks. All
    chunks share the caller's transaction, so the file is stored entirely or not at all.
    """
    rows = 0
    with collector_paused():
        ingestion = Ingestion(organization, on_conflict, from_text=True)
        for records, first_index, row_numbers in read_chunks(stream, defaults or {}):
            ingestion.add(records, first_index, row_numbers)
            rows += len(records)
        result = ingestion.finish()
    result.rows = rows
    _log("upload", organization, token_id, source, rows, result)
    return result


def _log(kind, organization, token_id, source, total, result):
    fields = {
        "org_id": organization.id,
        "token_id": token_id,
        "source": source,
        "total_records": total,
        "ingested": result.ingested,
        "updated": result.updated,
        "skipped_duplicate": result.skipped_duplicate,
        "failed": result.failed,
        "duration_ms": result.duration_ms,
    }
    # key=value for people and grep; the same fields as ``extra`` for JSON log handlers.
    # ``source`` comes from the client: repr() keeps it on one line.
    log.info(
        "ingest %s org_id=%s token_id=%s source=%r total_records=%d ingested=%d updated=%d "
        "skipped_duplicate=%d failed=%d duration_ms=%.1f",
        kind,
        *fields.values(),
        extra={"ingest": dict(fields, kind=kind)},
    )


def _unknown_site(site):
    return f"site {site!r} does not exist and this organization does not create sites automatically"


def _key_reused(key):
    return f"idempotency_key {key!r} was already used for a different reading"


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
