"""7-day reports: ``/api/v1/reports``.

A report covers the 7 site-local days ending on ``period_end`` for one site or the whole
portfolio. Asking for one queues a job (202); the report's row tells how it went, and once
it has succeeded its PDF and CSV can be downloaded. Reports are part of the plan
(``enable_reports``): without it every endpoint answers 403 ``PLAN_FEATURE_DISABLED``.
"""

import functools

from flask import Response, current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from cei.api import api_abort
from cei.blueprints.errors import service_errors
from cei.blueprints.reports.schemas import ReportRequestSchema, ReportSchema
from cei.extensions import db
from cei.security import authenticated, current_organization, current_principal
from cei.services.errors import ServiceError
from cei.services.reports import jobs
from cei.services.reports.naming import file_name
from cei.tasks import reports as report_tasks

blp = Blueprint(
    "reports",
    __name__,
    url_prefix="/api/v1/reports",
    description="7-day reports (PDF and CSV) per site and for the portfolio",
)


def reports_enabled(view):
    """Answer 403 ``PLAN_FEATURE_DISABLED`` unless the caller's plan includes reports."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        with service_errors():
            jobs.check_enabled(current_organization())
        return view(*args, **kwargs)

    return wrapper


def _report(report_id):
    with service_errors():
        return jobs.get_report(current_organization(), report_id)


@blp.route("")
class Reports(MethodView):
    @blp.response(200, ReportSchema(many=True))
    @authenticated(scope="read")
    @reports_enabled
    def get(self):
        """List the organization's reports, newest first, with their status

        ---
        At most the 200 newest. Files are downloaded from `pdf_url` / `csv_url` once a report
        has succeeded.
        """
        return jobs.list_reports(current_organization())

    @blp.response(202, ReportSchema)
    @authenticated(scope="read")
    @reports_enabled
    @blp.arguments(ReportRequestSchema, required=False)
    def post(self, data):
        """Generate a 7-day report of a site or of the portfolio

        ---
        Answers 202 with the queued report; poll `GET /api/v1/reports/<id>` until its status
        is `succeeded` (or `failed`). `period_end` (the last of the 7 days, inclusive) defaults
        to yesterday in the site's timezone and must be a day that has ended there (422
        `INVALID_PERIOD`); for the portfolio, in the organization's timezone and at every site
        (each site's part covers its own local days). An unknown `site_id` answers 404.
        At most 10 reports of an organization wait or run at once (429
        `TOO_MANY_PENDING_REPORTS`, with `Retry-After`).
        """
        principal = current_principal()
        try:
            report = jobs.request_report(
                current_organization(),
                site_id=data.get("site_id"),
                period_end=data.get("period_end"),
                user=principal.user,
            )
        except jobs.TooManyPending as exc:
            api_abort(429, exc.code, exc.message, exc.detail, headers={"Retry-After": "30"})
        except ServiceError as exc:
            api_abort(exc.status, exc.code, exc.message, detail=exc.detail)
        db.session.commit()
        report_tasks.hand_over(current_app._get_current_object(), [report.id])
        db.session.refresh(report)
        return report


@blp.route("/<int:report_id>")
class ReportById(MethodView):
    @blp.response(200, ReportSchema)
    @authenticated(scope="read")
    @reports_enabled
    def get(self, report_id):
        """Show a report and how its generation went"""
        return _report(report_id)


def _download(report_id, kind):
    report = _report(report_id)
    with service_errors():
        content, media_type = jobs.report_file(report, kind)
    response = Response(content, mimetype=media_type)
    if kind == "csv":
        response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{file_name(report, kind)}"'
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@blp.route("/<int:report_id>/pdf")
class ReportPdf(MethodView):
    @blp.response(
        200,
        {"type": "string", "format": "binary"},
        content_type="application/pdf",
        description="The report as PDF (A4)",
    )
    @authenticated(scope="read")
    @reports_enabled
    def get(self, report_id):
        """Download a report as PDF

        ---
        409 `REPORT_NOT_READY` while the report is queued or running, or if it failed.
        """
        return _download(report_id, "pdf")


@blp.route("/<int:report_id>/csv")
class ReportCsv(MethodView):
    @blp.response(
        200,
        {"type": "string"},
        content_type="text/csv",
        description="The daily table of every site, then the alerts of the period",
    )
    @authenticated(scope="read")
    @reports_enabled
    def get(self, report_id):
        """Download a report's figures as CSV

        ---
        Two blocks, each with a header row: `section=day` rows (one per site and local day:
        kWh, baseline, deviation, cost, CO2e, peak hour) and `section=alert` rows. Text cells
        that a spreadsheet would run as a formula are prefixed with `'`.
        409 `REPORT_NOT_READY` until the report has succeeded.
        """
        return _download(report_id, "csv")
