"""Hand-built report inputs with known figures (no database, no analytics)."""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import SimpleNamespace

import numpy as np
import pandas as pd

from cei.services.reports.content import SiteInputs, assemble_site, portfolio_totals
from cei.services.reports.data import AlertRow, ReportData
from cei.services.reports.periods import period_ending

HOUR = 3600
GENERATED = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Factors:
    """The analytics' money and carbon factors (same rounding)."""

    tariff: float = 0.25
    currency: str = "EUR"
    emission_factor: float = 0.2

    def cost(self, kwh):
        return None if kwh is None else round(kwh * self.tariff, 2)

    def co2e_kg(self, kwh):
        return None if kwh is None else round(kwh * self.emission_factor, 4)


def hourly(period, timezone, load, days_before=7, expected=None, missing=()):
    """Hourly kWh from ``days_before`` days before the period to its end.

    ``load(local_timestamp) -> kWh``; ``expected`` likewise for the baseline (None: none);
    ``missing``: UTC epoch seconds of hours without data.
    """
    start = period.start_ts - days_before * 86400 - 2 * HOUR
    stamps = np.arange(start, period.end_ts, HOUR)
    index = pd.DatetimeIndex(pd.to_datetime(stamps, unit="s", utc=True)).tz_convert(timezone)
    actual = pd.Series([float(load(ts)) for ts in index], index=index)
    actual[np.isin(stamps, list(missing))] = np.nan
    base = None
    if expected is not None:
        base = pd.Series([float(expected(ts)) for ts in index], index=index)
    return actual, base


def site(site_id="plant-1", name="Plant One", timezone="UTC", location="Brescia"):
    """A stand-in for a Site row."""
    return SimpleNamespace(site_id=site_id, name=name, timezone=timezone, location=location)


def working_load(ts):
    """20 kWh/h in working hours (Mon-Fri 07-19), 5 kWh/h otherwise."""
    return 20.0 if ts.day_of_week < 5 and 7 <= ts.hour < 19 else 5.0


def site_report(
    last=date(2026, 11, 22),
    site_ref=None,
    load=working_load,
    expected=lambda ts: 0.9 * working_load(ts),
    missing=(),
    alerts=(),
    opportunities=(),
    quality=None,
    factors=None,
):
    """A SiteReport from a known load (default: 10 % above its baseline)."""
    site_ref = site_ref or site()
    period = period_ending(last, site_ref.timezone)
    actual, base = hourly(period, site_ref.timezone, load, expected=expected, missing=missing)
    quality = quality or {
        "state": "ready",
        "method": "Time-of-week profile over 8 weeks.",
        "cv_rmse_pct": 12.5,
        "nmbe_pct": -1.25,
        "history_days": 63,
    }
    inputs = SiteInputs(actual, base, quality, list(opportunities))
    return assemble_site(site_ref, period, inputs, factors or Factors(), alerts)


def report(sites, kind=None, organization_name="Acme Plant"):
    """A ReportData over ``sites`` (SiteReports)."""
    kind = kind or ("site" if len(sites) == 1 else "portfolio")
    return ReportData(
        kind=kind,
        organization_name=organization_name,
        currency="EUR",
        generated_at=GENERATED,
        period=sites[0].period,
        sites=list(sites),
        totals=portfolio_totals(sites),
    )


def alert(site_id="plant-1", message="Night consumption 40 % above base load", **changes):
    """An AlertRow inside the sample period."""
    values = {
        "site_id": site_id,
        "kind": "night_waste",
        "severity": "warning",
        "status": "open",
        "period_start": datetime(2026, 11, 18, 22, 0, tzinfo=UTC),
        "period_end": datetime(2026, 11, 19, 6, 0, tzinfo=UTC),
        "message": message,
        "kwh_impact": 32.5,
        "cost_impact": 8.13,
        "meter_id": None,
    }
    values.update(changes)
    return AlertRow(**values)


OPPORTUNITY = {
    "kind": "night_waste",
    "title": "Switch off night loads",
    "per_week_kwh": 70.0,
    "per_week_cost": 17.5,
    "per_year_kwh": 3650.0,
    "per_year_cost": 912.5,
    "method": "Night consumption above the base load, median of 4 weeks.",
}
