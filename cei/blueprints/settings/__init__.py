"""Organization settings API: ``/api/v1/organization/settings``."""
