"""The portfolio dashboard: every site at a glance, and how to connect the first meter."""

from flask import render_template
from flask_login import login_required

from cei.blueprints.web.access import organization
from cei.blueprints.web.blueprint import bp
from cei.services import dashboard as read_model


@bp.route("/")
@login_required
def dashboard():
    """Every site's energy, cost, coverage and last reading, and the last 7 days' chart."""
    portfolio = read_model.load_portfolio(organization())
    return render_template("web/dashboard.html", portfolio=portfolio)
