"""Build a report's data from the database and the analytics: the one seam between them.

``site_inputs`` asks the analytics for a site's hourly kWh, baseline, fit quality and savings
opportunities as of the end of the period (the same functions an analysis runs, so the
figures equal the API's for the same period); ``period_alerts`` reads the alerts whose period
overlaps the report's. Everything else is :mod:`cei.services.reports.content`.
"""

from __future__ import annotations

from sqlalchemy import select

from cei.extensions import db
from cei.models import Organization, Site
from cei.services.reports import content
from cei.services.reports.data import ReportData
from cei.services.reports.periods import period_ending


def site_inputs(site, organization, period):
    """Return ``(SiteInputs, factors)`` of ``site`` for ``period`` (analytics; wired at merge)."""
    raise NotImplementedError("the analytics engine is not on this branch yet")


def period_alerts(organization, site, period):
    """Return the site's alerts overlapping ``period`` as AlertRows (analytics; at merge)."""
    return []


def _sites(organization, report):
    if report.kind == "site":
        site = db.session.get(Site, report.site_pk)
        return [site] if site is not None else []
    return db.session.scalars(
        select(Site).where(Site.organization_id == organization.id).order_by(Site.site_id)
    ).all()


def build_report(report):
    """Return the :class:`ReportData` of a report row (site or portfolio)."""
    organization = db.session.get(Organization, report.organization_id)
    sites = _sites(organization, report)
    if report.kind == "site" and not sites:
        raise LookupError(f"the site of report {report.id} no longer exists")
    site_reports = []
    for site in sites:
        # Each site's own 7 local days carrying the same dates as the report's period.
        period = period_ending(report.period_last, site.timezone)
        inputs, factors = site_inputs(site, organization, period)
        alerts = period_alerts(organization, site, period) if organization.enable_alerts else []
        site_reports.append(content.assemble_site(site, period, inputs, factors, alerts))
    period = period_ending(report.period_last, report.timezone)
    return ReportData(
        kind=report.kind,
        organization_name=organization.name,
        currency=organization.currency,
        generated_at=content.generated_now(),
        period=period,
        sites=site_reports,
        totals=content.portfolio_totals(site_reports),
        alerts_enabled=organization.enable_alerts,
    )
