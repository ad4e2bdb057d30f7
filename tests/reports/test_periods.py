"""Report periods: 7 site-local days, the default period, and the weekly schedule across DST."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cei.services.errors import ServiceError
from cei.services.reports.periods import period_ending, requested_period, weekly_slot


def test_a_period_is_seven_local_days_of_23_24_or_25_hours():
    normal = period_ending(date(2026, 11, 22), "Europe/Rome")
    assert (normal.first, normal.last, normal.hours) == (
        date(2026, 11, 16),
        date(2026, 11, 22),
        168,
    )
    assert normal.start_ts == int(datetime(2026, 11, 15, 23, 0, tzinfo=UTC).timestamp())
    spring = period_ending(date(2026, 3, 29), "Europe/Rome")  # clocks go forward on the 29th
    assert spring.hours == 167
    autumn = period_ending(date(2026, 10, 25), "Europe/Rome")  # clocks go back on the 25th
    assert autumn.hours == 169
    assert period_ending(date(2026, 3, 29), "UTC").hours == 168
    assert normal.label == "16–22 Nov 2026"
    assert period_ending(date(2026, 12, 3), "UTC").label == "27 Nov – 3 Dec 2026"
    assert period_ending(date(2027, 1, 2), "UTC").label == "27 Dec 2026 – 2 Jan 2027"


def test_the_default_period_ends_yesterday_in_the_timezone():
    now = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)  # already the 24th in Tokyo
    assert requested_period("UTC", now=now).last == date(2026, 11, 22)
    assert requested_period("Asia/Tokyo", now=now).last == date(2026, 11, 23)
    assert requested_period("America/Los_Angeles", now=now).last == date(2026, 11, 22)


def test_a_portfolio_period_ends_on_a_day_that_has_ended_at_every_site():
    # 04:33 UTC on Saturday 28 Nov: Friday the 27th is over in UTC, Rome and Tokyo, but it is
    # still 22:33 on the 27th in Chicago.
    now = datetime(2026, 11, 28, 4, 33, tzinfo=UTC)
    assert requested_period("UTC", now=now, other_timezones=["Asia/Tokyo"]).last == date(
        2026, 11, 27
    )
    sites = ["Europe/Rome", "America/Chicago", "Asia/Tokyo"]
    period = requested_period("UTC", now=now, other_timezones=sites)
    assert (period.last, period.timezone) == (date(2026, 11, 26), "UTC")
    with pytest.raises(ServiceError) as caught:
        requested_period("UTC", date(2026, 11, 27), now=now, other_timezones=sites)
    assert caught.value.code == "INVALID_PERIOD" and "America/Chicago" in caught.value.message


@pytest.mark.parametrize("last", [date(2026, 11, 23), date(2026, 12, 1), date(2000, 1, 3)])
def test_a_period_must_have_ended_and_be_plausible(last):
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    with pytest.raises(ServiceError) as caught:
        requested_period("UTC", last, now=now)
    assert (caught.value.status, caught.value.code) == (422, "INVALID_PERIOD")


def test_the_weekly_report_is_due_monday_0600_local_time():
    # Monday 23 Nov 2026 06:00 in Rome is 05:00 UTC.
    before = weekly_slot(datetime(2026, 11, 23, 4, 59, tzinfo=UTC), "Europe/Rome")
    at = weekly_slot(datetime(2026, 11, 23, 5, 0, tzinfo=UTC), "Europe/Rome")
    later = weekly_slot(datetime(2026, 11, 29, 22, 0, tzinfo=UTC), "Europe/Rome")
    assert at.due_at == datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
    assert (at.period.first, at.period.last) == (date(2026, 11, 16), date(2026, 11, 22))
    assert at.key == "weekly:2026-11-22"
    assert before.period.last == date(2026, 11, 15)
    assert before.due_at == datetime(2026, 11, 16, 5, 0, tzinfo=UTC)
    assert later.key == at.key


@pytest.mark.parametrize(
    ("timezone", "monday", "due_utc", "hours"),
    [
        # Europe moves forward on Sunday 29 March 2026: the week before is 167 h, and the
        # Monday after is due at 04:00 UTC (06:00 CEST) instead of 05:00 UTC.
        ("Europe/Rome", date(2026, 3, 30), datetime(2026, 3, 30, 4, 0, tzinfo=UTC), 167),
        # ... and back on Sunday 25 October 2026: 169 h, due at 05:00 UTC (06:00 CET).
        ("Europe/Rome", date(2026, 10, 26), datetime(2026, 10, 26, 5, 0, tzinfo=UTC), 169),
        # The US moves forward on Sunday 8 March 2026 at 02:00.
        ("America/New_York", date(2026, 3, 9), datetime(2026, 3, 9, 10, 0, tzinfo=UTC), 167),
        # Sydney moves back on Sunday 5 April 2026 (southern autumn).
        ("Australia/Sydney", date(2026, 4, 6), datetime(2026, 4, 5, 20, 0, tzinfo=UTC), 169),
    ],
)
def test_the_weekly_schedule_across_a_dst_change(timezone, monday, due_utc, hours):
    slot = weekly_slot(due_utc, timezone)
    assert slot.due_at == due_utc
    assert slot.period.last == monday - timedelta(days=1)
    assert slot.period.first == monday - timedelta(days=7)
    assert slot.period.hours == hours
    # The week starts at local midnight of its Monday, whatever the offset.
    start = datetime.fromtimestamp(slot.period.start_ts, UTC).astimezone(ZoneInfo(timezone))
    assert (start.date(), start.hour) == (monday - timedelta(days=7), 0)
    # One second earlier, the week before is still the latest one due.
    earlier = weekly_slot(due_utc - timedelta(seconds=1), timezone)
    assert earlier.period.last == monday - timedelta(days=8)
    # Seven days earlier in local time: 167, 168 or 169 hours earlier in UTC.
    assert timedelta(hours=167) <= slot.due_at - earlier.due_at <= timedelta(hours=169)
