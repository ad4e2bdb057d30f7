"""Build a report's data from the database and the analytics: the one seam between them.

``site_inputs`` asks the analytics for a site's hourly kWh, baseline, fit quality and savings
opportunities as of the end of the period (the same functions an analysis runs, so the
figures equal the API's for the same period); ``period_alerts`` reads the alerts whose period
overlaps the report's. Everything else is :mod:`cei.services.reports.content`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select

from cei.extensions import db
from cei.models import Alert, Organization, Site
from cei.services.analytics import inputs as analytics_inputs
from cei.services.analytics import shapes
from cei.services.analytics.analyse import outcome_data, priced_opportunities
from cei.services.analytics.context import (
    DEFAULT_HISTORY_DAYS,
    build_context,
    organization_overrides,
)
from cei.services.reports import content
from cei.services.reports.data import AlertRow, ReportData
from cei.services.reports.periods import period_ending


def site_inputs(site, organization, period):
    """Return ``(SiteInputs, factors)`` of ``site`` as the analysis at the period's end saw it.

    The plugins run on the site's history up to the end of the period (local midnight after
    its last day), as the hourly analysis did at that moment; the KPIs, baseline and
    opportunities are therefore the ones the API served for that period.
    """
    now = datetime.fromtimestamp(period.end_ts, UTC)
    history_days = current_app.config.get("ANALYTICS_HISTORY_DAYS", DEFAULT_HISTORY_DAYS)
    context, factors, _ = build_context(site, organization, now, history_days)
    registry = analytics_inputs.plugin_registry(current_app)
    outcomes = analytics_inputs.run_plugins(registry, context, organization_overrides(organization))
    baseline = outcome_data(outcomes.get("baseline"))
    inputs = content.SiteInputs(
        series=context.series,
        expected=shapes.baseline_series(baseline),
        quality=shapes.baseline_quality(baseline),
        opportunities=priced_opportunities(outcomes, factors),
        deviation=outcome_data(outcomes.get("deviation")),
    )
    return inputs, factors


def period_alerts(organization, site, period):
    """Return the site's alerts whose period overlaps ``period``, oldest first, site-local."""
    start = datetime.fromtimestamp(period.start_ts, UTC)
    end = datetime.fromtimestamp(period.end_ts, UTC)
    zone = ZoneInfo(site.timezone)
    alerts = db.session.scalars(
        select(Alert)
        .where(Alert.site_pk == site.id, Alert.period_start < end, Alert.period_end > start)
        .order_by(Alert.period_start, Alert.id)
    ).all()
    return [
        AlertRow(
            site_id=site.site_id,
            kind=alert.kind,
            severity=alert.severity,
            status=alert.status,
            period_start=alert.period_start.astimezone(zone),
            period_end=alert.period_end.astimezone(zone),
            message=alert.message,
            kwh_impact=alert.kwh_impact,
            cost_impact=alert.cost_impact,
            meter_id=alert.meter_id,
        )
        for alert in alerts
    ]


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
