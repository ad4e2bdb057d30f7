"""Sites and meters: ``/api/v1/sites``.

Sites are addressed by their external ``site_id`` (the key factories send), URL-encoded in the
path when it holds spaces or non-ASCII characters. Anyone with the ``read`` scope may look;
changing sites and meters is for organization admins signed in as users.
"""

from flask.views import MethodView

from cei.api import Blueprint
from cei.blueprints.errors import service_errors
from cei.blueprints.sites.schemas import (
    MeterCreateSchema,
    MeterSchema,
    MeterUpdateSchema,
    SiteCreateSchema,
    SiteSchema,
    SiteUpdateSchema,
)
from cei.extensions import db
from cei.security import authenticated, current_organization
from cei.services import sites

blp = Blueprint("sites", __name__, url_prefix="/api/v1/sites", description="Sites and meters")


def _site(site_id):
    """The caller's site ``site_id`` (404 for anyone else's)."""
    with service_errors():
        return sites.get_site(current_organization(), site_id)


@blp.route("")
class Sites(MethodView):
    @blp.response(200, SiteSchema(many=True))
    @authenticated(scope="read")
    def get(self):
        """List the organization's sites with their meters"""
        return sites.list_sites(current_organization())

    @blp.response(201, SiteSchema)
    @authenticated(admin=True)
    @blp.arguments(SiteCreateSchema)
    def post(self, data):
        """Create a site

        ---
        `timezone` defaults to the organization's, `schedule` to Monday-Friday 07:00-19:00,
        `tariff_per_kwh` to null (the organization's tariff applies). A `site_id` already used
        in the organization answers 409 `SITE_EXISTS`.
        """
        with service_errors():
            site = sites.create_site(current_organization(), **data)
        db.session.commit()
        return site


@blp.route("/<site_id>")
class SiteById(MethodView):
    @blp.response(200, SiteSchema)
    @authenticated(scope="read")
    def get(self, site_id):
        """Show a site with its meters"""
        return _site(site_id)

    @blp.response(200, SiteSchema)
    @authenticated(admin=True)
    @blp.arguments(SiteUpdateSchema, required=False)
    def patch(self, data, site_id):
        """Change a site's name, timezone, location, schedule, tariff or emission factor"""
        site = _site(site_id)
        with service_errors():
            sites.update_site(site, **data)
        db.session.commit()
        return site

    @blp.response(204)
    @authenticated(admin=True)
    def delete(self, site_id):
        """Delete a site with its meters and all their readings"""
        sites.delete_site(_site(site_id))
        db.session.commit()


@blp.route("/<site_id>/meters")
class SiteMeters(MethodView):
    @blp.response(200, MeterSchema(many=True))
    @authenticated(scope="read")
    def get(self, site_id):
        """List a site's meters"""
        return sites.site_meters(_site(site_id))

    @blp.response(201, MeterSchema)
    @authenticated(admin=True)
    @blp.arguments(MeterCreateSchema)
    def post(self, data, site_id):
        """Add a meter to a site

        ---
        Meters are also created by ingestion on their first reading; creating one here lets you
        name it and mark it as the main meter before data arrives.
        """
        site = _site(site_id)
        with service_errors():
            meter = sites.add_meter(site, **data)
        db.session.commit()
        return meter


@blp.route("/<site_id>/meters/<meter_id>")
class MeterById(MethodView):
    @blp.response(200, MeterSchema)
    @authenticated(scope="read")
    def get(self, site_id, meter_id):
        """Show a meter"""
        with service_errors():
            return sites.get_meter(_site(site_id), meter_id)

    @blp.response(200, MeterSchema)
    @authenticated(admin=True)
    @blp.arguments(MeterUpdateSchema, required=False)
    def patch(self, data, site_id, meter_id):
        """Rename a meter, mark it main (or not), or set its interval"""
        site = _site(site_id)
        with service_errors():
            meter = sites.update_meter(site, meter_id, **data)
        db.session.commit()
        return meter

    @blp.response(204)
    @authenticated(admin=True)
    def delete(self, site_id, meter_id):
        """Delete a meter with all its readings

        ---
        The site's totals and rollups are recomputed without it in the same transaction.
        """
        site = _site(site_id)
        with service_errors():
            sites.delete_meter(site, meter_id)
        db.session.commit()
