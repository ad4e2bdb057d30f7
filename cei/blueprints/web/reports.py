"""Reports: the 7-day table per site with CSV export, and the generated reports; an upgrade
notice when the plan lacks reports."""

from flask import Response, abort, render_template
from flask_login import login_required

from cei.blueprints.web.access import organization
from cei.blueprints.web.blueprint import bp
from cei.services import dashboard


@bp.route("/reports")
@login_required
def reports():
    """The 7-day table per site and the generated reports, unless the plan lacks them."""
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
