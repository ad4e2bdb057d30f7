"""Settings: integration tokens (create, shown once, revoke) and the organization's details."""

from flask import abort, flash, make_response, redirect, render_template, session, url_for
from flask_login import current_user, login_required

from cei.blueprints.web.access import admin_required, no_store, organization
from cei.blueprints.web.blueprint import bp
from cei.blueprints.web.forms import ConfirmForm, OrganizationForm, TokenForm
from cei.extensions import db
from cei.services import organizations, tokens
from cei.services.errors import NotFound, ServiceError

# The raw token travels to the next page once, in the signed session cookie, and is popped
# there: a reload shows it no more, and it is never stored on the server.
NEW_TOKEN_KEY = "new_integration_token"


def _settings_page(token_form=None, organization_form=None, status=200):
    org = organization()
    new_token = session.pop(NEW_TOKEN_KEY, None)
    page = render_template(
        "web/settings.html",
        organization=org,
        tokens=tokens.list_tokens(org),
        token_form=token_form or TokenForm(formdata=None),
        organization_form=organization_form or OrganizationForm(formdata=None, obj=org),
        new_token=new_token,
        can_manage=current_user.is_admin,
    )
    return no_store(make_response(page, status))


@bp.route("/settings")
@login_required
def settings():
    """Integration tokens and organization settings."""
    return _settings_page()


@bp.route("/settings/tokens", methods=["POST"])
@admin_required
def create_token():
    """Create an integration token and show it once."""
    form = TokenForm()
    if not form.validate_on_submit():
        return _settings_page(token_form=form, status=422)
    try:
        token, raw = tokens.issue_token(
            organization(), form.name.data, form.scopes.data, created_by=current_user
        )
        db.session.commit()
    except ServiceError as exc:
        db.session.rollback()
        form.name.errors.append(exc.message)
        return _settings_page(token_form=form, status=422)
    session[NEW_TOKEN_KEY] = {"id": token.id, "name": token.name, "raw": raw}
    return redirect(url_for("web.settings") + "#new-token", code=303)


def _token_or_404(token_id):
    try:
        return tokens.get_token(organization(), token_id)
    except NotFound:
        abort(404)


@bp.route("/settings/tokens/<int:token_id>/revoke", methods=["GET", "POST"])
@admin_required
def confirm_revoke(token_id):
    """Ask before revoking a token, then revoke it."""
    token = _token_or_404(token_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        tokens.revoke_token(organization(), token_id)
        db.session.commit()
        flash(f"Token “{token.name}” is revoked: machines using it are refused from now on.")
        return redirect(url_for("web.settings"), code=303)
    return render_template("web/confirm_revoke.html", token=token, form=form)


@bp.route("/settings/organization", methods=["POST"])
@admin_required
def update_organization():
    """Save the organization's name, currency, default tariff and timezone."""
    form = OrganizationForm()
    if not form.validate_on_submit():
        return _settings_page(organization_form=form, status=422)
    try:
        organizations.update_organization(
            organization(),
            name=form.name.data,
            currency=form.currency.data,
            tariff_per_kwh=form.tariff_per_kwh.data,
            timezone=form.timezone.data,
        )
        db.session.commit()
    except ServiceError as exc:
        db.session.rollback()
        getattr(form, getattr(exc, "field", "name"), form.name).errors.append(exc.message)
        return _settings_page(organization_form=form, status=422)
    flash("Organization settings saved.")
    return redirect(url_for("web.settings"), code=303)
