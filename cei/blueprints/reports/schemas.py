"""Schemas of the reports endpoints."""

import marshmallow as ma
from marshmallow import validate

from cei.services.reports.naming import file_name
from cei.services.sites import MAX_ID_LENGTH


class ReportRequestSchema(ma.Schema):
    """What report to generate."""

    site_id = ma.fields.String(
        allow_none=True,
        validate=validate.Length(min=1, max=MAX_ID_LENGTH),
        metadata={"description": "The site; without it (or null), the whole portfolio"},
    )
    period_end = ma.fields.Date(
        allow_none=True,
        metadata={
            "description": "Last day of the 7 days (ISO date, inclusive); default yesterday "
            "in the site's timezone (for the portfolio: the last day that has ended in the "
            "organization's timezone and at every site)"
        },
    )


class ReportSummarySchema(ma.Schema):
    """Headline figures of a generated report."""

    kwh = ma.fields.Float(allow_none=True)
    cost = ma.fields.Float(allow_none=True)
    currency = ma.fields.String()
    baseline_kwh = ma.fields.Float(allow_none=True)
    deviation_pct = ma.fields.Float(allow_none=True)
    coverage_pct = ma.fields.Float(allow_none=True)
    sites = ma.fields.Integer()


class ReportSchema(ma.Schema):
    """A report: what it covers, how its generation went, where its files are."""

    id = ma.fields.Integer()
    kind = ma.fields.String(metadata={"description": "site or portfolio"})
    site_id = ma.fields.String(allow_none=True, metadata={"description": "null = portfolio"})
    period_start = ma.fields.Date(attribute="period_first")
    period_end = ma.fields.Date(attribute="period_last")
    timezone = ma.fields.String(
        metadata={"description": "Timezone of the period's days (each site uses its own)"}
    )
    trigger = ma.fields.String(metadata={"description": "manual or scheduled (weekly)"})
    status = ma.fields.String(metadata={"description": "queued, running, succeeded or failed"})
    error = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()
    started_at = ma.fields.DateTime(allow_none=True)
    finished_at = ma.fields.DateTime(allow_none=True)
    duration_ms = ma.fields.Float(allow_none=True)
    summary = ma.fields.Nested(ReportSummarySchema, allow_none=True)
    pdf_size = ma.fields.Integer(allow_none=True, metadata={"description": "Bytes"})
    csv_size = ma.fields.Integer(allow_none=True, metadata={"description": "Bytes"})
    pdf_url = ma.fields.Method("_pdf_url", metadata={"description": "null until succeeded"})
    csv_url = ma.fields.Method("_csv_url", metadata={"description": "null until succeeded"})
    pdf_filename = ma.fields.Method("_pdf_filename")
    csv_filename = ma.fields.Method("_csv_filename")

    def _url(self, report, extension):
        if report.status != "succeeded":
            return None
        return f"/api/v1/reports/{report.id}/{extension}"

    def _pdf_url(self, report):
        return self._url(report, "pdf")

    def _csv_url(self, report):
        return self._url(report, "csv")

    def _pdf_filename(self, report):
        return file_name(report, "pdf")

    def _csv_filename(self, report):
        return file_name(report, "csv")
