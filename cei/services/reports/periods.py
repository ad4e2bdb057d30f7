"""Which 7 days a report covers, and when the weekly report of an organization is due.

All pure functions of dates, instants and IANA timezone names: every day is a site-local
calendar day (23, 24 or 25 hours), and the weekly report is due every Monday at 06:00 local
time for the 7 days that ended the Sunday before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from cei.services.errors import ServiceError
from cei.services.reports.data import Period

DAYS = 7
# Reports cover days from this one on (older data is beyond any retention limit).
EARLIEST_DAY = date(2000, 1, 1)
WEEKLY_WEEKDAY = 0  # Monday
WEEKLY_TIME = time(6, 0)


def local_midnight_ts(day, zone):
    """Return the UTC epoch second at which calendar ``day`` starts in ``zone``."""
    return int(datetime.combine(day, time(0), tzinfo=zone).timestamp())


def period_ending(last, timezone):
    """Return the 7-day :class:`Period` whose last day is ``last`` in ``timezone``."""
    zone = ZoneInfo(timezone)
    first = last - timedelta(days=DAYS - 1)
    return Period(
        first=first,
        last=last,
        timezone=timezone,
        start_ts=local_midnight_ts(first, zone),
        end_ts=local_midnight_ts(last + timedelta(days=1), zone),
    )


def local_today(timezone, now=None):
    """Return today's date in ``timezone`` at ``now`` (aware; default: the current time)."""
    now = now or datetime.now(UTC)
    return now.astimezone(ZoneInfo(timezone)).date()


def latest_zone_today(timezones, now=None):
    """Return ``(today, zone)`` for the zone among ``timezones`` whose calendar is furthest
    behind: a day has ended in every zone once it is before that ``today``."""
    return min((local_today(zone, now), zone) for zone in timezones)


def requested_period(timezone, last=None, now=None, other_timezones=()):
    """Return the period ending on ``last`` (default yesterday in ``timezone``).

    A period must have ended: its last day is at the latest yesterday, local time, in
    ``timezone`` and in each of ``other_timezones`` (a portfolio's sites: its 7 days are
    each site's own local days, so the default is the last day that has ended at every site).
    """
    today, behind = latest_zone_today([timezone, *other_timezones], now)
    if last is None:
        last = today - timedelta(days=1)
    if last >= today:
        raise ServiceError(
            f"period_end must be a day that has ended in {behind} (at the latest "
            f"{today - timedelta(days=1)})",
            code="INVALID_PERIOD",
            status=422,
            detail={"period_end": [f"At the latest {today - timedelta(days=1)}"]},
        )
    if last - timedelta(days=DAYS - 1) < EARLIEST_DAY:
        raise ServiceError(
            f"period_end must be after {EARLIEST_DAY + timedelta(days=DAYS - 1)}",
            code="INVALID_PERIOD",
            status=422,
            detail={"period_end": ["Too early"]},
        )
    return period_ending(last, timezone)


@dataclass(frozen=True)
class WeeklySlot:
    """The latest weekly report moment at or before an instant, and the week it covers."""

    due_at: datetime  # aware, UTC: Monday 06:00 local
    period: Period  # Monday to Sunday of the week before ``due_at``

    @property
    def key(self):
        """The slot's identity per organization (one scheduled report per key)."""
        return f"weekly:{self.period.last.isoformat()}"


def weekly_slot(now, timezone):
    """Return the latest :class:`WeeklySlot` due at or before ``now`` (aware) in ``timezone``.

    The report is due on Monday at 06:00 local time and covers the Monday to Sunday before,
    whatever the DST offsets of either week.
    """
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    monday = local.date() - timedelta(days=(local.weekday() - WEEKLY_WEEKDAY) % 7)
    due = datetime.combine(monday, WEEKLY_TIME, tzinfo=zone)
    # Compared in UTC: aware datetimes sharing a tzinfo compare by wall time, fold ignored.
    if due.astimezone(UTC) > now.astimezone(UTC):
        monday -= timedelta(days=7)
        due = datetime.combine(monday, WEEKLY_TIME, tzinfo=zone)
    return WeeklySlot(
        due_at=due.astimezone(UTC), period=period_ending(monday - timedelta(days=1), timezone)
    )
