"""Blueprints: one folder per API area, plus the web pages."""

from cei.extensions import api, csrf
from cei.ratelimits import limit_ingestion


def register_blueprints(app):
    """Register every API area and the web pages on ``app``."""
    from cei.blueprints.auth.resources import blp as auth_blp
    from cei.blueprints.health.resources import blp as health_blp
    from cei.blueprints.ingest.resources import blp as ingest_blp
    from cei.blueprints.readings.resources import blp as readings_blp
    from cei.blueprints.sites.resources import blp as sites_blp
    from cei.blueprints.web import bp as web_bp

    for blueprint in (health_blp, auth_blp, sites_blp, ingest_blp, readings_blp):
        # The API authenticates with bearer tokens, not cookies from forms: no CSRF tokens.
        csrf.exempt(blueprint)
        api.register_blueprint(blueprint)
    app.register_blueprint(web_bp)
    limit_ingestion(ingest_blp)
