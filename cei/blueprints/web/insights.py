"""Alerts and reports: filters, the 7-day table, and an upgrade notice when the plan lacks them."""

from flask import Response, abort, render_template, request
from flask_login import login_required
from wtforms import Form, SelectChoice, SelectField

from cei.blueprints.web.access import organization
from cei.blueprints.web.blueprint import bp
from cei.services import dashboard
from cei.services import sites as site_service

ANY = SelectChoice("", "Any")
# The analytics engine's vocabulary; the lead aligns these with its alert kinds at merge.
ALERT_STATUSES = [
    SelectChoice("open", "Open"),
    SelectChoice("acknowledged", "Acknowledged"),
    SelectChoice("resolved", "Resolved"),
    SelectChoice("muted", "Muted"),
    ANY,
]
ALERT_SEVERITIES = [
    ANY,
    SelectChoice("critical", "Critical"),
    SelectChoice("high", "High"),
    SelectChoice("medium", "Medium"),
    SelectChoice("low", "Low"),
]
ALERT_KINDS = [
    ANY,
    SelectChoice("baseline_deviation", "Deviation from baseline"),
    SelectChoice("spike", "Spike"),
    SelectChoice("level_shift", "Level shift"),
    SelectChoice("night_waste", "Night waste"),
    SelectChoice("weekend_waste", "Weekend waste"),
    SelectChoice("silent_meter", "Silent meter"),
]
PERIODS = [SelectChoice("24", "Last 24 hours"), SelectChoice("168", "Last 7 days")]


class AlertFilters(Form):
    """The alerts page's filters (a GET form: it changes nothing, so it has no CSRF token)."""

    status = SelectField("Status", choices=ALERT_STATUSES, default="open")
    severity = SelectField("Severity", choices=ALERT_SEVERITIES, default="")
    kind = SelectField("Kind", choices=ALERT_KINDS, default="")
    site = SelectField("Site", default="")
    period = SelectField("Period", choices=PERIODS, default="168")


def _filters():
    org = organization()
    form = AlertFilters(request.args)
    form.site.choices = [ANY] + [
        SelectChoice(s.site_id, s.name) for s in site_service.list_sites(org)
    ]
    # An unknown value in the address falls back to the default instead of failing.
    for field in form:
        if field.data not in {choice.value for choice in field.choices}:
            field.data = field.default
    return form


@bp.route("/alerts")
@login_required
def alerts():
    """Alerts with filters (status, severity, kind, site, period), unless the plan lacks them."""
    org = organization()
    form = _filters()
    items = []
    if org.enable_alerts:
        items = dashboard.list_alerts(
            org,
            status=form.status.data or None,
            severity=form.severity.data or None,
            kind=form.kind.data or None,
            site_id=form.site.data or None,
            hours=int(form.period.data),
        )
    return render_template("web/alerts.html", organization=org, form=form, alerts=items)


@bp.route("/reports")
@login_required
def reports():
    """The 7-day table per site and the generated reports; hidden when the plan lacks them."""
    org = organization()
    rows = documents = []
    if org.enable_reports:
        rows = dashboard.tabulate_week(dashboard.load_portfolio(org, with_chart=False))
        documents = dashboard.list_report_documents(org)
    return render_template("web/reports.html", organization=org, rows=rows, documents=documents)


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
