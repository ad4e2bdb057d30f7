"""Blueprints: one folder per API area, plus the web pages."""

from cei.extensions import api, csrf
from cei.ratelimits import limit_ingestion


def register_blueprints(app):
    """Register every API area and the web pages on ``app``."""
    from cei.blueprints.alerts.resources import blp as alerts_blp
    from cei.blueprints.analytics.resources import blp as analytics_blp
    from cei.blueprints.auth.resources import blp as auth_blp
    from cei.blueprints.health.resources import blp as health_blp
    from cei.blueprints.ingest.resources import blp as ingest_blp
    from cei.blueprints.metrics.views import bp as metrics_bp
    from cei.blueprints.portfolio.resources import blp as portfolio_blp
    from cei.blueprints.readings.resources import blp as readings_blp
    from cei.blueprints.reports.resources import blp as reports_blp
    from cei.blueprints.settings.resources import blp as settings_blp
    from cei.blueprints.site_analytics.resources import blp as site_analytics_blp
    from cei.blueprints.sites.resources import blp as sites_blp
    from cei.blueprints.web import bp as web_bp

    analytics_blueprints = (
        analytics_blp,
        alerts_blp,
        site_analytics_blp,
        portfolio_blp,
        settings_blp,
    )
    for blueprint in (
        health_blp,
        auth_blp,
        sites_blp,
        ingest_blp,
        readings_blp,
        *analytics_blueprints,
        reports_blp,
    ):
        # The API authenticates with bearer tokens, not cookies from forms: no CSRF tokens.
        csrf.exempt(blueprint)
        api.register_blueprint(blueprint)
    app.register_blueprint(web_bp)
    app.register_blueprint(metrics_bp)
    limit_ingestion(ingest_blp)
