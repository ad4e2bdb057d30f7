"""Reading data back: which meters a request covers, window summaries and bucketed series.

Sums come from the hourly rollups (``cei.services.rollups``): a site's 90-day hourly series
reads one row per hour whether the site has 1 meter or 100. Python lays the sums onto the
bucket grid, which is where empty buckets become ``null`` and site-local days get their 23, 24
or 25 hours. Energy is kWh rounded to the Wh, and every answer says so (``unit``).
"""

from dataclasses import dataclass, field

from cei.extensions import db
from cei.models import Meter, Site, readings
from cei.services import rollups, windows
from cei.services import sites as site_service
from cei.services.errors import ServiceError
from cei.services.windows import (
    DAY,
    HOUR,
    UtcStamps,
    ceil_epoch_seconds,
    check_span,
    ended_interval_starts,
    hour_starts,
    local_days,
)

# The longest window a series (or a coverage report) may span: a leap year.
MAX_SERIES_SECONDS = 366 * DAY
RESOLUTIONS = ("hour", "day")
UNIT = "kWh"


@dataclass(frozen=True)
class ReadScope:
    """What a read request covers: a site, the meter asked for (if any), the meters counted."""

    site: Site
    meter: Meter | None
    # The meters whose readings make the numbers: the requested meter, or the site total's.
    meters: list = field(default_factory=list)
    # The site's rollup layout when the caller loaded many at once (see :func:`site_layouts`).
    layout: object = field(default=None, repr=False, compare=False)

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
    """The WHERE clause for the readings of ``meter_pks`` inside ``window`` (raw reads)."""
    return (
        readings.c.meter_pk.in_(meter_pks),
        readings.c.ts >= window.start,
        readings.c.ts < window.end,
    )


def layout_of(scope):
    """Return the rollup layout of the scope's site (meters, local-hour grid)."""
    if scope.layout is not None:
        return scope.layout
    return rollups.site_layout(db.session.connection(), scope.site.id)


def site_layouts(sites):
    """Return ``{site.id: layout}`` of many sites in one statement, for their :class:`ReadScope`.

    The layout is read at call time: pass it only to reads made in the same request.
    """
    pks = [site.id for site in sites]
    if not pks:
        return {}
    found = rollups.load_layouts(db.session.connection(), site_pks=pks)
    return {pk: found.get(pk, rollups.SiteLayout(pk, 0)) for pk in pks}


def hour_sums(layout, meter, window):
    """Return ``{local hour start: (mWh, readings)}`` of ``meter`` (None: the site total)."""
    source = layout.source(meter.id if meter is not None else None)
    return rollups.hour_sums(db.session.connection(), source, window.start, window.end)


def hour_sums_many(scopes, window):
    """Return :func:`hour_sums` of each scope over ``window``, in their order.

    A fixed number of statements whatever the number of scopes (the rollups' many-source
    read, the one the single reads use); give each result to :func:`summarize` and
    :func:`series` as ``sums``. Scopes without a ``layout`` cost one layout statement each.
    """
    sources = [
        layout_of(scope).source(scope.meter.id if scope.meter is not None else None)
        for scope in scopes
    ]
    return rollups.hour_sums_many(db.session.connection(), sources, window.start, window.end)


def now_seconds():
    """The current epoch second (through ``windows.utcnow``, which tests freeze)."""
    return ceil_epoch_seconds(windows.utcnow())


def coverage_pct(received, expected):
    """Percentage of expected intervals received (None when none were expected)."""
    if not expected:
        return None
    return round(100.0 * min(received, expected) / expected, 2)


def expected_count(meters, window, now_ts):
    """Intervals of ``meters`` inside ``window`` that have ended by ``now_ts``."""
    return sum(
        len(ended_interval_starts(window, meter.interval_minutes * 60, now_ts)) for meter in meters
    )


