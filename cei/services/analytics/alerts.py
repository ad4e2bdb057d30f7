"""Alerts: raised from plugin findings without duplicates, then handled by people.

Deduplication: a finding's ``key`` names its condition and period, and ``(site, key)`` is
unique. Seeing the same key again updates that alert (figures, message, ``last_seen_at``,
``occurrences``) and never adds another, whatever its status:

- ``open`` / ``ack``: updated, status kept.
- ``muted``: updated, stays muted (muting is "do not tell me about this again").
- ``resolved``: stays resolved while the evidence is what it was when resolved; if the
  condition goes on *after* the resolution (the finding's period now ends later than it did
  and later than the moment it was resolved, e.g. a meter still silent, a base-load drift
  still going on), it is re-opened with a note from the analysis, and ``reopened`` counts
  it. A finding about a fixed past period (one spike at 10:00 on Tuesday) therefore never
  re-opens by itself.

Workflow (people): open → ack → resolved, any → muted, muted/resolved → open (re-open);
every change may carry a note, and records who and when.
"""

from __future__ import annotations

import logging
from datetime import datetime

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from cei.extensions import db
from cei.models import Alert, AlertNote, Site
from cei.models.alert import ALERT_STATUSES
from cei.models.types import utcnow
from cei.plugins.base import SEVERITIES
from cei.services.analytics.shapes import jsonable, number
from cei.services.errors import NotFound, ServiceError

log = logging.getLogger("cei.alerts")

# Who may move an alert from which status to which (people; the analysis only re-opens).
TRANSITIONS = {
    "open": {"ack", "resolved", "muted"},
    "ack": {"open", "resolved", "muted"},
    "resolved": {"open", "muted"},
    "muted": {"open"},
}
# What each move is called where people make it (the web app's buttons), in button order.
TRANSITION_LABELS = {
    "ack": "Acknowledge",
    "resolved": "Resolve",
    "muted": "Mute",
    "open": "Re-open",
}
STATUS_LABELS = {
    "open": "Open",
    "ack": "Acknowledged",
    "resolved": "Resolved",
    "muted": "Muted",
}
# The kinds of alert the built-in plugins raise, in plain words (others show their code).
KIND_LABELS = {
    "deviation_24h": "Above baseline (24 h)",
    "deviation_7d": "Above baseline (7 days)",
    "spike": "Spike",
    "level_shift": "Level shift",
    "night_waste": "Night waste",
    "weekend_waste": "Weekend waste",
    "baseload_drift": "Base load drift",
    "meter_silent": "Silent meter",
    "low_coverage": "Missing data",
}
MAX_NOTE_LENGTH = 4000
MAX_KEY_LENGTH = 255


class InvalidTransition(ServiceError):
    """The alert cannot go from its status to the one asked."""

    status = 409
    code = "INVALID_STATUS_TRANSITION"


def _aware(moment):
    stamp = pd.Timestamp(moment)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return stamp.tz_convert("UTC").to_pydatetime()


def _clean_findings(findings):
    """Last finding per key wins (a plugin may repeat itself); bad ones are dropped."""
    by_key = {}
    for plugin_name, finding in findings:
        key = str(finding.key or "")[:MAX_KEY_LENGTH]
        if not key:
            log.warning("finding without key from %s dropped", plugin_name)
            continue
        by_key[key] = (plugin_name, finding)
    return by_key


def record_findings(site, findings, factors, now=None):
    """Create or update the site's alerts from ``[(plugin name, Finding), ...]``.

    Returns ``(created, updated, reopened)`` counts.
    """
    now = now or utcnow()
    by_key = _clean_findings(findings)
    if not by_key:
        return 0, 0, 0
    existing = {
        alert.dedupe_key: alert
        for alert in db.session.scalars(
            select(Alert).where(Alert.site_pk == site.id, Alert.dedupe_key.in_(list(by_key)))
        )
    }
    created = updated = reopened = 0
    for key, (plugin_name, finding) in by_key.items():
        kwh = number(finding.kwh_impact) or 0.0
        severity = finding.severity if finding.severity in SEVERITIES else "warning"
        values = {
            "kind": str(finding.kind)[:64],
            "severity": severity,
            "meter_id": None if finding.meter_id is None else str(finding.meter_id)[:100],
            "period_start": _aware(finding.period_start),
            "period_end": _aware(finding.period_end),
            "kwh_impact": kwh,
            "cost_impact": factors.cost(kwh),
            "currency": factors.currency,
            "co2e_kg_impact": factors.co2e_kg(kwh),
            "message": str(finding.message),
            "details": {"plugin": plugin_name, **(jsonable(finding.details) or {})},
        }
        alert = existing.get(key)
        if alert is None:
            db.session.add(
                Alert(
                    organization_id=site.organization_id,
                    site_pk=site.id,
                    dedupe_key=key,
                    status="open",
                    first_seen_at=now,
                    last_seen_at=now,
                    occurrences=1,
                    **values,
                )
            )
            created += 1
            continue
        if _continued_after_resolution(alert, values["period_end"]):
            _stamp(alert, "open", None, now)
            alert.status = "open"
            alert.reopened += 1
            alert.notes.append(
                AlertNote(
                    text="Re-opened by the analysis: the condition continued after it was "
                    "resolved.",
                    status_change="open",
                    created_at=now,
                )
            )
            reopened += 1
        for name, value in values.items():
            setattr(alert, name, value)
        alert.last_seen_at = now
        alert.occurrences += 1
        updated += 1
    db.session.flush()
    return created, updated, reopened


