"""Report rows: asked for, queued, generated (PDF and CSV kept in the row) or failed.

A report row is written (``queued``) in the request's transaction; a job then claims it
(``queued`` → ``running`` in one conditional UPDATE, so a report that reached the queue twice
is generated once), builds its content, renders both files and stores them. The weekly
schedule adds one ``scheduled`` portfolio report per organization and week, made unique by
``schedule_key``.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from cei.extensions import db
from cei.models import Organization, Report
from cei.models.types import utcnow
from cei.services import sites as site_service
from cei.services.errors import NotFound, ServiceError
from cei.services.reports import periods

log = logging.getLogger("cei.reports")

MAX_LISTED = 200
MAX_ERROR_LENGTH = 2000
# Reports an organization may have waiting or in the making at once: each costs seconds of
# CPU, so a loop of requests must not queue thousands of them.
MAX_PENDING = 10
PENDING = ("queued", "running")


class ReportsDisabled(ServiceError):
    """The organization's plan does not include reports."""

    status = 403
    code = "PLAN_FEATURE_DISABLED"


class TooManyPending(ServiceError):
    """The organization already has ``MAX_PENDING`` reports queued or running."""

    status = 429
    code = "TOO_MANY_PENDING_REPORTS"


class ReportNotReady(ServiceError):
    """The report's files do not exist (yet)."""

    status = 409
    code = "REPORT_NOT_READY"


def check_enabled(organization):
    """Raise :class:`ReportsDisabled` unless the organization has reports."""
    if not organization.enable_reports:
        raise ReportsDisabled(
            "Reports are not part of this organization's plan",
            detail={"feature": "enable_reports"},
        )


def request_report(organization, site_id=None, period_end=None, user=None, now=None):
    """Queue a 7-day report of site ``site_id`` (or the portfolio) ending on ``period_end``.

    ``period_end`` defaults to yesterday in the site's timezone and must be a day that has
    ended there; a portfolio's, to the last day that has ended in the organization's
    timezone and at every site (each site's part covers its own local days).
    """
    check_enabled(organization)
    pending = db.session.scalar(
        select(func.count())
        .select_from(Report)
        .where(Report.organization_id == organization.id, Report.status.in_(PENDING))
    )
    if pending >= MAX_PENDING:
        raise TooManyPending(
            f"{pending} reports are already queued or running; ask again once they are done",
            detail={"pending": pending, "limit": MAX_PENDING},
        )
    site = site_service.get_site(organization, site_id) if site_id is not None else None
    timezone = site.timezone if site is not None else organization.timezone
    others = [] if site is not None else _site_timezones(organization)
    period = periods.requested_period(timezone, period_end, now, others)
    report = Report(
        organization_id=organization.id,
        site_pk=site.id if site is not None else None,
        site_id=site.site_id if site is not None else None,
        kind="site" if site is not None else "portfolio",
        trigger="manual",
        period_first=period.first,
        period_last=period.last,
        timezone=timezone,
        status="queued",
        requested_by_id=user.id if user is not None else None,
        created_at=now or utcnow(),
    )
    db.session.add(report)
    db.session.flush()
    log.info(
        "report requested org_id=%s report_id=%s kind=%s site_id=%r period=%s",
        organization.id,
        report.id,
        report.kind,
        report.site_id,
        period.slug,
    )
    return report


def _site_timezones(organization):
    return sorted({site.timezone for site in site_service.list_sites(organization)})


def list_reports(organization, limit=MAX_LISTED):
    """Return the organization's reports, newest first (files not loaded)."""
    return db.session.scalars(
        select(Report)
        .where(Report.organization_id == organization.id)
        .order_by(Report.id.desc())
        .limit(limit)
    ).all()


def get_report(organization, report_id):
    """Return the organization's report ``report_id`` or raise ``NotFound`` (other orgs too)."""
    report = db.session.get(Report, report_id)
    if report is None or report.organization_id != organization.id:
        raise NotFound(f"Report {report_id} not found")
    return report


def report_file(report, kind):
    """Return ``(bytes, media type)`` of the report's ``pdf`` or ``csv``."""
    if report.status != "succeeded":
        raise ReportNotReady(
            f"Report {report.id} is {report.status}; files exist once it has succeeded",
            detail={"status": report.status},
        )
    if kind == "pdf":
        return report.pdf, "application/pdf"
    return report.csv, "text/csv"


def claim_report(report_id, now=None):
    """Move report ``report_id`` from queued to running; tell whether this caller got it."""
    result = db.session.execute(
        update(Report)
        .where(Report.id == report_id, Report.status == "queued")
        .values(status="running", started_at=now or utcnow())
    )
    return result.rowcount == 1


