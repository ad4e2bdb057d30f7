"""Schemas of the ingestion endpoints.

They document the API in OpenAPI and shape the responses; records are *not* loaded through
them (DESIGN §4 measured marshmallow at ten times the cost of the hand-written checks in
``cei.services.ingest.checks``). Units, codes and limits come from the service's tables.
"""

import marshmallow as ma
from marshmallow import validate

from cei.blueprints.fields import external_id
from cei.services.ingest.checks import TEXT_PATTERN
from cei.services.ingest.codes import describe_codes
from cei.services.ingest.limits import (
    MAX_BATCH_RECORDS,
    MAX_ERRORS,
    MAX_INTERVAL_MINUTES,
    MAX_KEY_LENGTH,
    MAX_SOURCE_LENGTH,
    ON_CONFLICT,
)
from cei.services.ingest.units import UNIT_LIST, UNIT_NAMES

ON_CONFLICT_DOC = (
    '"reject" (default): a value that differs from the stored one for the same meter and '
    'time fails with CONFLICTING_VALUE; "update": it replaces the stored value and counts '
    "in `updated`."
)


class BatchRecordSchema(ma.Schema):
    """One meter reading (other fields are ignored)."""

    class Meta:
        # Documents ``additionalProperties: true``: the checks ignore fields they do not know.
        unknown = ma.INCLUDE

    site_id = external_id(
        "The factory's site key; the site is created on first use unless the organization "
        "turned that off",
        required=True,
        metadata={"example": "site-22"},
    )
    meter_id = external_id(
        "Meter key, unique within the site", required=True, metadata={"example": "main-meter"}
    )
    timestamp_utc = ma.fields.String(
        required=True,
        metadata={
            "description": "Start of the interval, RFC 3339 with `Z` or an offset; without "
            "one it is UTC. At most 5 minutes in the future.",
            "example": "2026-01-15T13:00:00Z",
        },
    )
    value = ma.fields.Float(
        required=True,
        metadata={
            "description": "Energy in the interval, or average power over it (see `unit`); "
            "a JSON number, not negative",
            "example": 42.5,
        },
    )
    unit = ma.fields.String(
        load_default="kWh",
        metadata={
            "description": f"Case-insensitive: {UNIT_LIST}. Power units are multiplied "
            "by the interval. Stored as kWh.",
            "enum": list(UNIT_NAMES),
        },
    )
    idempotency_key = ma.fields.String(
        allow_none=True,
        validate=validate.Length(max=MAX_KEY_LENGTH),
        metadata={
            "description": "Optional; names this reading forever within the organization. "
            "Blank means absent. No control characters.",
            "example": "factory-site-22-main-meter-20260115T130000Z",
            "pattern": TEXT_PATTERN,
        },
    )
    interval_minutes = ma.fields.Integer(
        validate=validate.Range(min=1, max=MAX_INTERVAL_MINUTES),
        metadata={"description": "Interval length; default: the meter's (60 for a new meter)"},
    )


class BatchRequestSchema(ma.Schema):
    """A batch of readings (other fields are ignored)."""

    class Meta:
        unknown = ma.INCLUDE

    records = ma.fields.List(
        ma.fields.Nested(BatchRecordSchema),
        required=True,
        validate=validate.Length(max=MAX_BATCH_RECORDS),
        metadata={"description": f"At most {MAX_BATCH_RECORDS:,} records"},
    )
    source = ma.fields.String(
        validate=validate.Length(max=MAX_SOURCE_LENGTH),
        metadata={
            "description": "Free text naming the sender, for logs (no control characters)",
            "example": "factory-scada-line1",
            "pattern": TEXT_PATTERN,
        },
    )
    on_conflict = ma.fields.String(
        load_default="reject",
        validate=validate.OneOf(ON_CONFLICT),
        metadata={"description": ON_CONFLICT_DOC},
    )


class BatchErrorSchema(ma.Schema):
    """Why one record was not stored."""

    index = ma.fields.Integer(
        required=True, metadata={"description": "0-based position of the record"}
    )
    code = ma.fields.String(
        required=True,
        metadata={"description": "Why the record was not stored:\n\n" + describe_codes()},
    )
    detail = ma.fields.String(required=True)


class UploadErrorSchema(BatchErrorSchema):
    """Why one CSV row was not stored."""

    row = ma.fields.Integer(
        required=True,
        metadata={
            "description": "Line of the file (the header is row 1, the first data row is row 2)"
        },
    )


class BatchResultSchema(ma.Schema):
    """What happened to the records."""

    ingested = ma.fields.Integer(required=True, metadata={"description": "New readings stored"})
    updated = ma.fields.Integer(
        required=True, metadata={"description": 'Stored values replaced (on_conflict "update")'}
    )
    skipped_duplicate = ma.fields.Integer(
        required=True,
        metadata={"description": "Exact re-sends of stored readings (or repeats in the batch)"},
    )
    failed = ma.fields.Integer(required=True, metadata={"description": "Records rejected"})
    errors = ma.fields.List(
        ma.fields.Nested(BatchErrorSchema),
        required=True,
        metadata={
            "description": f"One entry per rejected record, by index; at most {MAX_ERRORS:,}"
        },
    )
    errors_truncated = ma.fields.Boolean(
        required=True, metadata={"description": "More records failed than `errors` lists"}
    )
    request_id = ma.fields.String(required=True)
    duration_ms = ma.fields.Float(required=True)


class UploadResultSchema(BatchResultSchema):
    """What happened to the rows of a CSV file."""

    rows = ma.fields.Integer(required=True, metadata={"description": "Data rows read"})
    errors = ma.fields.List(ma.fields.Nested(UploadErrorSchema), required=True)


class UploadFormSchema(ma.Schema):
    """A CSV file of readings and defaults for what it leaves out."""

    file = ma.fields.Raw(
        required=True,
        metadata={
            "type": "string",
            "format": "binary",
            "description": "UTF-8 CSV with a header row: timestamp_utc (or timestamp, ts, "
            "time), value (or kwh), site_id (or site), meter_id (or meter), and optionally "
            "unit, idempotency_key, interval_minutes. Comma, semicolon or tab separated.",
        },
    )
    site_id = external_id("For rows without a site")
    meter_id = external_id("For rows without a meter")
    unit = ma.fields.String(
        metadata={
            "description": f"For rows without a unit ({UNIT_LIST}; case-insensitive)",
            "enum": list(UNIT_NAMES),
        }
    )
    on_conflict = ma.fields.String(
        load_default="reject",
        validate=validate.OneOf(ON_CONFLICT),
        metadata={"description": ON_CONFLICT_DOC},
    )
    source = ma.fields.String(
        validate=validate.Length(max=MAX_SOURCE_LENGTH),
        metadata={
            "description": "Default: the file name (no control characters)",
            "pattern": TEXT_PATTERN,
        },
    )
