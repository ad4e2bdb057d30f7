"""Plain-Python answers to the read API's questions, to check the SQL against."""

from collections import defaultdict
from datetime import UTC, datetime

HOUR = 3600


def iso(ts):
    """Epoch seconds as ISO 8601 UTC with Z."""
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def readings_in(data, meter_ids, start, end):
    """``[(ts, meter_id, kWh)]`` of ``meter_ids`` with ``start <= ts < end``, by time."""
    rows = [
        (ts, meter_id, value)
        for meter_id in meter_ids
        for ts, value in data[meter_id]
        if start <= ts < end
    ]
    return sorted(rows)


def total(data, meter_ids, start, end):
    """Total kWh and number of readings."""
    rows = readings_in(data, meter_ids, start, end)
    return sum(value for _, _, value in rows), len(rows)


def received_in_ended(data, meter_ids, start, end, interval_seconds, now):
    """Readings in ``[start, end)`` whose interval (starting at the reading's time) has ended
    by ``now``: the ones coverage counts against :func:`expected_intervals`."""
    rows = readings_in(data, meter_ids, start, end)
    return len([ts for ts, _, _ in rows if ts + interval_seconds <= now])


def expected_intervals(start, end, interval_seconds, now):
    """Interval starts (multiples of the interval) in ``[start, end)`` whose interval has
    ended by ``now`` (epoch seconds), counted one by one."""
    first = start + (-start) % interval_seconds
    return len([ts for ts in range(first, end, interval_seconds) if ts + interval_seconds <= now])


def hourly(data, meter_ids, start, end):
    """``[(iso hour, kWh or None)]`` for every UTC hour overlapping the window."""
    sums = defaultdict(float)
    seen = set()
    for ts, _, value in readings_in(data, meter_ids, start, end):
        hour = ts - ts % HOUR
        sums[hour] += value
        seen.add(hour)
    return [
        (iso(hour), sums[hour] if hour in seen else None)
        for hour in range(start - start % HOUR, end, HOUR)
    ]


def daily(data, meter_ids, start, end, zone):
    """``{local date: kWh}`` for the local days that have readings in the window."""
    sums = defaultdict(float)
    for ts, _, value in readings_in(data, meter_ids, start, end):
        sums[datetime.fromtimestamp(ts, zone).date()] += value
    return dict(sums)


def missing_hours(points, start, end, interval_seconds, now):
    """ISO starts of the hours in the window that no reading's interval touches, among those
    where an interval that has ended by ``now`` starts."""
    covered = set()
    for ts, _ in points:
        if start <= ts < end:
            moment = ts - ts % HOUR
            while moment < ts + interval_seconds:
                covered.add(moment)
                moment += HOUR
    return [
        iso(hour)
        for hour in range(start - start % HOUR, end, HOUR)
        if hour not in covered and hour + interval_seconds <= now
    ]
