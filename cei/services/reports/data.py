"""A report as plain data: a dataclass tree the PDF and CSV are both rendered from.

Energy is kWh, money is in the organization's currency, carbon is kgCO2e. ``None`` means
"not known" (no data, no baseline yet) and is shown as a dash, never as zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(frozen=True)
class Period:
    """Seven site-local calendar days, ``first`` to ``last`` inclusive, in ``timezone``.

    ``start_ts``/``end_ts`` are the UTC epoch seconds of local midnight before ``first`` and
    after ``last`` (a DST week is 167 or 169 hours long).
    """

    first: date
    last: date
    timezone: str
    start_ts: int
    end_ts: int

    @property
    def hours(self):
        """The number of hours in the period."""
        return (self.end_ts - self.start_ts) // 3600

    @property
    def label(self):
        """The period as people read it, e.g. ``16–22 Nov 2026``."""
        first, last = self.first, self.last
        if first.year != last.year:
            return f"{first.day} {first:%b %Y} – {last.day} {last:%b %Y}"
        if first.month != last.month:
            return f"{first.day} {first:%b} – {last.day} {last:%b %Y}"
        return f"{first.day}–{last.day} {last:%b %Y}"

    @property
    def slug(self):
        """The period for file names: ``2026-11-16_2026-11-22``."""
        return f"{self.first.isoformat()}_{self.last.isoformat()}"


@dataclass
class Kpis:
    """The key figures of the period (a site's, or the portfolio's totals)."""

    kwh: float | None = None
    cost: float | None = None
    co2e_kg: float | None = None
    baseline_kwh: float | None = None
    baseline_cost: float | None = None
    deviation_pct: float | None = None  # actual vs baseline over the hours with both
    previous_kwh: float | None = None  # the 7 days before
    change_pct: float | None = None  # this 7 d vs the previous 7 d
    coverage_pct: float | None = None  # hours with data / hours of the period

    @property
    def excess_kwh(self):
        """kWh above (positive) or below the baseline, or None without one."""
        if self.kwh is None or self.baseline_kwh is None:
            return None
        return round(self.kwh - self.baseline_kwh, 3)

    @property
    def excess_cost(self):
        """What the kWh above (positive) or below the baseline cost, or None."""
        if self.cost is None or self.baseline_cost is None:
            return None
        return round(self.cost - self.baseline_cost, 2)


@dataclass
class DayRow:
    """One site-local day of the period."""

    day: date
    hours: int  # 23, 24 or 25
    hours_with_data: int
    kwh: float | None
    baseline_kwh: float | None
    deviation_pct: float | None
    cost: float | None
    co2e_kg: float | None
    peak_hour: str | None  # local start of the day's largest hour, "HH:00"
    peak_kwh: float | None


@dataclass
class ProfileHour:
    """The average kWh of one local hour of the day over the period."""

    hour: int  # 0..23, local
    kwh: float | None
    baseline_kwh: float | None


@dataclass
class AlertRow:
    """An alert whose period overlaps the report's, with its status now."""

    site_id: str
    kind: str
    severity: str
    status: str
    period_start: datetime  # site-local
    period_end: datetime
    message: str
    kwh_impact: float | None
    cost_impact: float | None
    meter_id: str | None = None


@dataclass
class OpportunityRow:
    """A saving the energy manager could make."""

    site_id: str
    title: str
    kind: str
    kwh_per_week: float | None
    cost_per_week: float | None
    kwh_per_year: float | None
    cost_per_year: float | None
    method: str


@dataclass
class Gap:
    """A run of local hours without data."""

    start: datetime  # site-local start of the first missing hour
    end: datetime  # site-local end of the last missing hour
    hours: int


@dataclass
class Methodology:
    """How the figures were made: the baseline's fit and the data's completeness."""

    baseline_state: str  # "ready", "warming_up" or "unavailable"
    baseline_method: str  # plain words
    cv_rmse_pct: float | None
    nmbe_pct: float | None
    history_days: float | None
    hours_expected: int
    hours_with_data: int
    gaps: list[Gap] = field(default_factory=list)

    @property
    def missing_hours(self):
        """Hours of the period without data."""
        return self.hours_expected - self.hours_with_data

    @property
    def has_gaps(self):
        """Tell whether any hour of the period has no data."""
        return self.missing_hours > 0


@dataclass
class SiteReport:
    """Everything the report says about one site."""

    site_id: str
    name: str
    timezone: str
    location: str | None
    currency: str
    tariff_per_kwh: float
    emission_factor_kg_per_kwh: float
    period: Period
    kpis: Kpis
    days: list[DayRow]
    profile: list[ProfileHour]
    alerts: list[AlertRow]
    opportunities: list[OpportunityRow]
    methodology: Methodology


@dataclass
class ReportData:
    """A 7-day report: one site (``kind="site"``) or the whole portfolio."""

    kind: str  # "site" or "portfolio"
    organization_name: str
    currency: str
    generated_at: datetime  # aware, UTC
    period: Period  # a site's own period, or the portfolio's in the organization's timezone
    sites: list[SiteReport]
    totals: Kpis
    alerts_enabled: bool = True

    @property
    def title(self):
        """The report's title line."""
        if self.kind == "site":
            return f"7-day energy report — {self.sites[0].name}"
        return "7-day energy report — portfolio"

    @property
    def opportunities(self):
        """Every site's opportunities, largest yearly saving first."""
        items = [item for site in self.sites for item in site.opportunities]
        return sorted(items, key=lambda item: -(item.kwh_per_year or 0.0))

    @property
    def alerts(self):
        """Every site's alerts of the period, newest first."""
        items = [item for site in self.sites for item in site.alerts]
        return sorted(items, key=lambda item: item.period_start, reverse=True)