def _starts_between(starts, low, high):
    """Count the elements of the range ``starts`` inside ``[low, high)``."""
    step = starts.step
    first = max(0, -(-(low - starts.start) // step))
    last = min(len(starts), max(0, -(-(high - starts.start) // step)))
    return max(0, last - first)


def ended_received(sums, meters, window, now_ts):
    """Count the readings of ``sums`` (hour sums of ``meters`` over ``window``) that lie in an
    interval that has ended by ``now_ts``: the readings :func:`expected_count` expects.

    A reading stamped with the current, still open interval is received but not yet expected;
    counting it would let it make up for a gap (or show "168 of 167 readings"). Hours inside
    every meter's ended intervals count whole; an hour at the edge (the open hour, a window
    start between two interval starts) counts at most as many readings as ended intervals of
    the meters start in it.
    """
    ended = [
        (starts, meter.interval_minutes * 60)
        for meter in meters
        if (starts := ended_interval_starts(window, meter.interval_minutes * 60, now_ts))
    ]
    if not ended:
        return 0
    inner_low = max(starts.start for starts, _ in ended)
    inner_high = min(min(starts[-1] + interval, window.end) for starts, interval in ended)
    received = 0
    for bucket, (_, count) in sums.items():
        if inner_low <= bucket and bucket + HOUR <= inner_high:
            received += count
        else:
            low = max(bucket, window.start)
            received += min(
                count, sum(_starts_between(starts, low, bucket + HOUR) for starts, _ in ended)
            )
    return received


def describe(scope, window):
    """Return the fields every read answer starts with: what was read, over which window."""
    return {
        "site_id": scope.site.site_id,
        "meter_id": scope.meter.meter_id if scope.meter else None,
        "window_hours": window.window_hours,
        "from_timestamp": window.from_timestamp,
        "to_timestamp": window.to_timestamp,
    }


def double_counting(scope):
    """Return the warning fields of a site total that adds several meters, none main."""
    risky = (
        scope.meter is None
        and len(scope.meters) > 1
        and not any(meter.is_main for meter in scope.meters)
    )
    message = None
    if risky:
        message = (
            f"This site total adds all {len(scope.meters)} meters because none is marked main: "
            "if one of them measures the whole site, its sub-meters are counted twice. Mark "
            "that meter as main (is_main) to make it the site total."
        )
    return {"double_counting_risk": risky, "double_counting_message": message}


def summarize(scope, window, sums=None):
    """Return total kWh, readings received and expected (ended intervals), and coverage.

    ``sums`` is the scope's :func:`hour_sums` over ``window`` when the caller read many at
    once (:func:`hour_sums_many`); otherwise they are read here.
    """
    if sums is None:
        sums = hour_sums(layout_of(scope), scope.meter, window)
    mwh = sum(value for value, _ in sums.values())
    points = sum(count for _, count in sums.values())
    now_ts = now_seconds()
    expected = expected_count(scope.meters, window, now_ts)
    return {
        **describe(scope, window),
        "unit": UNIT,
        "total_value": rollups.kwh(mwh),
        # Every reading summed into total_value, the open interval's too.
        "points": points,
        "expected_points": expected,
        # Over the ended intervals only (what expected_points counts). From the rollups'
        # counts: a meter sending more often than its interval can make up for another's
        # gaps here (never above 100 %); the coverage report caps each meter.
        "coverage_pct": coverage_pct(ended_received(sums, scope.meters, window, now_ts), expected),
        **double_counting(scope),
    }


def _hour_points(sums, window, offset):
    stamp = UtcStamps()
    kwh = rollups.kwh
    points = []
    for start in hour_starts(window, offset):
        found = sums.get(start)
        points.append({"ts": stamp(start), "value": None if found is None else kwh(found[0])})
    return points


def _day_points(sums, scope, window):
    days = local_days(window, site_service.site_zone(scope.site))
    values = [None] * len(days.starts)
    for start, (mwh, _) in sorted(sums.items()):
        i = max(days.index(start), 0)
        values[i] = mwh if values[i] is None else values[i] + mwh
    return [
        {"ts": days.label(i), "value": None if value is None else rollups.kwh(value)}
        for i, value in enumerate(values)
    ]


def series(scope, window, resolution="hour", sums=None):
    """Return one point per site-local hour or day of ``window``; ``None`` = no data.

    ``sums``: as for :func:`summarize`.
    """
    if resolution not in RESOLUTIONS:
        raise ServiceError(
            f"resolution must be one of {', '.join(RESOLUTIONS)}",
            code="INVALID_RESOLUTION",
            status=422,
        )
    check_span(window, MAX_SERIES_SECONDS, "A series")
    layout = layout_of(scope)
    if sums is None:
        sums = hour_sums(layout, scope.meter, window)
    if resolution == "hour":
        points = _hour_points(sums, window, layout.offset)
    else:
        points = _day_points(sums, scope, window)
    return {
        **describe(scope, window),
        "resolution": resolution,
        "timezone": scope.site.timezone,
        "unit": UNIT,
        "points": points,
        **double_counting(scope),
    }
