"""Server-rendered web pages."""

from cei.blueprints.web.views import bp

__all__ = ["bp"]
