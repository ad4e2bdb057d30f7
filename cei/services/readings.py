"""Reading data back: which meters a request covers, window summaries and bucketed series.

SQL does the aggregation (one ``GROUP BY`` on the primary key range, so a 90-day hourly series
is a few thousand index entries); Python only lays the sums onto the bucket grid, which is where
empty buckets become ``null`` and site-local days get their 23, 24 or 25 hours.
"""

from dataclasses import dataclass, field

from sqlalchemy import func, select

from cei.extensions import db
from cei.models import Meter, Site, readings
from cei.services import sites as site_service
from cei.services.errors import ServiceError
from cei.services.windows import (
    DAY,
    HOUR,
    UtcStamps,
    check_span,
    hour_starts,
    interval_count,
    local_days,
)

# The longest window a series (or a coverage report) may span: a leap year.
MAX_SERIES_SECONDS = 366 * DAY
RESOLUTIONS = ("hour", "day")
# Day buckets are summed from SQL sub-buckets of this size: every UTC offset in use today is a
# multiple of 15 minutes, so a local midnight never falls inside one.
DAY_SUB_BUCKET = 900


@dataclass(frozen=True)
class ReadScope:
    """What a read request covers: a site, the meter asked for (if any), the meters counted."""

    site: Site
    meter: Meter | None
    # The meters whose readings make the numbers: the requested meter, or the site total's.
    meters: list = field(default_factory=list)

    @property
    def meter_pks(self):
        """Primary keys of the counted meters."""
        return [meter.id for meter in self.meters]


def read_scope(organization, site_id, meter_id=None, totals=True):
    """Resolve a read request's site and meter (``NotFound`` for anything not the caller's).

    Without ``meter_id`` the scope is the site total (main meters if any are marked, else all
    meters); ``totals=False`` takes every meter instead, for per-meter listings and exports.
    """
    site = site_service.get_site(organization, site_id)
    if meter_id is not None:
        meter = site_service.get_meter(site, meter_id)
        return ReadScope(site, meter, [meter])
    meters = site_service.site_meters(site)
    return ReadScope(site, None, site_service.totals_meters(site, meters) if totals else meters)


def in_window(meter_pks, window):
    """The WHERE clause for the readings of ``meter_pks`` inside ``window``."""
    return (
        readings.c.meter_pk.in_(meter_pks),
        readings.c.ts >= window.start,
        readings.c.ts < window.end,
    )


def coverage_pct(received, expected):
    """Percentage of expected intervals received (None when none were expected)."""
    if not expected:
        return None
    return round(100.0 * min(received, expected) / expected, 2)


def describe(scope, window):
    """Return the fields every read answer starts with: what was read, over which window."""
    return {
        "site_id": scope.site.site_id,
        "meter_id": scope.meter.meter_id if scope.meter else None,
        "window_hours": window.window_hours,
        "from_timestamp": window.from_timestamp,
        "to_timestamp": window.to_timestamp,
    }


def summarize(scope, window):
    """Return total kWh, readings received and expected, and coverage over ``window``."""
    per_meter = {}
    if scope.meters:
        rows = db.session.execute(
            select(readings.c.meter_pk, func.count(), func.sum(readings.c.value))
            .where(*in_window(scope.meter_pks, window))
            .group_by(readings.c.meter_pk)
        )
        per_meter = {pk: (count, total) for pk, count, total in rows}
    points = expected = covered = 0
    total = 0.0
    for meter in scope.meters:
        count, meter_total = per_meter.get(meter.id, (0, 0.0))
        meter_expected = interval_count(window, meter.interval_minutes * 60)
        points += count
        total += meter_total or 0.0
        expected += meter_expected
        # A meter sending more often than its declared interval must not hide another's gaps.
        covered += min(count, meter_expected)
    return {
        **describe(scope, window),
        "total_value": total,
        "points": points,
        "expected_points": expected,
        "coverage_pct": coverage_pct(covered, expected),
    }


def _bucket_sums(scope, window, width):
    """Return ``{bucket_start: kWh}`` summed in SQL over buckets of ``width`` seconds."""
    if not scope.meters:
        return {}
    bucket = (readings.c.ts - readings.c.ts % width).label("bucket")
    rows = db.session.execute(
        select(bucket, func.sum(readings.c.value))
        .where(*in_window(scope.meter_pks, window))
        .group_by(bucket)
    )
    # fetchall: iterating the result row by row costs twice as much for thousands of buckets.
    return dict(rows.all())


def _hour_points(scope, window):
    sums = _bucket_sums(scope, window, HOUR)
    stamp = UtcStamps()
    return [{"ts": stamp(start), "value": sums.get(start)} for start in hour_starts(window)]


def _day_points(scope, window):
    days = local_days(window, site_service.site_zone(scope.site))
    values = [None] * len(days.starts)
    for start, total in sorted(_bucket_sums(scope, window, DAY_SUB_BUCKET).items()):
        i = max(days.index(start), 0)
        values[i] = total if values[i] is None else values[i] + total
    return [{"ts": days.label(i), "value": value} for i, value in enumerate(values)]


def series(scope, window, resolution="hour"):
    """Return one point per hour (UTC) or site-local day of ``window``; ``None`` = no data."""
    if resolution not in RESOLUTIONS:
        raise ServiceError(
            f"resolution must be one of {', '.join(RESOLUTIONS)}",
            code="INVALID_RESOLUTION",
            status=422,
        )
    check_span(window, MAX_SERIES_SECONDS, "A series")
    points = _hour_points(scope, window) if resolution == "hour" else _day_points(scope, window)
    return {
        **describe(scope, window),
        "resolution": resolution,
        "timezone": scope.site.timezone,
        "points": points,
    }