def mark_enqueued(report_ids, now=None):
    """Record that the job queue accepted these reports."""
    if report_ids:
        db.session.execute(
            update(Report).where(Report.id.in_(report_ids)).values(enqueued_at=now or utcnow())
        )


def fail_lost_reports(now=None, timeout=timedelta(minutes=20)):
    """Fail reports still running ``timeout`` after they started (their worker was lost)."""
    now = now or utcnow()
    result = db.session.execute(
        update(Report)
        .where(Report.status == "running", Report.started_at < now - timeout)
        .values(status="failed", error="the job was lost (worker stopped)", finished_at=now)
    )
    return result.rowcount


def reports_to_hand_over(now=None, requeue_after=timedelta(minutes=10)):
    """Return ids of queued reports never handed to the job queue, or handed long ago."""
    now = now or utcnow()
    return db.session.scalars(
        select(Report.id)
        .where(
            Report.status == "queued",
            (Report.enqueued_at.is_(None)) | (Report.enqueued_at < now - requeue_after),
        )
        .order_by(Report.id)
    ).all()


def generate(report, build, render_pdf, render_csv):
    """Build the running ``report``'s content, render and store its files; flush.

    ``build(report) -> ReportData``; ``render_pdf``/``render_csv`` turn it into bytes.
    """
    started = time.perf_counter()
    data = build(report)
    pdf = render_pdf(data)
    csv = render_csv(data)
    totals = data.totals
    report.pdf, report.csv = pdf, csv
    report.pdf_size, report.csv_size = len(pdf), len(csv)
    report.summary = {
        "kwh": totals.kwh,
        "cost": totals.cost,
        "currency": data.currency,
        "baseline_kwh": totals.baseline_kwh,
        "deviation_pct": totals.deviation_pct,
        "coverage_pct": totals.coverage_pct,
        "sites": len(data.sites),
    }
    report.status = "succeeded"
    report.error = None
    report.finished_at = utcnow()
    report.duration_ms = round((time.perf_counter() - started) * 1000, 1)
    db.session.flush()
    log.info(
        "report generated org_id=%s report_id=%s kind=%s sites=%d pdf_bytes=%d duration_ms=%.0f",
        report.organization_id,
        report.id,
        report.kind,
        len(data.sites),
        len(pdf),
        report.duration_ms,
    )


def fail(report, error):
    """Record that generating ``report`` failed with ``error`` (text)."""
    report.status = "failed"
    report.error = str(error)[:MAX_ERROR_LENGTH]
    report.finished_at = utcnow()
    db.session.flush()
    log.warning(
        "report failed org_id=%s report_id=%s: %s", report.organization_id, report.id, error
    )


def queue_weekly_reports(now=None):
    """Queue this week's portfolio report for every organization with reports that lacks it.

    The report is due on Monday 06:00 in the organization's timezone (or, when later, once
    that Sunday has ended at every site) and covers Monday to Sunday of the week before. An
    organization created after the slot waits for the next.
    Returns the ids of the reports queued.
    """
    now = now or utcnow()
    queued = []
    organizations = db.session.scalars(
        select(Organization).where(
            Organization.enable_reports.is_(True), Organization.subscription_status == "active"
        )
    ).all()
    for organization in organizations:
        slot = periods.weekly_slot(now, organization.timezone)
        if organization.created_at > slot.due_at:
            continue
        zones = [organization.timezone, *_site_timezones(organization)]
        today, _ = periods.latest_zone_today(zones, now)
        if today <= slot.period.last:
            # A site west of the organization is still in its Sunday: a later pass queues
            # the report once the week has ended there too.
            continue
        exists = db.session.scalar(
            select(Report.id).where(
                Report.organization_id == organization.id, Report.schedule_key == slot.key
            )
        )
        if exists is not None:
            continue
        report = Report(
            organization_id=organization.id,
            kind="portfolio",
            trigger="scheduled",
            schedule_key=slot.key,
            period_first=slot.period.first,
            period_last=slot.period.last,
            timezone=organization.timezone,
            status="queued",
            created_at=now,
        )
        db.session.add(report)
        try:
            db.session.flush()
        except IntegrityError:
            # Another scheduler queued it between our look and our insert: theirs stands.
            # The rollback also undid this pass's earlier rows, so the pass starts over.
            db.session.rollback()
            return queue_weekly_reports(now)
        queued.append(report.id)
        log.info(
            "weekly report queued org_id=%s report_id=%s period=%s",
            organization.id,
            report.id,
            slot.period.slug,
        )
    return queued
