"""Analysis runs API: ``/api/v1/analytics``."""