def _continued_after_resolution(alert, period_end):
    """Tell whether a resolved alert's condition has new evidence from after its resolution."""
    if alert.status != "resolved" or alert.resolved_at is None:
        return False
    return period_end > _aware(alert.period_end) and period_end > _aware(alert.resolved_at)


# --- people ---------------------------------------------------------------------------------


def get_alert(organization, alert_id):
    """Return the organization's alert ``alert_id`` or raise ``NotFound``."""
    alert = db.session.get(Alert, alert_id)
    if alert is None or alert.organization_id != organization.id:
        raise NotFound(f"Alert {alert_id} not found")
    return alert


def list_alerts(
    organization,
    status=None,
    severity=None,
    kind=None,
    site=None,
    start=None,
    end=None,
    limit=100,
    offset=0,
):
    """Return ``(total, alerts)`` of the organization, newest period first.

    ``start``/``end`` keep the alerts whose period overlaps ``[start, end)``.
    """
    query = select(Alert).where(Alert.organization_id == organization.id)
    if status:
        query = query.where(Alert.status.in_(status))
    if severity:
        query = query.where(Alert.severity.in_(severity))
    if kind:
        query = query.where(Alert.kind.in_(kind))
    if site is not None:
        query = query.where(Alert.site_pk == site.id)
    if start is not None:
        query = query.where(Alert.period_end > start)
    if end is not None:
        query = query.where(Alert.period_start < end)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.scalars(
        query.options(selectinload(Alert.notes))
        .order_by(Alert.period_start.desc(), Alert.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return total, rows


def change_alert(alert, user, status=None, note=None, now=None):
    """Move ``alert`` to ``status`` and/or add ``note``, recording who and when."""
    now = now or utcnow()
    note = (note or "").strip()
    if len(note) > MAX_NOTE_LENGTH:
        raise ServiceError(
            f"A note holds at most {MAX_NOTE_LENGTH} characters",
            code="VALIDATION_ERROR",
            status=422,
            detail={"note": ["Too long"]},
        )
    if status is None and not note:
        raise ServiceError("Send a status, a note, or both", code="VALIDATION_ERROR", status=422)
    if status is not None and status != alert.status:
        if status not in ALERT_STATUSES or status not in TRANSITIONS[alert.status]:
            raise InvalidTransition(
                f"An alert cannot go from {alert.status!r} to {status!r}",
                detail={
                    "from": alert.status,
                    "to": status,
                    "allowed": sorted(TRANSITIONS[alert.status]),
                },
            )
        _stamp(alert, status, user, now)
        alert.status = status
    elif status is not None:
        status = None  # already there: idempotent, only the note (if any) is added
    if note or status:
        alert.notes.append(
            AlertNote(
                text=note or f"Status changed to {status}.",
                user_id=user.id if user else None,
                status_change=status,
                created_at=now,
            )
        )
    alert.updated_at = now
    db.session.flush()
    log.info(
        "alert changed org_id=%s alert_id=%s status=%s by=%s",
        alert.organization_id,
        alert.id,
        alert.status,
        user.id if user else None,
    )
    return alert


def _stamp(alert, status, user, now: datetime):
    who = user.id if user else None
    if status == "ack":
        alert.acknowledged_at, alert.acknowledged_by_id = now, who
    elif status == "resolved":
        alert.resolved_at, alert.resolved_by_id = now, who
    elif status == "muted":
        alert.muted_at, alert.muted_by_id = now, who
    elif status == "open":
        alert.resolved_at = alert.resolved_by_id = None
        alert.muted_at = alert.muted_by_id = None


def open_alert_counts(organization):
    """Return ``{site_pk: {"open": n, "critical": n}}`` of alerts still open or acknowledged."""
    rows = db.session.execute(
        select(Alert.site_pk, Alert.severity, func.count())
        .where(Alert.organization_id == organization.id, Alert.status.in_(("open", "ack")))
        .group_by(Alert.site_pk, Alert.severity)
    )
    counts = {}
    for site_pk, severity, count in rows:
        entry = counts.setdefault(site_pk, {"open": 0, "critical": 0, "warning": 0, "info": 0})
        entry["open"] += count
        if severity in entry:
            entry[severity] += count
    return counts


def site_of(alert):
    """Return the alert's site (for the API)."""
    return alert.site or db.session.get(Site, alert.site_pk)
