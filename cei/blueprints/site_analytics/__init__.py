"""A site's analysis results: ``/api/v1/sites/<site_id>/{kpis,baseline,forecast,opportunities}``."""
