"""The web app's read model: what the dashboard, the sites list and the site view show.

Everything here comes from the read services (``readings``, ``coverage``) and the analytics
services (``analytics.results``, ``analytics.alerts``) at the level of their public
functions, so it follows them when they change. The analytics figures (baseline, deviation,
forecast band, alerts, opportunities, kgCO₂e) sit in :class:`SiteAnalytics` and
:class:`PortfolioAnalytics`, filled by :func:`load_site_analytics` (the site view),
:func:`load_sites_analytics` (every site's KPIs for the lists, a fixed number of queries)
and :func:`load_portfolio_analytics`, with :func:`list_alerts` and :func:`change_alert`
beside them; a site not analysed yet has them empty and the pages say so.
:func:`list_report_documents` stays empty until reports land.
"""

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from cei.extensions import db
from cei.models import Organization
from cei.models.alert import ALERT_STATUSES as MODEL_ALERT_STATUSES
from cei.services import coverage as coverage_service
from cei.services import sites as site_service
from cei.services.analytics import alerts as alert_service
from cei.services.analytics import results as analytics_results
from cei.services.analytics.factors import site_factors
from cei.services.export import FORMULA_STARTS
from cei.services.readings import (
    ReadScope,
    double_counting,
    hour_sums_many,
    series,
    site_layouts,
    summarize,
)
from cei.services.reports import jobs as report_jobs
from cei.services.windows import HOUR, Window, last_hours, utcnow

DAY_HOURS = 24
WEEK_HOURS = 7 * 24


@dataclass(frozen=True)
class Energy:
    """An amount of energy with what it costs (and, once known, what it emits)."""

    kwh: float | None
    cost: float | None
    # kgCO₂e of the same energy (the analytics' emission factor rule: site, else organization).
    kgco2e: float | None = None


@dataclass
class SiteAnalytics:
    """Analytics of one site: every field stays None / empty until its first analysis.

    Series are lists of kWh aligned with the hourly points of the site view's charts
    (``None`` where there is no value).
    """

    baseline_24h_kwh: float | None = None
    baseline_7d_kwh: float | None = None
    deviation_24h_pct: float | None = None
    deviation_7d_pct: float | None = None
    baseline_24h: list | None = None
    baseline_7d: list | None = None
    # The next 24 hours after the 24 h chart: {"ts": [epoch…], "value": [...],
    # "lower": [...], "upper": [...]}.
    forecast_24h: dict | None = None
    # The baseline/forecast card: method name, fit quality ({"cv_rmse": %, "nmbe": %}), and
    # whether the baseline is still warming up (too little history), with the days it has.
    baseline_method: str | None = None
    fit_quality: dict | None = None
    warming_up: bool | None = None
    history_days: float | None = None
    open_alerts: int | None = None
    # The site's open alerts, as :func:`list_alerts` gives them.
    alerts: list = field(default_factory=list)
    # Dicts with at least: title, kwh_per_year, cost_per_year, method (how it was estimated).
    opportunities: list = field(default_factory=list)
    kgco2e_24h: float | None = None
    kgco2e_7d: float | None = None
    # The analysis' own windows (its last ended hours): the actual kWh the baseline and the
    # deviation compare with, and when it ran.
    analysed_24h_kwh: float | None = None
    analysed_7d_kwh: float | None = None
    analysed_at: object = None
    # What the site's opportunities save per year together (the lists' KPI field).
    opportunities_cost_per_year: float | None = None

    @property
    def available(self):
        """Tell whether analytics have produced a baseline for this site yet."""
        return self.baseline_24h_kwh is not None

    @property
    def forecast_next_24h(self):
        """``{"hours", "kwh", "lower_kwh", "upper_kwh", "first", "last"}`` of the forecast
        (sums over its hours; first/last hour starts in epoch seconds), or None."""
        band = self.forecast_24h
        if not band or not band["ts"]:
            return None

        def total(name):
            values = [value for value in band[name] if value is not None]
            return sum(values) if len(values) == len(band[name]) else None

        return {
            "hours": len(band["ts"]),
            "kwh": total("value"),
            "lower_kwh": total("lower"),
            "upper_kwh": total("upper"),
            "first": band["ts"][0],
            "last": band["ts"][-1],
        }


