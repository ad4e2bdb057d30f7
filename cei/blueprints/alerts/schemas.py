"""Schemas of the alerts endpoints."""

import marshmallow as ma
from marshmallow import validate
from webargs.fields import DelimitedList

from cei.blueprints.readings.schemas import QueryDateTime
from cei.plugins.base import SEVERITIES
from cei.services.analytics.alerts import ALERT_STATUSES, MAX_NOTE_LENGTH
from cei.services.sites import MAX_ID_LENGTH


class AlertNoteSchema(ma.Schema):
    """A note on an alert."""

    id = ma.fields.Integer()
    text = ma.fields.String()
    user_id = ma.fields.Integer(allow_none=True, metadata={"description": "null: the analysis"})
    user_email = ma.fields.Function(lambda note: note.user.email if note.user else None)
    status_change = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()


class AlertSchema(ma.Schema):
    """An alert: what was found, where, when, what it cost, and who handled it."""

    id = ma.fields.Integer()
    site_id = ma.fields.Function(lambda alert: alert.site.site_id)
    meter_id = ma.fields.String(allow_none=True)
    kind = ma.fields.String(metadata={"example": "spike"})
    severity = ma.fields.String(metadata={"enum": list(SEVERITIES)})
    status = ma.fields.String(metadata={"enum": list(ALERT_STATUSES)})
    period_start = ma.fields.DateTime()
    period_end = ma.fields.DateTime(metadata={"description": "Exclusive"})
    kwh_impact = ma.fields.Float(metadata={"description": "kWh above (or below) expectation"})
    cost_impact = ma.fields.Float(metadata={"description": "kwh_impact × tariff"})
    currency = ma.fields.String()
    co2e_kg_impact = ma.fields.Float(metadata={"description": "kwh_impact × emission factor"})
    message = ma.fields.String()
    details = ma.fields.Dict()
    first_seen_at = ma.fields.DateTime()
    last_seen_at = ma.fields.DateTime()
    occurrences = ma.fields.Integer(metadata={"description": "Analyses that found it"})
    reopened = ma.fields.Integer(metadata={"description": "Times the analysis re-opened it"})
    acknowledged_at = ma.fields.DateTime(allow_none=True)
    acknowledged_by_id = ma.fields.Integer(allow_none=True)
    resolved_at = ma.fields.DateTime(allow_none=True)
    resolved_by_id = ma.fields.Integer(allow_none=True)
    muted_at = ma.fields.DateTime(allow_none=True)
    muted_by_id = ma.fields.Integer(allow_none=True)
    notes = ma.fields.List(ma.fields.Nested(AlertNoteSchema))


class AlertListArgsSchema(ma.Schema):
    """Filters and paging of the alerts list."""

    status = DelimitedList(
        ma.fields.String(validate=validate.OneOf(ALERT_STATUSES)),
        metadata={"description": "Comma-separated, e.g. open,ack"},
    )
    severity = DelimitedList(ma.fields.String(validate=validate.OneOf(SEVERITIES)))
    kind = DelimitedList(
        # No comma in a kind: the list is sent comma-separated.
        ma.fields.String(validate=validate.Length(min=1, max=64), metadata={"pattern": "^[^,]*$"}),
        metadata={"description": "Comma-separated alert kinds, e.g. spike,night_waste"},
    )
    site_id = ma.fields.String(validate=validate.Length(min=1, max=MAX_ID_LENGTH))
    start = QueryDateTime(
        metadata={"description": "Alerts whose period ends after this (ISO 8601; no offset = UTC)"}
    )
    end = QueryDateTime(metadata={"description": "Alerts whose period starts before this"})
    limit = ma.fields.Integer(load_default=100, validate=validate.Range(1, 500))
    offset = ma.fields.Integer(load_default=0, validate=validate.Range(0, 10_000_000))

    @ma.validates_schema
    def ordered(self, data, **kwargs):
        """Require end after start when both are given."""
        if data.get("start") and data.get("end") and data["end"] <= data["start"]:
            raise ma.ValidationError("end must be after start", "end")


class AlertListSchema(ma.Schema):
    """A page of alerts, newest period first."""

    total = ma.fields.Integer()
    limit = ma.fields.Integer()
    offset = ma.fields.Integer()
    items = ma.fields.List(ma.fields.Nested(AlertSchema))


class AlertUpdateSchema(ma.Schema):
    """A status change and/or a note."""

    status = ma.fields.String(
        validate=validate.OneOf(ALERT_STATUSES),
        metadata={
            "description": "open → ack → resolved; any → muted; resolved/muted → open (re-open)"
        },
    )
    note = ma.fields.String(validate=validate.Length(max=MAX_NOTE_LENGTH))

    @ma.validates_schema
    def something(self, data, **kwargs):
        """Require a status or a note."""
        if not data.get("status") and not (data.get("note") or "").strip():
            raise ma.ValidationError("Send a status, a note, or both", "status")
