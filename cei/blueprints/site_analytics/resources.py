"""A site's analysis results: KPIs, actual vs baseline, forecast, savings opportunities.

The figures are those of the site's latest analysis (``analysed_at``); before the first one
the answers say ``state: pending``. Readable with the ``read`` scope.
"""

from flask.views import MethodView
from flask_smorest import Blueprint

from cei.blueprints.errors import service_errors
from cei.blueprints.site_analytics.schemas import (
    BaselineSchema,
    ForecastArgsSchema,
    ForecastSchema,
    KpisSchema,
    OpportunitiesSchema,
    WindowArgsSchema,
)
from cei.security import authenticated, current_organization
from cei.services import sites, windows
from cei.services.analytics import results

blp = Blueprint(
    "site_analytics",
    __name__,
    url_prefix="/api/v1/sites",
    description="A site's KPIs, baseline, forecast and opportunities",
)


def _site(site_id):
    with service_errors():
        return sites.get_site(current_organization(), site_id)


@blp.route("/<site_id>/kpis")
class SiteKpis(MethodView):
    @blp.response(200, KpisSchema)
    @authenticated(scope="read")
    def get(self, site_id):
        """Show a site's KPIs: last 24 h and 7 d against the baseline, in kWh, money and CO2e"""
        return results.site_kpis(_site(site_id))


@blp.route("/<site_id>/baseline")
class SiteBaseline(MethodView):
    @blp.response(200, BaselineSchema)
    @authenticated(scope="read")
    @blp.arguments(WindowArgsSchema, location="query")
    def get(self, args, site_id):
        """Show actual vs expected kWh per hour over a window (default the last 7 days)"""
        site = _site(site_id)
        with service_errors():
            window = windows.resolve_window(
                args.get("window_hours") or (None if args.get("start") else 168),
                args.get("start"),
                args.get("end"),
            )
        return results.site_baseline(site, window)


@blp.route("/<site_id>/forecast")
class SiteForecast(MethodView):
    @blp.response(200, ForecastSchema)
    @authenticated(scope="read")
    @blp.arguments(ForecastArgsSchema, location="query")
    def get(self, args, site_id):
        """Show the next 24 h or 7 d expected kWh per hour with lower and upper bounds"""
        return results.site_forecast(_site(site_id), args["horizon_hours"])


@blp.route("/<site_id>/opportunities")
class SiteOpportunities(MethodView):
    @blp.response(200, OpportunitiesSchema)
    @authenticated(scope="read")
    def get(self, site_id):
        """List a site's savings opportunities: kWh, money and CO2e per week and year, and how"""
        return results.site_opportunities(_site(site_id))