@dataclass
class PortfolioAnalytics:
    """Analytics of the whole organization (empty until a site has been analysed)."""

    open_alerts: int | None = None
    # The portfolio's expected kWh per hour of the 7-day chart: the sum of the sites'
    # baselines (None where a site with readings in that hour has no baseline).
    baseline_7d: list | None = None
    # Actual vs baseline over the sites that have both (the analytics portfolio totals).
    deviation_24h_pct: float | None = None
    deviation_7d_pct: float | None = None
    kgco2e_24h: float | None = None
    kgco2e_7d: float | None = None
    opportunities_cost_per_year: float | None = None


@dataclass
class SiteRow:
    """One site as the dashboard and the sites list show it."""

    site: object
    currency: str
    tariff_per_kwh: float
    last_24h: Energy
    last_7d: Energy
    coverage_24h_pct: float | None
    coverage_7d_pct: float | None
    last_reading: int | None
    meter_count: int
    summed_without_main: bool
    analytics: SiteAnalytics
    hourly_7d: list = field(default_factory=list, repr=False)
    # The hour starts of ``hourly_7d`` and the site's baseline for each (None: no baseline).
    hours_7d: list = field(default_factory=list, repr=False)
    baseline_hourly_7d: list = field(default_factory=list, repr=False)

    @property
    def has_data(self):
        """Tell whether the site has ever reported a reading."""
        return self.last_reading is not None


@dataclass
class Portfolio:
    """The organization's sites with their figures, totals and the last 7 days' chart."""

    organization: object
    rows: list
    last_24h: Energy
    last_7d: Energy
    # {"timezone", "ts": [epoch hour starts], "values": [kWh or None]}, None when not built.
    chart_7d: dict | None
    analytics: PortfolioAnalytics

    @property
    def has_sites(self):
        """Tell whether the organization has any site."""
        return bool(self.rows)

    @property
    def has_data(self):
        """Tell whether any site has reported a reading."""
        return any(row.has_data for row in self.rows)


@dataclass
class MeterRow:
    """A meter of the site view: its coverage, last reading and whether it counts in the total."""

    meter: object
    coverage_24h_pct: float | None
    coverage_7d_pct: float | None
    received_7d: int
    expected_7d: int
    last_reading: int | None
    counted: bool


@dataclass
class SiteOverview:
    """Everything the site view shows."""

    site: object
    currency: str
    tariff_per_kwh: float
    last_24h: Energy
    last_7d: Energy
    previous_7d: Energy
    change_7d_pct: float | None
    coverage_24h_pct: float | None
    coverage_7d_pct: float | None
    last_reading: int | None
    chart_24h: dict
    chart_7d: dict
    meters: list
    summed_without_main: bool
    analytics: SiteAnalytics

    @property
    def has_data(self):
        """Tell whether the site has ever reported a reading."""
        return self.last_reading is not None


def _kpi_fields(kpis, open_alerts):
    """The KPI fields of :class:`SiteAnalytics` from a site's stored KPIs."""
    return {
        "baseline_24h_kwh": kpis.get("baseline_24h_kwh"),
        "baseline_7d_kwh": kpis.get("baseline_7d_kwh"),
        "deviation_24h_pct": kpis.get("deviation_pct_24h"),
        "deviation_7d_pct": kpis.get("deviation_pct_7d"),
        "kgco2e_24h": kpis.get("last_24h_co2e_kg"),
        "kgco2e_7d": kpis.get("last_7d_co2e_kg"),
        "analysed_24h_kwh": kpis.get("last_24h_kwh"),
        "analysed_7d_kwh": kpis.get("last_7d_kwh"),
        "analysed_at": kpis.get("analysed_at"),
        "open_alerts": open_alerts,
    }


