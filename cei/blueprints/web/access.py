"""Who may see and change what on the web pages."""

import functools

from flask import abort
from flask_login import current_user, login_required


def admin_required(view):
    """Let only the organization's admins through (403 for members)."""

    @functools.wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapper


def organization():
    """The signed-in user's organization."""
    return current_user.organization


def no_store(response):
    """Keep a page out of every cache (it shows a secret or fresh results)."""
    response.headers["Cache-Control"] = "no-store"
    return response
