"""Time windows for reading data back: hour-aligned windows, explicit ranges and buckets.

Readings are keyed by their interval start in whole epoch seconds (UTC), so a window is kept
as two integers, ``start`` inclusive and ``end`` exclusive, and every comparison in SQL is a
plain integer range on the primary key.
"""

import math
from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from cei.services.errors import ServiceError

HOUR = 3600
DAY = 86400
DEFAULT_WINDOW_HOURS = 24
# A leap year of hours: the longest window a caller can ask for by ``window_hours``.
MAX_WINDOW_HOURS = 366 * 24
# Explicit ranges must stay inside these epoch seconds (1970-01-01 to 2200-01-01): there are
# no older readings, and year 1 or 9999 shifted by an offset would overflow ``datetime``.
EARLIEST, LATEST = 0, 7_258_118_400


def utcnow():
    """Return the current time (module-level so tests can freeze the clock)."""
    return datetime.now(UTC)


def floor_hour(ts, offset=0):
    """Return the start of the hour holding epoch second ``ts``.

    ``offset`` (0 … 3599) shifts the hour grid: local hours of a zone whose UTC offset is not
    a whole number of hours (1800 for Asia/Kolkata, see ``rollups.hour_offset``).
    """
    return ts - (ts + offset) % HOUR


def ceil_hour(ts, offset=0):
    """Return the first hour start (grid ``offset``) at or after epoch second ``ts``."""
    return ts + (-(ts + offset)) % HOUR


def ceil_epoch_seconds(moment):
    """Return ``moment`` as whole epoch seconds, rounding up (a naive value is UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    # Rounding up keeps the integer range equivalent: ts >= 10.5 holds exactly when ts >= 11.
    return math.ceil(moment.timestamp())


def iso_utc(ts):
    """Format epoch second ``ts`` as ISO 8601 with a ``Z``."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_HOUR_TEXT = [f"T{hour:02d}:" for hour in range(24)]
_MINUTE_SECOND_TEXT = [f"{second // 60:02d}:{second % 60:02d}Z" for second in range(HOUR)]


