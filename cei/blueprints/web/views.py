"""Sign-up, login and logout pages."""

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from cei.blueprints.web.blueprint import bp
from cei.blueprints.web.forms import LoginForm, LogoutForm, SignupForm
from cei.extensions import db, login_manager
from cei.logs import bind_organization
from cei.ratelimits import limit_login, limit_signup
from cei.services import accounts
from cei.services.errors import ServiceError


@login_manager.user_loader
def load_user(session_id):
    """Load the session's user unless the session predates a logout or password change."""
    user = accounts.load_session_user(session_id)
    if user is not None:
        bind_organization(user.organization_id)
    return user


@bp.app_context_processor
def inject_logout_form():
    return {"logout_form": LogoutForm()}


def _safe_next(target):
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("web.dashboard")


@bp.route("/signup", methods=["GET", "POST"])
@limit_signup
def signup():
    """Create an organization and its admin, then sign in."""
    form = SignupForm()
    if form.validate_on_submit():
        try:
            user = accounts.sign_up(
                form.email.data,
                form.password.data,
                form.organization_name.data,
                form.full_name.data,
            )
            db.session.commit()
        except ServiceError as exc:
            db.session.rollback()
            form.email.errors.append(exc.message)
        else:
            login_user(user)
            flash("Welcome to CEI — your organization is ready. Connect your first meter below.")
            return redirect(url_for("web.dashboard"))
    status = 422 if request.method == "POST" else 200
    return render_template("auth/signup.html", form=form), status


@bp.route("/login", methods=["GET", "POST"])
@limit_login
def login():
    """Sign in with email and password."""
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(form.email.data, form.password.data)
            db.session.commit()
        except ServiceError as exc:
            form.password.errors.append(exc.message)
        else:
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
    status = 401 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Sign out everywhere."""
    if LogoutForm().validate_on_submit():
        accounts.end_all_sessions(current_user)
        db.session.commit()
        logout_user()
        flash("You are signed out.", "info")
    return redirect(url_for("web.login"))


@bp.route("/home")
def home():
    """The former home page: the dashboard now."""
    return redirect(url_for("web.dashboard"), code=301)
