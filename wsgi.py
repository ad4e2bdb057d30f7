"""WSGI entry point: ``gunicorn wsgi:app``."""

from cei import create_app

app = create_app()