def _aligned(baseline_points, window):
    """Expected kWh per hour of ``window`` (None where the baseline has no value)."""
    expected = {point["ts"]: point["expected_kwh"] for point in baseline_points}
    return [expected.get(ts) for ts in range(window.start, window.end, HOUR)]


def _band(forecast):
    points = forecast["points"]
    if not points:
        return None
    return {
        "ts": [point["ts"] for point in points],
        "value": [point["expected_kwh"] for point in points],
        "lower": [point["lower_kwh"] for point in points],
        "upper": [point["upper_kwh"] for point in points],
    }


def _opportunity(item):
    return {
        "title": item.get("title"),
        "kind": item.get("kind"),
        "method": item.get("method"),
        "kwh_per_year": item.get("per_year_kwh"),
        "cost_per_year": item.get("per_year_cost"),
        "co2e_kg_per_year": item.get("per_year_co2e_kg"),
        "currency": item.get("currency"),
    }


def load_site_analytics(site, now=None):
    """Return the site's analytics figures from its latest analysis (empty before the first).

    The series are aligned with the hours of the site view's 24 h and 7 d charts.
    """
    now = now or utcnow()
    kpis = analytics_results.site_kpis(site)
    if kpis["state"] != "analysed":
        return SiteAnalytics()
    day, week = last_hours(DAY_HOURS, now), last_hours(WEEK_HOURS, now)
    baseline = analytics_results.site_baseline(site, Window(week.start, week.end, WEEK_HOURS))
    quality = kpis.get("baseline_quality") or baseline["quality"] or {}
    organization = db.session.get(Organization, site.organization_id)
    alerts = []
    if organization.enable_alerts:
        alerts = list_alerts(organization, status=OPEN_STATUSES, site_id=site.site_id)
    return SiteAnalytics(
        **_kpi_fields(kpis, len(alerts) if organization.enable_alerts else None),
        baseline_24h=_aligned(baseline["points"], day),
        baseline_7d=_aligned(baseline["points"], week),
        forecast_24h=_band(analytics_results.site_forecast(site, DAY_HOURS)),
        baseline_method=quality.get("method"),
        fit_quality={"cv_rmse": quality.get("cv_rmse_pct"), "nmbe": quality.get("nmbe_pct")}
        if quality.get("cv_rmse_pct") is not None
        else None,
        warming_up=quality.get("state") == "warming_up",
        history_days=quality.get("history_days"),
        alerts=alerts,
        opportunities=[
            _opportunity(item)
            for item in analytics_results.site_opportunities(site)["opportunities"]
        ],
    )


def load_sites_analytics(organization, sites, now=None):
    """Return ``{site.id: SiteAnalytics}`` (KPI fields only) for many sites in one go.

    For the dashboard, the sites list and the reports table, which need each site's KPIs
    (baseline and deviation, open alerts, kgCO₂e) but not its series; a site not analysed
    yet is left out (the pages show an empty :class:`SiteAnalytics`). A fixed number of
    queries whatever the number of sites (the analytics portfolio read).
    """
    return _sites_analytics(analytics_results.portfolio(organization), sites)


def _sites_analytics(summary, sites):
    by_site_id = {site.site_id: site for site in sites}
    found = {}
    for row in summary["sites"]:
        site = by_site_id.get(row["site_id"])
        if site is None or row["state"] != "analysed":
            continue
        found[site.id] = SiteAnalytics(
            **_kpi_fields(row, row["open_alerts"] if summary["alerts_enabled"] else None),
            opportunities_cost_per_year=row.get("opportunities_per_year_cost"),
        )
    return found


def load_portfolio_analytics(organization, rows, now=None):
    """Return the organization-wide analytics figures (open alerts, kgCO₂e, savings found)."""
    return _portfolio_analytics(organization, analytics_results.portfolio(organization), rows)


