"""Sign-up, login, logout and the signed-in home page."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy.exc import IntegrityError

from cei.blueprints.web.forms import LoginForm, LogoutForm, SignupForm
from cei.extensions import db, login_manager
from cei.models import User
from cei.ratelimits import limit_login, limit_signup
from cei.services import accounts
from cei.services.errors import ServiceError

bp = Blueprint("web", __name__)
login_manager.login_view = "web.login"
login_manager.login_message_category = "info"


@login_manager.user_loader
def load_user(session_id):
    """Load the session's user unless the session predates a logout or password change."""
    user_id, _, version = session_id.partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or user.session_version != int(version):
        return None
    return user


@bp.app_context_processor
def inject_logout_form():
    return {"logout_form": LogoutForm()}


def _safe_next(target):
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("web.home")


@bp.route("/")
def index():
    """Send visitors to their home page or to the login page."""
    if current_user.is_authenticated:
        return redirect(url_for("web.home"))
    return redirect(url_for("web.login"))


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
        except (ServiceError, IntegrityError) as exc:
            db.session.rollback()
            message = exc.message if isinstance(exc, ServiceError) else "Email already in use"
            form.email.errors.append(message)
        else:
            login_user(user)
            flash("Welcome to CEI — your organization is ready.", "success")
            return redirect(url_for("web.home"))
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
@login_required
def home():
    """The signed-in home page."""
    return render_template("home.html", user=current_user, organization=current_user.organization)
