"""Analyse one site: read its data, run the plugins, keep KPIs, series, opportunities, alerts."""

from __future__ import annotations

import logging
import time

from flask import current_app

from cei.extensions import db
from cei.models import AnalysisRun, Organization, Site, SiteAnalysis
from cei.models.types import utcnow
from cei.services.analytics import alerts, inputs, shapes
from cei.services.analytics.context import (
    DEFAULT_HISTORY_DAYS,
    build_context,
    organization_overrides,
)
from cei.services.analytics.factors import priced
from cei.services.analytics.kpis import compute_kpis
from cei.services.errors import NotFound

log = logging.getLogger("cei.analytics")

# Actual vs expected kept per site for the baseline endpoint (four weeks of hours).
BASELINE_KEEP_HOURS = 28 * 24


def analyse_site(site_pk, trigger="manual", now=None, run=None):
    """Analyse site ``site_pk`` as of ``now`` and keep the results; return the run row.

    ``run`` is the queued-then-claimed row of a job; without one (a direct call) a row is
    made here. The caller commits; on an exception nothing of the analysis is kept.
    """
    site = db.session.get(Site, site_pk)
    if site is None:
        raise NotFound(f"Site {site_pk} not found")
    organization = db.session.get(Organization, site.organization_id)
    now = now or utcnow()
    if run is None:
        run = AnalysisRun(
            organization_id=site.organization_id,
            site_pk=site.id,
            status="running",
            trigger=trigger,
            queued_at=now,
            started_at=utcnow(),
        )
        db.session.add(run)
        db.session.flush()
    started = time.perf_counter()
    history_days = current_app.config.get("ANALYTICS_HISTORY_DAYS", DEFAULT_HISTORY_DAYS)
    context, factors, read_ms = build_context(site, organization, now, history_days)
    registry = inputs.plugin_registry(current_app)
    outcomes = inputs.run_plugins(registry, context, organization_overrides(organization))

    baseline_data = outcome_data(outcomes.get("baseline"))
    expected = shapes.baseline_series(baseline_data)
    quality = shapes.baseline_quality(baseline_data)
    end_ts = int(shapes.epoch_seconds(context.series.index[-1:])[0]) + 3600
    result = _site_analysis(site)
    result.run_id = run.id
    result.analysed_at = context.now.to_pydatetime()
    result.updated_at = utcnow()
    result.kpis = compute_kpis(
        context.series,
        expected,
        end_ts,
        factors,
        quality,
        deviation=outcome_data(outcomes.get("deviation")),
    )
    result.baseline = _baseline_json(context, expected, quality)
    result.forecast = shapes.forecast_json(outcome_data(outcomes.get("forecast")), factors)
    result.opportunities = priced_opportunities(outcomes, factors)

    findings = [
        (name, finding)
        for name, outcome in outcomes.items()
        if outcome.status == "ok" and outcome.result is not None
        for finding in outcome.result.findings
    ]
    counts = (0, 0, 0)
    if organization.enable_alerts:
        counts = alerts.record_findings(site, findings, factors, now=utcnow())

    run.read_ms = round(read_ms, 3)
    run.plugins = {
        name: {
            "status": outcome.status,
            "version": getattr(outcome, "version", None),
            "duration_ms": round(outcome.duration_ms, 3),
            "error": outcome.error,
            "findings": len(outcome.result.findings) if outcome.result else 0,
            "opportunities": len(outcome.result.opportunities) if outcome.result else 0,
            "data": shapes.plugin_summary(outcome_data(outcome)),
        }
        for name, outcome in outcomes.items()
    }
    failed = sorted(name for name, outcome in outcomes.items() if outcome.status == "failed")
    run.error = f"plugins failed: {', '.join(failed)}" if failed else None
    db.session.flush()
    log.info(
        "site analysed org_id=%s site_pk=%s run_id=%s trigger=%s plugins=%d failed=%d "
        "alerts_created=%d alerts_updated=%d read_ms=%.1f total_ms=%.1f",
        site.organization_id,
        site.id,
        run.id,
        run.trigger,
        len(outcomes),
        len(failed),
        counts[0],
        counts[1],
        read_ms,
        (time.perf_counter() - started) * 1000,
    )
    return run


def outcome_data(outcome):
    """The result data of a plugin's outcome, or None when it did not run or failed."""
    if outcome is None or outcome.status != "ok" or outcome.result is None:
        return None
    return outcome.result.data


def _site_analysis(site):
    result = db.session.get(SiteAnalysis, site.id)
    if result is None:
        result = SiteAnalysis(site_pk=site.id, organization_id=site.organization_id)
        db.session.add(result)
    return result


def _baseline_json(context, expected, quality):
    """Actual vs expected for the last four weeks of hours, as ``[[ts, actual, exp], ...]``."""
    series = context.series.iloc[-BASELINE_KEEP_HOURS:]
    stamps = shapes.epoch_seconds(series.index)
    if expected is not None:
        aligned = expected.tz_convert("UTC").reindex(series.index.tz_convert("UTC"))
        expected_values = aligned.to_numpy(dtype=float, na_value=float("nan"))
    else:
        expected_values = [None] * len(series)
    points = [
        [int(ts), shapes.number(actual), shapes.number(exp)]
        for ts, actual, exp in zip(
            stamps, series.to_numpy(dtype=float), expected_values, strict=True
        )
    ]
    return {"timezone": context.timezone, "quality": quality, "points": points}


def priced_opportunities(outcomes, factors):
    """Every plugin's savings opportunities with kWh, € and kgCO₂e per week and per year,
    largest yearly saving first."""
    items = []
    for name, outcome in outcomes.items():
        if outcome.status != "ok" or outcome.result is None:
            continue
        for opportunity in outcome.result.opportunities:
            items.append(
                {
                    "plugin": name,
                    "kind": str(opportunity.kind),
                    "title": str(opportunity.title),
                    **priced("per_week", shapes.number(opportunity.kwh_per_week), factors),
                    **priced("per_year", shapes.number(opportunity.kwh_per_year), factors),
                    "currency": factors.currency,
                    "method": str(opportunity.method),
                    "details": shapes.jsonable(opportunity.details) or {},
                }
            )
    items.sort(key=lambda item: -(item["per_year_kwh"] or 0.0))
    return items