def _portfolio_analytics(organization, summary, rows):
    totals = summary["totals"]
    analysed = any(row.analytics.available for row in rows)
    return PortfolioAnalytics(
        open_alerts=totals.get("open_alerts") if organization.enable_alerts else None,
        deviation_24h_pct=totals.get("deviation_pct_24h") if analysed else None,
        deviation_7d_pct=totals.get("deviation_pct_7d") if analysed else None,
        kgco2e_24h=totals.get("last_24h_co2e_kg") if analysed else None,
        kgco2e_7d=totals.get("last_7d_co2e_kg") if analysed else None,
        opportunities_cost_per_year=totals.get("opportunities_per_year_cost") if analysed else None,
    )


def _energy(kwh, tariff, factors):
    return Energy(kwh=kwh, cost=None if kwh is None else kwh * tariff, kgco2e=factors.co2e_kg(kwh))


def _total_scope(site, meters, layout=None):
    return ReadScope(site, None, site_service.totals_meters(site, meters), layout=layout)


def _summed_without_main(site, meters):
    """The readings service's double-counting rule for the site total."""
    return double_counting(ReadScope(site, None, meters))["double_counting_risk"]


def _epoch(iso):
    """Epoch seconds of an ISO 8601 UTC stamp from the read services (None stays None)."""
    if iso is None:
        return None
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


def last_readings(meter_pks):
    """Return ``{meter_pk: epoch seconds of its latest reading}`` for meters that have one.

    One statement whatever the number of meters (the coverage service's last-seen probe).
    """
    return {pk: ts for pk, ts in coverage_service.last_seen(meter_pks).items() if ts is not None}


def _latest(meters, latest_by_meter):
    seen = [latest_by_meter[meter.id] for meter in meters if meter.id in latest_by_meter]
    return max(seen) if seen else None


def _kwh(summary):
    """The total of a summary, or None when no reading fell in its window."""
    return summary["total_value"] if summary["points"] else None


def _hourly(scope, window, sums=None):
    """Return ``(hour starts, kWh or None)`` of ``window`` from the series service."""
    points = series(scope, window, "hour", sums=sums)["points"]
    return [_epoch(point["ts"]) for point in points], [point["value"] for point in points]


def load_site_row(
    site,
    currency,
    now=None,
    with_series=False,
    analytics=None,
    latest_by_meter=None,
    layout=None,
    sums=None,
):
    """Return the dashboard figures of one site (its meters loaded with it).

    ``latest_by_meter`` is :func:`last_readings` of (at least) the site's meters, ``layout``
    its rollup layout, and ``sums`` its site total's hour sums over the last 24 hours and
    the last 7 days (``(day, week)``, :func:`cei.services.readings.hour_sums_many`), when
    the caller fetched them for many sites at once.
    """
    now = now or utcnow()
    tariff, _ = site_service.effective_tariff(site)
    factors = site_factors(site)
    meters = list(site.meters)
    scope = _total_scope(site, meters, layout)
    day, week = last_hours(DAY_HOURS, now), last_hours(WEEK_HOURS, now)
    sums_24h, sums_7d = sums or (None, None)
    summary_24h = summarize(scope, day, sums=sums_24h)
    summary_7d = summarize(scope, week, sums=sums_7d)
    last_7d = _kwh(summary_7d)
    if latest_by_meter is None:
        latest_by_meter = last_readings(scope.meter_pks)
    row = SiteRow(
        site=site,
        currency=currency,
        tariff_per_kwh=tariff,
        last_24h=_energy(_kwh(summary_24h), tariff, factors),
        last_7d=_energy(last_7d, tariff, factors),
        coverage_24h_pct=summary_24h["coverage_pct"],
        coverage_7d_pct=summary_7d["coverage_pct"],
        last_reading=_latest(scope.meters, latest_by_meter),
        meter_count=len(meters),
        summed_without_main=_summed_without_main(site, meters),
        analytics=analytics or SiteAnalytics(),
    )
    if with_series:
        row.hours_7d, row.hourly_7d = _hourly(scope, week, sums_7d)
    return row