class UtcStamps:
    """Format runs of ascending epoch seconds as ISO 8601 ``Z`` strings, fast.

    ``datetime`` formatting costs 2-4 µs a call, which would dominate a 2,000-point series or a
    million-row export; this formats the date once per day and looks the rest up in tables.
    """

    def __init__(self):
        self._day = None
        self._date = ""

    def __call__(self, ts):
        """Return ``ts`` as ``YYYY-MM-DDTHH:MM:SSZ``."""
        day, second = divmod(ts, DAY)
        if day != self._day:
            self._day = day
            self._date = datetime.fromtimestamp(day * DAY, UTC).strftime("%Y-%m-%d")
        return self._date + _HOUR_TEXT[second // HOUR] + _MINUTE_SECOND_TEXT[second % HOUR]


@dataclass(frozen=True)
class Window:
    """A half-open range ``[start, end)`` of epoch seconds."""

    start: int
    end: int
    # The length in whole hours (as asked by window_hours, or of a start/end range), else None.
    window_hours: int | None = None

    @property
    def seconds(self):
        """The length of the window in seconds."""
        return self.end - self.start

    @property
    def from_timestamp(self):
        """The start as ISO 8601 UTC."""
        return iso_utc(self.start)

    @property
    def to_timestamp(self):
        """The (exclusive) end as ISO 8601 UTC."""
        return iso_utc(self.end)


def last_hours(window_hours, now=None, offset=0):
    """Return the hour-aligned window of ``window_hours`` ending with the current hour.

    The current, still open hour is included, so 24 hourly readings sent for the last 24 hours
    (the latest one stamped with this hour's start) all fall inside ``last_hours(24)``. Hours
    are on the grid ``offset`` (the site's local hours, see :func:`floor_hour`).
    """
    if not 1 <= window_hours <= MAX_WINDOW_HOURS:
        raise ServiceError(
            f"window_hours must be between 1 and {MAX_WINDOW_HOURS}",
            code="INVALID_WINDOW",
            status=422,
        )
    current_hour = floor_hour(ceil_epoch_seconds(now or utcnow()), offset)
    end = current_hour + HOUR
    return Window(end - window_hours * HOUR, end, window_hours)


def between(start, end):
    """Return the window ``[start, end)`` given as datetimes (naive values are UTC)."""
    window = Window(ceil_epoch_seconds(start), ceil_epoch_seconds(end))
    if not (EARLIEST <= window.start and window.end <= LATEST):
        raise ServiceError(
            "start and end must lie between 1970 and 2200", code="INVALID_WINDOW", status=422
        )
    if window.end <= window.start:
        raise ServiceError("end must be after start", code="INVALID_WINDOW", status=422)
    if window.seconds % HOUR == 0:
        window = Window(window.start, window.end, window.seconds // HOUR)
    return window


def resolve_window(window_hours=None, start=None, end=None, now=None, offset=0):
    """Return the window a read request asks for (the last 24 hours by default).

    ``offset`` puts ``window_hours`` windows on the site's local-hour grid.
    """
    if start is not None or end is not None:
        if start is None or end is None or window_hours is not None:
            raise ServiceError(
                "Give either window_hours or both start and end",
                code="INVALID_WINDOW",
                status=422,
            )
        return between(start, end)
    return last_hours(window_hours or DEFAULT_WINDOW_HOURS, now, offset)


def check_span(window, max_seconds, what):
    """Raise unless ``window`` is at most ``max_seconds`` long."""
    if window.seconds > max_seconds:
        raise ServiceError(
            f"{what} covers at most {max_seconds // DAY} days; ask for a shorter window",
            code="WINDOW_TOO_LONG",
            status=422,
            detail={"max_hours": max_seconds // HOUR, "requested_hours": window.seconds / HOUR},
        )


def hour_starts(window, offset=0):
    """Return the starts of the hours (grid ``offset``) that overlap ``window``."""
    return range(floor_hour(window.start, offset), window.end, HOUR)


def ended_interval_starts(window, interval_seconds, now_ts):
    """Return the interval starts (multiples of the interval) in ``window`` that have ended
    by epoch second ``now_ts``: the intervals a meter can have reported."""
    first = -(-window.start // interval_seconds) * interval_seconds
    return range(first, min(window.end, now_ts - interval_seconds + 1), interval_seconds)


def interval_count(window, interval_seconds):
    """Count the interval starts (multiples of ``interval_seconds``) inside ``window``."""
    return -(-window.end // interval_seconds) - -(-window.start // interval_seconds)


def local_midnight(day, zone):
    """Return the first instant of calendar ``day`` in ``zone`` as epoch seconds.

    Where a DST jump skips midnight, the non-existent 00:00 (fold=0) maps to the first real
    instant of the day, which is what a day bucket should start with.
    """
    return int(datetime(day.year, day.month, day.day, tzinfo=zone).timestamp())


@dataclass(frozen=True)
class DayBuckets:
    """Site-local calendar days overlapping a window: ``starts[i]`` begins day ``days[i]``."""

    days: list
    starts: list
    zone: ZoneInfo

    def index(self, ts):
        """Return the index of the day holding epoch second ``ts``."""
        return bisect_right(self.starts, ts) - 1

    def label(self, i):
        """Return local midnight of day ``i`` as ISO 8601 with its UTC offset."""
        return datetime.fromtimestamp(self.starts[i], self.zone).isoformat()


def local_days(window, zone):
    """Return the site-local days (23, 24 or 25 hours long) that overlap ``window``."""
    first = datetime.fromtimestamp(window.start, zone).date()
    days, starts = [], []
    day = first
    while True:
        start = local_midnight(day, zone)
        if start >= window.end:
            break
        days.append(day)
        starts.append(start)
        day += timedelta(days=1)
    return DayBuckets(days, starts, zone)
