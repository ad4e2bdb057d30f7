"""Alerts: filters, each alert's impact and actions (acknowledge, resolve, mute, re-open,
note), CSV export; an upgrade notice when the plan lacks alerts."""

from flask import Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from wtforms import Form, SelectChoice, SelectField

from cei.blueprints.web.access import organization
from cei.blueprints.web.blueprint import bp
from cei.blueprints.web.forms import AlertActionForm
from cei.extensions import db
from cei.plugins.base import SEVERITIES
from cei.services import dashboard
from cei.services import sites as site_service
from cei.services.errors import NotFound, ServiceError

ANY = SelectChoice("", "Any")
PERIODS = [SelectChoice("24", "Last 24 hours"), SelectChoice("168", "Last 7 days")]


class AlertFilters(Form):
    """The alerts page's filters (a GET form: it changes nothing, so it has no CSRF token)."""

    status = SelectField(
        "Status",
        choices=[
            SelectChoice(value, label) for value, label in dashboard.ALERT_STATUS_LABELS.items()
        ]
        + [ANY],
        default="open",
    )
    severity = SelectField(
        "Severity",
        choices=[ANY] + [SelectChoice(value, value.capitalize()) for value in reversed(SEVERITIES)],
        default="",
    )
    kind = SelectField(
        "Kind",
        choices=[ANY]
        + [SelectChoice(value, label) for value, label in dashboard.ALERT_KINDS.items()],
        default="",
    )
    site = SelectField("Site", default="")
    period = SelectField("Period", choices=PERIODS, default="168")


def _filters(org):
    form = AlertFilters(request.args)
    form.site.choices = [ANY] + [
        SelectChoice(site.site_id, site.name) for site in site_service.list_sites(org)
    ]
    # An unknown value in the address falls back to the default instead of failing.
    for field in form:
        if field.data not in {choice.value for choice in field.choices}:
            field.data = field.default
    return form


def _alerts(org, form):
    return dashboard.list_alerts(
        org,
        status=form.status.data or None,
        severity=form.severity.data or None,
        kind=form.kind.data or None,
        site_id=form.site.data or None,
        hours=int(form.period.data),
    )


@bp.route("/alerts")
@login_required
def alerts():
    """Alerts with filters (status, severity, kind, site, period), unless the plan lacks them."""
    org = organization()
    form = _filters(org)
    items = _alerts(org, form) if org.enable_alerts else []
    return render_template(
        "web/alerts.html",
        organization=org,
        form=form,
        alerts=items,
        action_form=AlertActionForm(formdata=None),
        actions=dashboard.ALERT_ACTIONS,
        kinds=dashboard.ALERT_KINDS,
        status_labels=dashboard.ALERT_STATUS_LABELS,
    )


@bp.route("/alerts.csv")
@login_required
def alerts_csv():
    """Download the alerts the filters select, as CSV."""
    org = organization()
    if not org.enable_alerts:
        abort(403)
    return Response(
        dashboard.render_alerts_csv(_alerts(org, _filters(org))),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="cei-alerts.csv"'},
    )


@bp.route("/alerts/<int:alert_id>/chart.json")
@login_required
def alert_chart(alert_id):
    """The hours around an alert (actual and baseline kWh), for the chart under it."""
    org = organization()
    if not org.enable_alerts:
        abort(403)
    try:
        chart = dashboard.alert_chart(org, alert_id)
    except NotFound:
        abort(404)
    response = jsonify(chart)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _back_to_list():
    target = request.form.get("next") or ""
    if not target.startswith("/alerts") or target.startswith("//"):
        target = url_for("web.alerts")
    return redirect(target, code=303)


@bp.route("/alerts/<int:alert_id>", methods=["POST"])
@login_required
def change_alert(alert_id):
    """Acknowledge, resolve, mute or re-open an alert, or add a note to it."""
    org = organization()
    if not org.enable_alerts:
        abort(403)
    form = AlertActionForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(error, "error")
        return _back_to_list()
    try:
        dashboard.change_alert(
            org, alert_id, current_user, status=form.status.data or None, note=form.note.data
        )
        db.session.commit()
    except NotFound:
        abort(404)
    except ServiceError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return _back_to_list()
    label = dashboard.ALERT_STATUS_LABELS.get(form.status.data)
    flash(f"Alert {'marked ' + label.lower() if label else 'note added'}.")
    return _back_to_list()
