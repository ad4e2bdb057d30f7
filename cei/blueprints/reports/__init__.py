"""Reports API: ``/api/v1/reports``."""