def _sum_columns(columns):
    """Add lists of kWh position by position; a position stays None when every list has None."""
    totals = []
    for values in zip(*columns, strict=True):
        present = [value for value in values if value is not None]
        totals.append(sum(present) if present else None)
    return totals


def _portfolio_baseline(rows, expected_by_site):
    """Expected kWh of the whole portfolio per hour of the 7-day chart, or None.

    An hour's value adds the baselines of the sites that reported in it, so it compares with
    the actual line; it is None when one of them has no baseline for that hour (a site not
    analysed yet), or no site reported. None as a whole when no hour has a value.
    """
    for row in rows:
        expected = expected_by_site.get(row.site.id, {})
        row.baseline_hourly_7d = [expected.get(ts) for ts in row.hours_7d]
    values = []
    for hour in range(len(rows[0].hourly_7d) if rows else 0):
        reporting = [row for row in rows if row.hourly_7d[hour] is not None]
        expected = [row.baseline_hourly_7d[hour] for row in reporting]
        values.append(sum(expected) if reporting and None not in expected else None)
    return values if any(value is not None for value in values) else None


def _total(energies):
    def added(name):
        values = [getattr(energy, name) for energy in energies]
        values = [value for value in values if value is not None]
        return sum(values) if values else None

    return Energy(kwh=added("kwh"), cost=added("cost"), kgco2e=added("kgco2e"))


def load_portfolio(organization, with_chart=True, now=None):
    """Return every site of the organization with its figures, and the 7-day portfolio chart."""
    now = now or utcnow()
    sites = site_service.list_sites(organization)
    summary = analytics_results.portfolio(organization)
    analytics = _sites_analytics(summary, sites)
    # A fixed number of statements for every site's meter layout, latest readings and
    # site-total hour sums over the last 24 hours and 7 days.
    layouts = site_layouts(sites)
    latest = last_readings([meter.id for site in sites for meter in site.meters])
    scopes = [_total_scope(site, list(site.meters), layouts[site.id]) for site in sites]
    day, week = last_hours(DAY_HOURS, now), last_hours(WEEK_HOURS, now)
    sums = zip(hour_sums_many(scopes, day), hour_sums_many(scopes, week), strict=True)
    rows = [
        load_site_row(
            site,
            organization.currency,
            now,
            with_series=with_chart,
            analytics=analytics.get(site.id),
            latest_by_meter=latest,
            layout=layouts[site.id],
            sums=site_sums,
        )
        for site, site_sums in zip(sites, sums, strict=True)
    ]
    chart = None
    portfolio_analytics = _portfolio_analytics(organization, summary, rows)
    if with_chart:
        hours = list(range(week.start, week.end, HOUR))
        values = _sum_columns([row.hourly_7d for row in rows]) if rows else [None] * len(hours)
        if analytics:
            portfolio_analytics.baseline_7d = _portfolio_baseline(
                rows, analytics_results.expected_by_site(organization)
            )
        chart = make_chart(
            organization.timezone, hours, _lines(values, portfolio_analytics.baseline_7d)
        )
    return Portfolio(
        organization=organization,
        rows=rows,
        last_24h=_total([row.last_24h for row in rows]),
        last_7d=_total([row.last_7d for row in rows]),
        chart_7d=chart,
        analytics=portfolio_analytics,
    )


def make_chart(timezone, hours, lines, band=None):
    """Return what the charts script draws: hour starts, named lines of kWh, an optional band.

    ``band`` is ``{"ts", "lower", "upper"}`` (the forecast interval) drawn after the lines.
    """
    return {
        "timezone": timezone,
        "unit": "kWh",
        "ts": hours,
        "lines": [{"label": label, "values": values} for label, values in lines.items()],
        "band": band,
        "points": len(hours),
        "points_with_data": sum(value is not None for value in next(iter(lines.values()), [])),
    }


def _lines(actual, baseline):
    lines = {"Actual": actual}
    if baseline is not None:
        lines["Baseline"] = baseline
    return lines


