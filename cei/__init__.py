"""CEI — Carbon & Energy Intelligence: the application factory."""

import logging
import os

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from cei import config as cei_config
from cei.extensions import api, csrf, db, limiter, login_manager, migrate
from cei.jsonio import FastJSONProvider

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def create_app(config=None):
    """Create the CEI app: defaults, then ``CEI_*`` environment variables, then ``config``."""
    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder=os.path.join(ROOT, "templates"),
    )
    app.json = FastJSONProvider(app)
    app.config.from_object(cei_config.DefaultConfig)
    app.config.update(cei_config.env_overrides())
    if config:
        app.config.update(config)
    cei_config.check_secret_key(app.config)
    cei_config.apply_security_settings(app.config)
    cei_config.resolve_observability_settings(app.config)
    _configure_database(app)
    _configure_logging(app)

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(ROOT, "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)
    api.init_app(app)

    from cei import http, models, telemetry  # noqa: F401  (models register their tables)
    from cei.blueprints import register_blueprints
    from cei.cli import register_commands
    from cei.tasks import background

    telemetry.register(app)
    http.register(app)
    register_blueprints(app)
    register_commands(app)
    _load_plugins(app)
    background.install(app)
    return app


def _load_plugins(app):
    """Load and check every analytics plugin now, so a broken one stops start-up."""
    from cei.plugins.registry import load_registry

    app.extensions["cei.analytics"] = load_registry(
        enabled=app.config["ANALYTICS_ENABLED"], params=app.config["ANALYTICS_PARAMS"]
    )


def _configure_database(app):
    url = app.config.get("DATABASE_URL")
    if not url:
        os.makedirs(app.instance_path, exist_ok=True)
        url = cei_config.sqlite_url(app.instance_path)
    url = cei_config.normalise_database_url(url)
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if url.startswith("sqlite"):
        options.setdefault("connect_args", {"timeout": 30})
    else:
        # A connection the server ended (a restart) is replaced before a request uses it.
        options.setdefault("pool_pre_ping", True)
        if "connect_timeout" not in url:
            # A server that is gone without refusing (a host down) answers 503 after this
            # long, instead of holding the request until TCP gives up (minutes).
            connect_args = options.setdefault("connect_args", {})
            connect_args.setdefault("connect_timeout", app.config["DATABASE_CONNECT_TIMEOUT"])
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def _configure_logging(app):
    from cei.logs import configure_logging

    level = getattr(logging, str(app.config["LOG_LEVEL"]).upper(), logging.INFO)
    configure_logging(app.config["LOG_FORMAT"], level)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """WAL for concurrent readers, enforced foreign keys, fewer fsyncs."""
    if type(dbapi_connection).__module__ != "sqlite3":
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
