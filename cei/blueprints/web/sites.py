"""Sites: the list with their figures, add and edit, the site view, and the meters' main switch."""

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import login_required

from cei.blueprints.web.access import admin_required, organization
from cei.blueprints.web.blueprint import bp
from cei.blueprints.web.forms import ConfirmForm, SiteForm
from cei.extensions import db
from cei.services import dashboard
from cei.services import sites as site_service
from cei.services.errors import NotFound, ServiceError
from cei.services.sites import default_schedule


def _site_or_404(site_id):
    try:
        return site_service.get_site(organization(), site_id)
    except NotFound:
        abort(404)


@bp.route("/sites")
@login_required
def sites():
    """Every site with its energy, cost, coverage and last reading."""
    portfolio = dashboard.load_portfolio(organization(), with_chart=False)
    return render_template("web/sites.html", portfolio=portfolio)


def _schedule(form):
    return {
        "days": [int(day) for day in form.days.data or []],
        "start": form.start.data,
        "end": form.end.data,
    }


def _form_error(form, exc):
    """Show a service's refusal beside the field it names (or the first field)."""
    name = getattr(exc, "field", None)
    target = {"schedule": "days"}.get(name, name)
    field = getattr(form, target, None) if target else None
    (field or form.name).errors.append(exc.message)


@bp.route("/sites/new", methods=["GET", "POST"])
@admin_required
def new_site():
    """Add a site before its first readings arrive."""
    org = organization()
    form = SiteForm()
    if request.method == "GET":
        schedule = default_schedule()
        form.timezone.data = org.timezone
        _show_schedule(form, schedule)
    elif form.validate_on_submit():
        try:
            site = site_service.create_site(
                org,
                form.site_id.data,
                **_site_fields(form),
            )
            db.session.commit()
        except ServiceError as exc:
            db.session.rollback()
            _form_error(form, exc)
        else:
            flash(
                f"Site “{site.name}” added. Readings sent with site_id “{site.site_id}” land here."
            )
            return redirect(url_for("web.site_view", site_id=site.site_id), code=303)
    status = 422 if request.method == "POST" else 200
    return render_template("web/site_form.html", form=form, site=None, organization=org), status


@bp.route("/sites/<site_id>/edit", methods=["GET", "POST"])
@admin_required
def edit_site(site_id):
    """Change a site's name, timezone, location, schedule and tariff."""
    org = organization()
    site = _site_or_404(site_id)
    form = SiteForm(obj=site)
    # The factories' key cannot change: the field is shown, not editable, and not checked.
    form.site_id.data = site.site_id
    if request.method == "GET":
        _show_schedule(form, site.schedule)
    elif form.validate_on_submit():
        try:
            site_service.update_site(site, **_site_fields(form))
            db.session.commit()
        except ServiceError as exc:
            db.session.rollback()
            _form_error(form, exc)
        else:
            flash(f"Site “{site.name}” saved.")
            return redirect(url_for("web.site_view", site_id=site.site_id), code=303)
    status = 422 if request.method == "POST" else 200
    return render_template("web/site_form.html", form=form, site=site, organization=org), status


def _show_schedule(form, schedule):
    """Fill the form's schedule fields from a site schedule (days, start, end)."""
    form.days.data = [str(day) for day in schedule["days"]]
    form.start.data, form.end.data = schedule["start"], schedule["end"]


def _site_fields(form):
    """The editable site fields of a submitted form, as the sites service takes them."""
    return {
        "name": form.name.data,
        "timezone": form.timezone.data,
        "location": form.location.data,
        "schedule": _schedule(form),
        "tariff_per_kwh": form.tariff_per_kwh.data,
    }


def _overview(site_id):
    try:
        return dashboard.load_site_overview(organization(), site_id)
    except NotFound:
        abort(404)


@bp.route("/sites/<site_id>")
@login_required
def site_view(site_id):
    """One site: KPIs, 24 h and 7 d charts, meters, and (with analytics) baseline and alerts."""
    overview = _overview(site_id)
    return render_template("web/site_view.html", overview=overview, main_form=ConfirmForm())


@bp.route("/sites/<site_id>/data.csv")
@login_required
def site_csv(site_id):
    """Download the site view's hourly data (the last 7 days) as CSV."""
    overview = _overview(site_id)
    filename = "cei-" + "".join(c if c.isalnum() or c in "-_" else "_" for c in site_id) + "-7d.csv"
    return Response(
        dashboard.render_overview_csv(overview),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename[:80]}"'},
    )


@bp.route("/sites/<site_id>/meters/<meter_id>/main", methods=["POST"])
@admin_required
def set_main_meter(site_id, meter_id):
    """Mark a meter as main (it measures the whole site) or not."""
    site = _site_or_404(site_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    is_main = request.form.get("is_main") == "1"
    try:
        meter = site_service.update_meter(site, meter_id, is_main=is_main)
    except NotFound:
        abort(404)
    db.session.commit()
    if is_main:
        flash(
            f"Meter “{meter.name}” is a main meter: the site total now uses the main meters only."
        )
    else:
        flash(f"Meter “{meter.name}” is no longer a main meter.")
    return redirect(url_for("web.site_view", site_id=site.site_id) + "#meters", code=303)
