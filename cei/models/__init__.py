"""SQLAlchemy models; importing this package registers every table."""

from cei.models.alert import Alert, AlertNote
from cei.models.analysis import AnalysisRun, DueAnalysis, SiteAnalysis
from cei.models.integration_token import IntegrationToken
from cei.models.organization import Organization
from cei.models.reading import ingest_keys, readings
from cei.models.report import Report
from cei.models.rollup import meter_hours, site_hours
from cei.models.site import Meter, Site
from cei.models.user import User

__all__ = [
    "Alert",
    "AlertNote",
    "AnalysisRun",
    "DueAnalysis",
    "IntegrationToken",
    "Meter",
    "Organization",
    "Report",
    "Site",
    "SiteAnalysis",
    "User",
    "ingest_keys",
    "meter_hours",
    "readings",
    "site_hours",
]