def _change_pct(current, previous):
    if current is None or not previous:
        return None
    return 100.0 * (current - previous) / previous


def _meter_row(meter, day_entry, week_entry, counted):
    return MeterRow(
        meter=meter,
        coverage_24h_pct=day_entry["coverage_pct"],
        coverage_7d_pct=week_entry["coverage_pct"],
        received_7d=week_entry["received"],
        expected_7d=week_entry["expected"],
        last_reading=_epoch(week_entry["last_seen"]),
        counted=counted,
    )


def load_site_overview(organization, site_id, now=None):
    """Return the site view of ``site_id`` (``NotFound`` for a site not the organization's)."""
    now = now or utcnow()
    site = site_service.get_site(organization, site_id)
    tariff, currency = site_service.effective_tariff(site)
    factors = site_factors(site)
    meters = site_service.site_meters(site)
    layout = site_layouts([site])[site.id]
    scope = _total_scope(site, meters, layout)
    day, week = last_hours(DAY_HOURS, now), last_hours(WEEK_HOURS, now)
    before = Window(week.start - WEEK_HOURS * HOUR, week.start, WEEK_HOURS)
    summary_24h, summary_7d = summarize(scope, day), summarize(scope, week)
    last_7d, previous_7d = _kwh(summary_7d), _kwh(summarize(scope, before))
    every_meter = ReadScope(site, None, meters, layout=layout)
    report_24h = coverage_service.coverage(every_meter, day)
    report_7d = coverage_service.coverage(every_meter, week)
    counted = {meter.id for meter in scope.meters}
    by_id_24h = {entry["meter_id"]: entry for entry in report_24h["meters"]}
    by_id_7d = {entry["meter_id"]: entry for entry in report_7d["meters"]}
    meter_rows = [
        _meter_row(meter, by_id_24h[meter.meter_id], by_id_7d[meter.meter_id], meter.id in counted)
        for meter in meters
    ]
    analytics = load_site_analytics(site, now)
    hours_24, actual_24 = _hourly(scope, day)
    hours_7d, actual_7d = _hourly(scope, week)
    last_seen = [row.last_reading for row in meter_rows if row.last_reading is not None]
    return SiteOverview(
        site=site,
        currency=currency,
        tariff_per_kwh=tariff,
        last_24h=_energy(_kwh(summary_24h), tariff, factors),
        last_7d=_energy(last_7d, tariff, factors),
        previous_7d=_energy(previous_7d, tariff, factors),
        change_7d_pct=_change_pct(last_7d, previous_7d),
        coverage_24h_pct=summary_24h["coverage_pct"],
        coverage_7d_pct=summary_7d["coverage_pct"],
        last_reading=max(last_seen) if last_seen else None,
        chart_24h=make_chart(
            site.timezone,
            hours_24,
            _lines(actual_24, analytics.baseline_24h),
            band=analytics.forecast_24h,
        ),
        chart_7d=make_chart(site.timezone, hours_7d, _lines(actual_7d, analytics.baseline_7d)),
        meters=meter_rows,
        summed_without_main=_summed_without_main(site, meters),
        analytics=analytics,
    )


def render_overview_csv(overview):
    """Return the site view's 7-day hourly data as CSV text (what the charts show)."""
    zone = ZoneInfo(overview.site.timezone)
    chart = overview.chart_7d
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    labels = [line["label"] for line in chart["lines"]]
    writer.writerow(
        ["hour_start_utc", f"hour_start_local ({overview.site.timezone})"]
        + [f"{label.lower()}_kwh" for label in labels]
    )
    for i, ts in enumerate(chart["ts"]):
        moment = datetime.fromtimestamp(ts, zone)
        values = [line["values"][i] for line in chart["lines"]]
        writer.writerow(
            [
                moment.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ"),
                moment.isoformat(),
            ]
            + ["" if value is None else repr(float(value)) for value in values]
        )
    return out.getvalue()


