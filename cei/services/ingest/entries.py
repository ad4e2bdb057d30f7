"""One service entry per input: a JSON batch body, Python records, a CSV file.

Each entry checks the request itself (a ``ServiceError`` the edge turns into a 4xx), runs
the records through one :class:`~.pipeline.Ingestion`, logs one line and returns the
:class:`~.results.BatchResult`. Nothing is committed: the caller commits once.
"""

import logging

from cei.gcpause import collector_paused
from cei.jsonio import loads
from cei.services.errors import ServiceError
from cei.services.identifiers import identifier_problem
from cei.services.ingest.checks import on_conflict_problem, source_problem
from cei.services.ingest.columns import decode_batch
from cei.services.ingest.csv_files import read_chunks
from cei.services.ingest.limits import MAX_BATCH_RECORDS
from cei.services.ingest.pipeline import Ingestion
from cei.services.ingest.units import UNIT_LIST, find_unit

log = logging.getLogger("cei.ingest")


def invalid_request(message, field, problem=None):
    """The error for a request whose own fields (not its records) break a rule."""
    return ServiceError(
        message, code="VALIDATION_ERROR", status=422, detail={field: [problem or message]}
    )


def ingest_json(organization, raw_body, token_id=None, shortcuts=True, now=None):
    """Store the readings of the JSON batch body ``raw_body`` (bytes) for ``organization``.

    A well-formed batch is decoded straight into typed records and checked column by column
    (:mod:`.columns`); any other body is parsed as plain JSON and checked record by record.
    ``shortcuts=False`` always takes the second path.
    """
    with collector_paused():
        typed = decode_batch(raw_body) if shortcuts else None
        if typed is not None:
            source, on_conflict = _request_fields(typed.records, typed.source, typed.on_conflict)
            ingestion = Ingestion(organization, on_conflict, now=now)
            if ingestion.add_typed(typed.records):
                return _finish(
                    "batch", ingestion, organization, token_id, source, len(typed.records)
                )
        body = _parse(raw_body)
    records = body.get("records") if isinstance(body, dict) else None
    if not isinstance(records, list):
        raise invalid_request(
            "The body must be an object with a `records` list", "records", "Missing or not a list."
        )
    return ingest_batch(
        organization,
        records,
        source=body.get("source"),
        on_conflict=body.get("on_conflict"),
        token_id=token_id,
        shortcuts=shortcuts,
        now=now,
    )


def ingest_batch(
    organization,
    records,
    source=None,
    on_conflict=None,
    token_id=None,
    shortcuts=True,
    now=None,
):
    """Store ``records`` (decoded JSON objects) for ``organization``, checked one by one."""
    source, on_conflict = _request_fields(records, source, on_conflict)
    with collector_paused():
        ingestion = Ingestion(organization, on_conflict, now=now, shortcuts=shortcuts)
        ingestion.add(records)
        return _finish("batch", ingestion, organization, token_id, source, len(records))


def ingest_csv(
    organization,
    stream,
    defaults=None,
    source=None,
    on_conflict=None,
    token_id=None,
    shortcuts=True,
    now=None,
):
    """Store the readings of a CSV file read from the binary ``stream``, chunk by chunk.

    ``defaults`` (site_id, meter_id, unit; form fields) fill in columns or cells the file
    lacks. All chunks share the caller's transaction: the file is stored entirely or not at
    all.
    """
    defaults = _upload_defaults(defaults or {})
    source, on_conflict = _request_fields([], source, on_conflict)
    ingestion = Ingestion(organization, on_conflict, from_text=True, now=now, shortcuts=shortcuts)
    rows = 0
    for records, first_index, row_numbers in read_chunks(stream, defaults):
        # Paused chunk by chunk, not for the whole file: other threads' cycles are
        # collected between two chunks.
        with collector_paused():
            ingestion.add(records, first_index, row_numbers)
        rows += len(records)
    result = _finish("upload", ingestion, organization, token_id, source, rows)
    result.rows = rows
    return result


def _parse(raw_body):
    """The JSON document in ``raw_body`` (None when blank), or a 400 ``MALFORMED_JSON``."""
    if not raw_body.strip():
        return None
    try:
        return loads(raw_body)
    except ValueError as exc:  # UnicodeDecodeError included
        raise ServiceError(
            "Request body is not valid JSON",
            code="MALFORMED_JSON",
            status=400,
            detail=str(exc)[:200],
        ) from None


def _request_fields(records, source, on_conflict):
    """Check the request's own fields; return ``(source, on_conflict)`` with defaults."""
    if len(records) > MAX_BATCH_RECORDS:
        # Checked before anything is read or written: nothing of the batch is stored.
        raise ServiceError(
            f"A batch holds at most {MAX_BATCH_RECORDS:,} records; split it",
            code="BATCH_TOO_LARGE",
            status=413,
            detail={"max_records": MAX_BATCH_RECORDS, "records": len(records)},
        )
    problem = source_problem(source)
    if problem:
        raise invalid_request(problem, "source")
    problem = on_conflict_problem(on_conflict)
    if problem:
        raise invalid_request(problem, "on_conflict", 'Must be one of: "reject", "update".')
    return source or None, on_conflict or "reject"


def _upload_defaults(form):
    """The upload form's site_id, meter_id and unit, checked; others are dropped."""
    defaults = {}
    problems = {}
    for name in ("site_id", "meter_id"):
        value = form.get(name)
        if value:
            problem = identifier_problem(value, name)
            if problem:
                problems[name] = [problem]
            defaults[name] = value
    unit = form.get("unit")
    if unit:
        if find_unit(unit) is None:
            problems["unit"] = [f"Must be one of {UNIT_LIST}."]
        defaults["unit"] = unit
    if problems:
        raise ServiceError(
            "Invalid form fields", code="VALIDATION_ERROR", status=422, detail=problems
        )
    return defaults


def _finish(kind, ingestion, organization, token_id, source, total):
    result = ingestion.finish()
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
    return result
