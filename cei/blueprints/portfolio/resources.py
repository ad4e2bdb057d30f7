"""Portfolio: ``/api/v1/portfolio`` — all of an organization's sites at a glance."""

from flask.views import MethodView
from flask_smorest import Blueprint

from cei.blueprints.portfolio.schemas import PortfolioSchema
from cei.security import authenticated, current_organization
from cei.services.analytics import results

blp = Blueprint(
    "portfolio", __name__, url_prefix="/api/v1/portfolio", description="All sites at a glance"
)


@blp.route("")
class Portfolio(MethodView):
    @blp.response(200, PortfolioSchema)
    @authenticated(scope="read")
    def get(self):
        """Show every site's 24 h and 7 d kWh, cost, CO2e, deviation, open alerts and coverage"""
        return results.portfolio(current_organization())
