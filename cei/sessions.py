"""Signed-in web sessions: a fresh session at every login, idle and absolute timeouts.

Sessions are signed cookies (nothing server-side), so "a new session on login" means that
nothing the browser carried before login survives it (no planted CSRF token or other
value). Every login, whoever calls ``flask_login.login_user``, goes through
:func:`start_session`. "Remember me" (``login_user(user, remember=True)``) makes the
session cookie outlive the browser instead of issuing Flask-Login's separate remember
cookie, so the same timeouts always apply:

- ``SESSION_IDLE_TIMEOUT``: seconds without a request, after which the session ends;
- ``SESSION_ABSOLUTE_TIMEOUT``: seconds after login, after which it ends whatever happens.

Logout and password change end every earlier session and access token through the user's
``session_version`` (see :func:`cei.services.accounts.end_all_sessions`).
"""

import time

from flask import current_app, session
from flask_login import logout_user, user_logged_in

# Flask-Login's own keys, kept across the reset at login.
LOGIN_KEYS = ("_user_id", "_fresh", "_id")
# Refresh the idle clock at most this often (each refresh re-sends the cookie).
SEEN_RESOLUTION = 60


def start_session(sender, user, **extra):
    """Begin a new session for ``user``: drop everything else, start both clocks."""
    kept = {key: session[key] for key in LOGIN_KEYS if key in session}
    remember = session.get("_remember") == "set"
    session.clear()
    session.update(kept)
    session.permanent = remember
    now = int(time.time())
    session["login_at"] = now
    session["seen_at"] = now


def end_expired_session():
    """Sign out a session that was idle too long or began too long ago."""
    if "_user_id" not in session:
        return
    config = current_app.config
    now = time.time()
    login_at, seen_at = session.get("login_at"), session.get("seen_at")
    clocks_valid = isinstance(login_at, int) and isinstance(seen_at, int)
    if (
        not clocks_valid
        or now - seen_at > config["SESSION_IDLE_TIMEOUT"]
        or now - login_at > config["SESSION_ABSOLUTE_TIMEOUT"]
    ):
        logout_user()
        session.pop("login_at", None)
        session.pop("seen_at", None)
        return
    if now - seen_at >= SEEN_RESOLUTION:
        session["seen_at"] = int(now)


def register(app):
    """Check the clocks before every request; start sessions at every login."""
    app.before_request(end_expired_session)
    user_logged_in.connect(start_session, app)
