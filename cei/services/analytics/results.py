"""What the API reads back: a site's KPIs, baseline, forecast and opportunities; the portfolio."""

from __future__ import annotations

import threading
from collections import OrderedDict

from sqlalchemy import select

from cei.extensions import db
from cei.models import Organization, Site, SiteAnalysis
from cei.services.analytics.alerts import open_alert_counts
from cei.services.analytics.factors import site_factors
from cei.services.analytics.kpis import deviation_pct

HOUR = 3600
PORTFOLIO_FIGURES = (
    "last_24h_kwh",
    "last_24h_cost",
    "last_24h_co2e_kg",
    "baseline_24h_kwh",
    "baseline_24h_cost",
    "baseline_24h_co2e_kg",
    "deviation_pct_24h",
    "coverage_24h_pct",
    "last_7d_kwh",
    "last_7d_cost",
    "last_7d_co2e_kg",
    "baseline_7d_kwh",
    "baseline_7d_cost",
    "baseline_7d_co2e_kg",
    "deviation_pct_7d",
    "coverage_7d_pct",
)
# Parsed baselines by (database, site pk, run id, updated_at): the dashboard needs every
# site's hourly baseline on each request, and decoding the stored JSON cost ≈ 1 ms a site
# (bench/web.py, 50 sites on SQLite: dashboard median 279-379 ms without this, 137 ms with).
# A new analysis changes the key, so a stale entry is never read; only a cache, so another
# web process just fills its own.
_EXPECTED_CACHE: OrderedDict = OrderedDict()
_EXPECTED_CACHE_SIZE = 4096
_EXPECTED_LOCK = threading.Lock()
TOTALS = tuple(name for name in PORTFOLIO_FIGURES if name.endswith(("_kwh", "_cost", "_co2e_kg")))


def _stored(site):
    return db.session.get(SiteAnalysis, site.id)


def _header(site, stored):
    return {
        "site_id": site.site_id,
        "timezone": site.timezone,
        "state": "analysed" if stored is not None else "pending",
        "analysed_at": stored.analysed_at if stored is not None else None,
        "updated_at": stored.updated_at if stored is not None else None,
        "run_id": stored.run_id if stored is not None else None,
    }


def site_kpis(site):
    """Return the site's latest KPIs (``state: pending`` before its first analysis)."""
    stored = _stored(site)
    factors = site_factors(site)
    kpis = dict(stored.kpis) if stored is not None else {}
    kpis.pop("period_end", None)
    return {**_header(site, stored), "factors": factors.describe(), **kpis}


def site_baseline(site, window):
    """Return actual vs expected kWh per hour inside ``window`` (epoch seconds, half-open)."""
    stored = _stored(site)
    baseline = stored.baseline if stored is not None else {}
    points = [
        {"ts": ts, "actual_kwh": actual, "expected_kwh": expected}
        for ts, actual, expected in baseline.get("points", ())
        if window.start <= ts < window.end
    ]
    return {
        **_header(site, stored),
        "from_ts": window.start,
        "to_ts": window.end,
        "quality": baseline.get("quality", {}),
        "points": points,
    }


def expected_by_site(organization: Organization):
    """Return ``{site pk: {hour start: expected kWh}}`` of every analysed site of the
    organization (the hours its stored baseline covers, about four weeks), for the
    dashboard's portfolio baseline. Treat the inner mappings as read-only: they are shared.
    """
    versions = db.session.execute(
        select(SiteAnalysis.site_pk, SiteAnalysis.run_id, SiteAnalysis.updated_at).where(
            SiteAnalysis.organization_id == organization.id
        )
    ).all()
    # The database is part of the key: one process may serve several (tests, benches).
    database = str(db.engine.url)
    keys = {
        site_pk: (database, site_pk, run_id, updated_at) for site_pk, run_id, updated_at in versions
    }
    with _EXPECTED_LOCK:
        found = {pk: _EXPECTED_CACHE.get(key) for pk, key in keys.items()}
    stale = [pk for pk, expected in found.items() if expected is None]
    if stale:
        rows = db.session.execute(
            select(SiteAnalysis.site_pk, SiteAnalysis.baseline).where(
                SiteAnalysis.site_pk.in_(stale)
            )
        )
        for site_pk, baseline in rows:
            expected = {
                ts: value
                for ts, _, value in (baseline or {}).get("points", ())
                if value is not None
            }
            found[site_pk] = expected
            with _EXPECTED_LOCK:
                _EXPECTED_CACHE[keys[site_pk]] = expected
                while len(_EXPECTED_CACHE) > _EXPECTED_CACHE_SIZE:
                    _EXPECTED_CACHE.popitem(last=False)
    return {pk: expected for pk, expected in found.items() if expected is not None}


