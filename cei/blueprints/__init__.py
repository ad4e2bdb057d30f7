"""Blueprints: one folder per API area, plus the web pages."""

from cei.extensions import api, csrf


def register_blueprints(app):
    """Register every API area and the web pages on ``app``."""
    from cei.blueprints.auth.resources import blp as auth_blp
    from cei.blueprints.health.resources import blp as health_blp
    from cei.blueprints.web import bp as web_bp

    for blueprint in (health_blp, auth_blp, *_optional_api_blueprints()):
        # The API authenticates with bearer tokens, not cookies from forms: no CSRF tokens.
        csrf.exempt(blueprint)
        api.register_blueprint(blueprint)
    app.register_blueprint(web_bp)


def _optional_api_blueprints():
    """API areas added by later work, registered when present."""
    import importlib

    found = []
    for area in ("sites", "ingest", "readings"):
        try:
            module = importlib.import_module(f"cei.blueprints.{area}.resources")
        except ModuleNotFoundError as exc:
            if exc.name != f"cei.blueprints.{area}" and not exc.name.startswith(
                f"cei.blueprints.{area}."
            ):
                raise
            continue
        found.append(module.blp)
    return found
