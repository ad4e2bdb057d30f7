"""The web pages' blueprint and the login manager's settings for it."""

from flask import Blueprint

from cei.extensions import login_manager

bp = Blueprint("web", __name__)
login_manager.login_view = "web.login"
login_manager.login_message = "Please log in to see this page."
login_manager.login_message_category = "info"
