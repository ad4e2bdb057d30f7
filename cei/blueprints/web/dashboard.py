"""The portfolio dashboard: every site at a glance, and how to connect the first meter."""

from flask import redirect, render_template, url_for
from flask_login import current_user

from cei.blueprints.web.access import organization
from cei.blueprints.web.blueprint import bp
from cei.services import dashboard as read_model


@bp.route("/")
def dashboard():
    """Every site's energy, cost, coverage and last reading, and the last 7 days' chart."""
    if not current_user.is_authenticated:
        # The front door: straight to the login page, without a "please log in" message.
        return redirect(url_for("web.login"))
    portfolio = read_model.load_portfolio(organization())
    return render_template("web/dashboard.html", portfolio=portfolio)