def site_forecast(site, horizon_hours):
    """Return the next ``horizon_hours`` of the site's forecast (expected, lower, upper)."""
    stored = _stored(site)
    forecast = stored.forecast if stored is not None else {}
    points = forecast.get("points", ())
    first = points[0][0] if points else None
    kept = [
        {"ts": ts, "expected_kwh": expected, "lower_kwh": lower, "upper_kwh": upper}
        for ts, expected, lower, upper in points
        if ts < first + horizon_hours * HOUR
    ]
    return {
        **_header(site, stored),
        "method": forecast.get("method"),
        "horizon_hours": horizon_hours,
        "details": forecast.get("details", {}),
        "points": kept,
    }


def site_opportunities(site):
    """Return the site's savings opportunities, largest first."""
    stored = _stored(site)
    items = list(stored.opportunities) if stored is not None else []
    factors = site_factors(site)
    return {**_header(site, stored), "currency": factors.currency, "opportunities": items}


def _opportunities_total(items):
    """Return what a site's opportunities save per year together (None before an analysis)."""
    if items is None:
        return {
            "opportunities": 0,
            "opportunities_per_year_kwh": None,
            "opportunities_per_year_cost": None,
        }
    return {
        "opportunities": len(items),
        "opportunities_per_year_kwh": round(
            sum(item.get("per_year_kwh") or 0.0 for item in items), 3
        ),
        "opportunities_per_year_cost": round(
            sum(item.get("per_year_cost") or 0.0 for item in items), 2
        ),
    }


def portfolio(organization: Organization):
    """Return every site's 24 h and 7 d figures, open alerts and coverage, with totals."""
    sites = db.session.scalars(
        select(Site).where(Site.organization_id == organization.id).order_by(Site.site_id)
    ).all()
    stored = {
        row.site_pk: row
        for row in db.session.execute(
            select(
                SiteAnalysis.site_pk,
                SiteAnalysis.analysed_at,
                SiteAnalysis.kpis,
                SiteAnalysis.opportunities,
            ).where(SiteAnalysis.organization_id == organization.id)
        )
    }
    alert_counts = open_alert_counts(organization) if organization.enable_alerts else {}
    rows, totals = [], dict.fromkeys(TOTALS, 0.0)
    # Deviation of the whole portfolio: over the sites that have both figures.
    compared = {"24h": [0.0, 0.0], "7d": [0.0, 0.0]}
    for site in sites:
        result = stored.get(site.id)
        kpis = result.kpis if result is not None else {}
        row = {
            "site_id": site.site_id,
            "name": site.name,
            "timezone": site.timezone,
            "state": "analysed" if result is not None else "pending",
            "analysed_at": result.analysed_at if result is not None else None,
            **{name: kpis.get(name) for name in PORTFOLIO_FIGURES},
            "open_alerts": alert_counts.get(site.id, {}).get("open", 0),
            "open_critical_alerts": alert_counts.get(site.id, {}).get("critical", 0),
            **_opportunities_total(result.opportunities if result is not None else None),
        }
        for name in TOTALS:
            if row[name] is not None:
                totals[name] += row[name]
        for window, sums in compared.items():
            expected, deviation = row[f"baseline_{window}_kwh"], row[f"deviation_pct_{window}"]
            if expected is not None and deviation is not None:
                sums[0] += expected * (1 + deviation / 100)
                sums[1] += expected
        rows.append(row)
    totals = {name: round(value, 3) for name, value in totals.items()}
    for window, (actual, expected) in compared.items():
        totals[f"deviation_pct_{window}"] = deviation_pct(actual, expected)
    totals["open_alerts"] = sum(row["open_alerts"] for row in rows)
    totals["opportunities_per_year_cost"] = round(
        sum(row["opportunities_per_year_cost"] or 0.0 for row in rows), 2
    )
    return {
        "currency": organization.currency,
        "alerts_enabled": organization.enable_alerts,
        "sites": rows,
        "totals": totals,
    }
