"""Reports: the 7-day table per site with CSV export, and the PDF/CSV reports (generate,
status, download); an upgrade notice when the plan lacks reports."""

from flask import Response, abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from wtforms import SelectChoice

from cei.blueprints.web.access import organization
from cei.blueprints.web.blueprint import bp
from cei.blueprints.web.forms import ReportForm
from cei.extensions import db
from cei.services import dashboard
from cei.services import sites as site_service
from cei.services.errors import NotFound, ServiceError
from cei.services.reports import jobs as report_jobs
from cei.services.reports.naming import file_name
from cei.tasks import reports as report_tasks

PORTFOLIO = SelectChoice("", "Whole portfolio")
REPORT_STATUS_LABELS = {
    "queued": "Waiting to start…",
    "running": "Being made…",
    "succeeded": "Ready",
    "failed": "Failed",
}


def _report_form(org):
    form = ReportForm()
    form.site_id.choices = [PORTFOLIO] + [
        SelectChoice(site.site_id, f"{site.name} ({site.site_id})")
        for site in site_service.list_sites(org)
    ]
    return form


def _baseline_total(rows):
    """The sites' 7-day baselines added up (None when no site has one yet)."""
    values = [row["baseline_kwh_7d"] for row in rows if row["baseline_kwh_7d"] is not None]
    return sum(values) if values else None


@bp.route("/reports")
@login_required
def reports():
    """The 7-day table per site and the generated reports, unless the plan lacks them."""
    org = organization()
    rows = documents = []
    form = portfolio = None
    if org.enable_reports:
        portfolio = dashboard.load_portfolio(org, with_chart=False)
        rows = dashboard.tabulate_week(portfolio)
        documents = dashboard.list_report_documents(org)
        form = _report_form(org)
    pending = any(document.status in report_jobs.PENDING for document in documents)
    return render_template(
        "web/reports.html",
        organization=org,
        portfolio=portfolio,
        rows=rows,
        site_names={row["site_id"]: row["site_name"] for row in rows},
        baseline_total=_baseline_total(rows),
        documents=documents,
        form=form,
        pending=pending,
        file_name=file_name,
        status_labels=REPORT_STATUS_LABELS,
    )


@bp.route("/reports/generate", methods=["POST"])
@login_required
def generate_report():
    """Queue a 7-day report of a site or of the portfolio, then back to the reports page."""
    org = organization()
    if not org.enable_reports:
        abort(403)
    form = _report_form(org)
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(error, "error")
        return redirect(url_for("web.reports"))
    try:
        report = report_jobs.request_report(
            org,
            site_id=form.site_id.data or None,
            period_end=form.period_end.data,
            user=current_user,
        )
        db.session.commit()
    except ServiceError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("web.reports"))
    report_tasks.hand_over(current_app._get_current_object(), [report.id])
    subject = "the whole portfolio"
    if report.site_id:
        subject = next(
            (choice.label for choice in form.site_id.choices if choice.value == report.site_id),
            report.site_id,
        )
    flash(
        f"Report of {subject} for {report.period_first:%d %b} – {report.period_last:%d %b %Y} "
        "is being made: it appears below in a few seconds.",
        "success",
    )
    return redirect(url_for("web.reports"))


@bp.route("/reports/<int:report_id>/<any(pdf, csv):kind>")
@login_required
def download_report(report_id, kind):
    """Download a generated report as PDF or CSV."""
    org = organization()
    if not org.enable_reports:
        abort(403)
    try:
        report = report_jobs.get_report(org, report_id)
        content, media_type = report_jobs.report_file(report, kind)
    except NotFound:
        abort(404)
    except ServiceError:
        abort(409)
    response = Response(content, mimetype=media_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{file_name(report, kind)}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/reports/weekly.csv")
@login_required
def weekly_csv():
    """Download the 7-day table as CSV."""
    org = organization()
    if not org.enable_reports:
        abort(403)
    rows = dashboard.tabulate_week(dashboard.load_portfolio(org, with_chart=False))
    return Response(
        dashboard.render_weekly_csv(rows),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="cei-7-days.csv"'},
    )
