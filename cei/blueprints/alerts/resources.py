"""Alerts: ``/api/v1/alerts``.

Raised by the analysis (spikes, level shifts, waste, deviation, silent meters …), one per
condition and period. People acknowledge, resolve, mute or re-open them, with notes. Needs
the plan flag ``enable_alerts`` (403 ``PLAN_FEATURE_DISABLED`` otherwise).
"""

from flask.views import MethodView
from flask_smorest import Blueprint

from cei.blueprints.alerts.schemas import (
    AlertListArgsSchema,
    AlertListSchema,
    AlertSchema,
    AlertUpdateSchema,
)
from cei.blueprints.errors import service_errors
from cei.blueprints.plans import require_feature
from cei.extensions import db
from cei.security import authenticated, current_organization, current_principal
from cei.services import sites
from cei.services.analytics import alerts

blp = Blueprint("alerts", __name__, url_prefix="/api/v1/alerts", description="Alerts")


def _alert(alert_id):
    with service_errors():
        return alerts.get_alert(current_organization(), alert_id)


@blp.route("")
class Alerts(MethodView):
    @blp.response(200, AlertListSchema)
    @authenticated(scope="read")
    @require_feature("enable_alerts")
    @blp.arguments(AlertListArgsSchema, location="query")
    def get(self, args):
        """List alerts (filter by status, severity, kind, site and period)"""
        organization = current_organization()
        site = None
        if args.get("site_id"):
            with service_errors():
                site = sites.get_site(organization, args["site_id"])
        total, items = alerts.list_alerts(
            organization,
            status=args.get("status"),
            severity=args.get("severity"),
            kind=args.get("kind"),
            site=site,
            start=args.get("start"),
            end=args.get("end"),
            limit=args["limit"],
            offset=args["offset"],
        )
        return {"total": total, "limit": args["limit"], "offset": args["offset"], "items": items}


@blp.route("/<int:alert_id>")
class AlertById(MethodView):
    @blp.response(200, AlertSchema)
    @authenticated(scope="read")
    @require_feature("enable_alerts")
    def get(self, alert_id):
        """Show an alert with its notes"""
        return _alert(alert_id)

    @blp.response(200, AlertSchema)
    @authenticated(users_only=True)
    @require_feature("enable_alerts")
    @blp.arguments(AlertUpdateSchema)
    def patch(self, data, alert_id):
        """Acknowledge, resolve, mute or re-open an alert, and/or add a note

        ---
        Transitions: `open → ack → resolved`, any status `→ muted`, `resolved`/`muted → open`.
        A change to the status the alert already has only adds the note. Another transition
        answers 409 `INVALID_STATUS_TRANSITION`.
        """
        alert = _alert(alert_id)
        with service_errors():
            alerts.change_alert(
                alert, current_principal().user, status=data.get("status"), note=data.get("note")
            )
        db.session.commit()
        return alert
