"""Sites and meters API: ``/api/v1/sites``."""
