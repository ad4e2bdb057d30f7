"""Organization settings: ``/api/v1/organization/settings`` (currency, tariff, carbon, thresholds).

Anyone in the organization may read them; only admins change them. Sites override the tariff
and the emission factor through ``PATCH /api/v1/sites/<site_id>``.
"""

from flask.views import MethodView
from flask_smorest import Blueprint

from cei.blueprints.errors import service_errors
from cei.blueprints.settings.schemas import SettingsSchema, SettingsUpdateSchema
from cei.extensions import db
from cei.security import authenticated, current_organization
from cei.services.analytics import settings

blp = Blueprint(
    "settings",
    __name__,
    url_prefix="/api/v1/organization",
    description="Organization settings",
)


@blp.route("/settings")
class OrganizationSettings(MethodView):
    @blp.response(200, SettingsSchema)
    @authenticated(scope="read")
    def get(self):
        """Show the organization's currency, tariff, emission factor and alert thresholds"""
        return settings.get_settings(current_organization())

    @blp.response(200, SettingsSchema)
    @authenticated(admin=True)
    @blp.arguments(SettingsUpdateSchema, required=False)
    def patch(self, data):
        """Change the organization's currency, tariff, emission factor or alert thresholds

        ---
        The deviation thresholds are percentages of the baseline; critical must be above
        warning (defaults 10 and 30).
        """
        with service_errors():
            result = settings.update_settings(current_organization(), **data)
        db.session.commit()
        return result
