"""Alerts API: ``/api/v1/alerts``."""
