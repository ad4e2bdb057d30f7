"""Server-rendered web pages: sign-up and login, dashboard, sites, upload, settings, alerts,
reports, and the styled error pages."""

from cei.blueprints.web import (  # noqa: F401  (each module adds its routes to bp)
    alerts,
    dashboard,
    errors,
    formatting,
    reports,
    settings,
    sites,
    upload,
    views,
)
from cei.blueprints.web.blueprint import bp

__all__ = ["bp"]
