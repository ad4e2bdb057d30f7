"""Portfolio API: ``/api/v1/portfolio``."""
