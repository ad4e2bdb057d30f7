"""Data coverage: per meter, the intervals expected (those that have ended) vs the readings
received in them, the intervals missing at the meter's own resolution, and when the meter
last reported.

Counts come from the hourly rollups; the readings themselves are read only for hours that
hold some but not all of their intervals (to name the missing 15 minutes of a 99 % hour), and
for meters slower than hourly (a handful of readings a day).
"""

from bisect import bisect_left

from sqlalchemy import func, select

from cei.extensions import db
from cei.models import Meter, readings
from cei.services.readings import (
    MAX_SERIES_SECONDS,
    coverage_pct,
    describe,
    ended_received,
    hour_sums,
    layout_of,
    now_seconds,
)
from cei.services.windows import (
    HOUR,
    UtcStamps,
    check_span,
    ended_interval_starts,
    floor_hour,
    hour_starts,
    iso_utc,
)

# Enough to show where the holes are without shipping 8,784 timestamps per meter.
MAX_MISSING = 500


def last_seen(meter_pks):
    """Return ``{meter_pk: latest ts or None}`` ever received (one index probe per meter)."""
    if not meter_pks:
        return {}
    latest = (
        select(func.max(readings.c.ts)).where(readings.c.meter_pk == Meter.id).scalar_subquery()
    )
    rows = db.session.execute(select(Meter.id, latest).where(Meter.id.in_(meter_pks)))
    return {pk: latest for pk, latest in rows}


def _stamps(meter_pk, start, end):
    """Return the sorted reading times of one meter in ``[start, end)``."""
    return db.session.scalars(
        select(readings.c.ts)
        .where(readings.c.meter_pk == meter_pk, readings.c.ts >= start, readings.c.ts < end)
        .order_by(readings.c.ts)
    ).all()


def _uncovered(starts, stamps, interval):
    """The interval starts among ``starts`` with no reading inside ``[start, start+interval)``."""
    missing = []
    for start in starts:
        i = bisect_left(stamps, start)
        if i == len(stamps) or stamps[i] >= start + interval:
            missing.append(start)
    return missing


def _missing(meter, window, sums, offset, now_ts):
    """Return ``(missing interval starts, missing hour starts)`` of one meter, ascending."""
    interval = meter.interval_minutes * 60
    ended = ended_interval_starts(window, interval, now_ts)
    if not ended:
        return [], []
    if interval > HOUR:
        stamps = _stamps(meter.id, window.start, window.end)
        missing = _uncovered(ended, stamps, interval)
        hours = set()
        for start in missing:
            hours.update(range(floor_hour(start, offset), min(start + interval, window.end), HOUR))
        hours = sorted(hours)
        return missing, hours
    missing_hours, partial = [], []
    by_bucket = []
    first, stop, step = ended.start, ended.stop, ended.step
    for bucket in hour_starts(window, offset):
        low, high = max(bucket, first), min(bucket + HOUR, stop)
        if low >= high:
            continue
        starts = range(low + (-(low - first)) % step, high, step)
        if not starts:
            continue
        count = sums.get(bucket, (0, 0))[1]
        if count == 0:
            missing_hours.append(bucket)
            by_bucket.append(starts)
        elif count < len(starts):
            partial.append(starts)
            by_bucket.append(starts)
    if not by_bucket:
        return [], []
    stamps = []
    if partial:
        # Up to the end of the last partial hour's last interval (a reading inside it counts).
        stamps = _stamps(meter.id, partial[0][0], partial[-1][-1] + interval)
    partial_ids = {id(starts) for starts in partial}
    missing = []
    for starts in by_bucket:
        missing += _uncovered(starts, stamps, interval) if id(starts) in partial_ids else starts
    return missing, missing_hours


def _meter_coverage(meter, window, layout, last_seen, now_ts):
    sums = hour_sums(layout, meter, window)
    expected = len(ended_interval_starts(window, meter.interval_minutes * 60, now_ts))
    # Counted over the same ended intervals as expected: a reading of the open interval is
    # not received "early" (it would read as 168 of 167).
    received = ended_received(sums, [meter], window, now_ts)
    missing, hours = _missing(meter, window, sums, layout.offset, now_ts)
    stamp = UtcStamps()
    return {
        "meter_id": meter.meter_id,
        "interval_minutes": meter.interval_minutes,
        "expected": expected,
        "received": received,
        "coverage_pct": coverage_pct(received, expected),
        "missing_intervals": [stamp(start) for start in missing[:MAX_MISSING]],
        "missing_intervals_count": len(missing),
        "missing_intervals_truncated": len(missing) > MAX_MISSING,
        "missing_hours": [iso_utc(start) for start in hours[:MAX_MISSING]],
        "missing_hours_count": len(hours),
        "missing_hours_truncated": len(hours) > MAX_MISSING,
        "last_seen": iso_utc(last_seen) if last_seen is not None else None,
    }


def coverage(scope, window):
    """Return expected (ended) vs received intervals per meter of ``scope`` over ``window``."""
    check_span(window, MAX_SERIES_SECONDS, "A coverage report")
    pks = scope.meter_pks
    latest = last_seen(pks)
    layout = layout_of(scope)
    now_ts = now_seconds()
    meters = [
        _meter_coverage(meter, window, layout, latest.get(meter.id), now_ts)
        for meter in scope.meters
    ]
    expected = sum(meter["expected"] for meter in meters)
    covered = sum(min(meter["received"], meter["expected"]) for meter in meters)
    return {
        **describe(scope, window),
        "expected": expected,
        "received": sum(meter["received"] for meter in meters),
        "coverage_pct": coverage_pct(covered, expected),
        "meters": meters,
    }