# The analytics engine's alert vocabulary: its statuses and the moves people may make.
ALERT_STATUSES = MODEL_ALERT_STATUSES
ALERT_STATUS_LABELS = alert_service.STATUS_LABELS
# What a person may do with an alert in each status: (new status, button label).
ALERT_ACTIONS = {
    status: tuple(
        (target, label)
        for target, label in alert_service.TRANSITION_LABELS.items()
        if target in alert_service.TRANSITIONS[status]
    )
    for status in ALERT_STATUSES
}
ALERT_KINDS = alert_service.KIND_LABELS
# Statuses that still need someone: what "open alerts" counts.
OPEN_STATUSES = ("open", "ack")
# The most alerts one page lists (newest first); the CSV export takes the same.
MAX_LISTED_ALERTS = 500
ALERT_CSV_COLUMNS = (
    "id",
    "site_id",
    "meter_id",
    "kind",
    "severity",
    "status",
    "period_start_utc",
    "period_end_utc",
    "kwh_impact",
    "cost_impact",
    "currency",
    "message",
)


def list_alerts(
    organization, status=None, severity=None, kind=None, site_id=None, hours=None, now=None
):
    """Return the organization's alerts matching the filters, newest first.

    Each filter is one value or a sequence of values. Each alert is a dict with: id,
    site_id, site_name, timezone, meter_id, kind, severity, status, message, period_start
    and period_end (aware datetimes), kwh_impact, cost_impact, currency, co2e_kg_impact,
    and notes (a list of {text, created_at, author}). ``hours`` keeps the alerts whose
    period overlaps the last ``hours`` hours.
    """
    site = None
    if site_id is not None:
        site = site_service.find_site(organization, site_id)
        if site is None:
            return []
    start = None
    if hours is not None:
        start = datetime.fromtimestamp(last_hours(hours, now or utcnow()).start, UTC)
    _, rows = alert_service.list_alerts(
        organization,
        status=_values(status),
        severity=_values(severity),
        kind=_values(kind),
        site=site,
        start=start,
        limit=MAX_LISTED_ALERTS,
    )
    return [_alert_dict(alert) for alert in rows]


# An alert's chart: its period with this many hours either side, at most this many hours.
ALERT_CHART_PAD_HOURS = 12
ALERT_CHART_MAX_HOURS = 8 * 24


def _epoch_of(moment):
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def alert_chart(organization, alert_id, now=None):
    """Return the chart of an alert's context: the hours of its period (and a few either
    side) with the actual kWh of what it is about (its meter, else the site total) and the
    site's baseline, and ``highlight`` = the alert's ``[start, end)`` in epoch seconds.

    Raises ``NotFound`` for an alert that is not the organization's.
    """
    alert = alert_service.get_alert(organization, alert_id)
    site = alert_service.site_of(alert)
    first, last = _epoch_of(alert.period_start), _epoch_of(alert.period_end)
    latest = last_hours(1, now or utcnow()).end
    end = min(
        latest, last - last % HOUR + (HOUR if last % HOUR else 0) + ALERT_CHART_PAD_HOURS * HOUR
    )
    start = max(
        first - first % HOUR - ALERT_CHART_PAD_HOURS * HOUR, end - ALERT_CHART_MAX_HOURS * HOUR
    )
    window = Window(start, max(end, start + HOUR))
    meters = site_service.site_meters(site)
    meter = next((item for item in meters if item.meter_id == alert.meter_id), None)
    if meter is not None:
        scope, label = ReadScope(site, meter, [meter]), f"Meter {meter.meter_id}"
    else:
        scope, label = _total_scope(site, meters), "Actual"
    hours, actual = _hourly(scope, window)
    lines = {label: actual}
    # The baseline is the site total's: beside a meter only when that meter is the total.
    totals = [item.id for item in site_service.totals_meters(site, meters)]
    if meter is None or totals == [meter.id]:
        baseline = analytics_results.site_baseline(site, window)["points"]
        if any(point["expected_kwh"] is not None for point in baseline):
            lines["Baseline"] = _aligned(baseline, window)
    chart = make_chart(site.timezone, hours, lines)
    chart["highlight"] = [first, last]
    return chart


def _values(choice):
    if choice is None or choice == "":
        return None
    return [choice] if isinstance(choice, str) else list(choice)


def _alert_dict(alert):
    site = alert_service.site_of(alert)
    return {
        "id": alert.id,
        "site_id": site.site_id,
        "site_name": site.name,
        "timezone": site.timezone,
        "meter_id": alert.meter_id,
        "kind": alert.kind,
        "severity": alert.severity,
        "status": alert.status,
        "message": alert.message,
        "period_start": alert.period_start,
        "period_end": alert.period_end,
        "kwh_impact": alert.kwh_impact,
        "cost_impact": alert.cost_impact,
        "currency": alert.currency,
        "co2e_kg_impact": alert.co2e_kg_impact,
        "notes": [
            {
                "text": note.text,
                "created_at": note.created_at,
                "author": note.user.email if note.user is not None else None,
            }
            for note in alert.notes
        ],
    }


def change_alert(organization, alert_id, user, status=None, note=None):
    """Move one of the organization's alerts to ``status`` and/or add a note; return it.

    Raises ``NotFound`` for an alert that is not the organization's, and a ``ServiceError``
    (``INVALID_STATUS_TRANSITION``) for a move the alert's status does not allow.
    """
    alert = alert_service.get_alert(organization, alert_id)
    return _alert_dict(alert_service.change_alert(alert, user, status=status, note=note))


def render_alerts_csv(alerts):
    """Return alerts as CSV text (times in UTC; cells a spreadsheet would run are quoted)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(ALERT_CSV_COLUMNS)
    for alert in alerts:
        row = dict(alert)
        for name in ("period_start", "period_end"):
            moment = alert.get(name)
            row[f"{name}_utc"] = None if moment is None else _utc_text(moment)
        writer.writerow([_csv_cell(row.get(column)) for column in ALERT_CSV_COLUMNS])
    return out.getvalue()


def _utc_text(moment):
    if isinstance(moment, int | float):
        moment = datetime.fromtimestamp(moment, ZoneInfo("UTC"))
    return moment.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ")


def list_report_documents(organization, limit=50):
    """Return the organization's 7-day reports (rows of ``reports``), newest first."""
    return report_jobs.list_reports(organization, limit=limit)


WEEKLY_COLUMNS = (
    "site_id",
    "site_name",
    "kwh_7d",
    "baseline_kwh_7d",
    "deviation_pct",
    "cost_7d",
    "currency",
    "co2e_kg_7d",
    "open_alerts",
    "coverage_pct",
)


def tabulate_week(portfolio):
    """Return the 7-day report table (one dict per site) from a :class:`Portfolio`."""
    return [
        {
            "site_id": row.site.site_id,
            "site_name": row.site.name,
            "kwh_7d": row.last_7d.kwh,
            "baseline_kwh_7d": row.analytics.baseline_7d_kwh,
            "deviation_pct": row.analytics.deviation_7d_pct,
            "cost_7d": row.last_7d.cost,
            "currency": row.currency,
            "co2e_kg_7d": row.last_7d.kgco2e,
            "open_alerts": row.analytics.open_alerts,
            "coverage_pct": row.coverage_7d_pct if row.has_data else None,
        }
        for row in portfolio.rows
    ]


def render_weekly_csv(rows):
    """Return the 7-day report table as CSV text (cells a spreadsheet would run are quoted)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(WEEKLY_COLUMNS)
    for row in rows:
        writer.writerow([_csv_cell(row[column]) for column in WEEKLY_COLUMNS])
    return out.getvalue()


def _csv_cell(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}"
    text = str(value)
    # A spreadsheet would run such a cell as a formula: show it as text instead.
    return "'" + text if text.startswith(FORMULA_STARTS) else text
