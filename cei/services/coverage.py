"""Data coverage: per meter, the intervals expected vs received, the hours with no data, and
when the meter last reported."""

from sqlalchemy import func, select

from cei.extensions import db
from cei.models import Meter, readings
from cei.services.readings import MAX_SERIES_SECONDS, coverage_pct, describe, in_window
from cei.services.windows import HOUR, UtcStamps, check_span, hour_starts, interval_count, iso_utc

# Enough to show where the holes are without shipping 8,784 timestamps per meter.
MAX_MISSING_HOURS = 500


def _hours_with_data(meter_pks, window):
    """Return ``{meter_pk: [(hour_start, first_ts, count), ...]}`` for the window."""
    hour = (readings.c.ts - readings.c.ts % HOUR).label("hour")
    rows = db.session.execute(
        select(readings.c.meter_pk, hour, func.min(readings.c.ts), func.count())
        .where(*in_window(meter_pks, window))
        .group_by(readings.c.meter_pk, hour)
    )
    found = {pk: [] for pk in meter_pks}
    for pk, start, first, count in rows:
        found[pk].append((start, first, count))
    return found


def _last_seen(meter_pks):
    """Return ``{meter_pk: latest ts}`` ever received (one index probe per meter)."""
    latest = (
        select(func.max(readings.c.ts)).where(readings.c.meter_pk == Meter.id).scalar_subquery()
    )
    rows = db.session.execute(select(Meter.id, latest).where(Meter.id.in_(meter_pks)))
    return {pk: latest for pk, latest in rows}


def _meter_coverage(meter, window, hours, last_seen):
    interval = meter.interval_minutes * 60
    expected = interval_count(window, interval)
    received = sum(count for _, _, count in hours)
    covered = set()
    for start, first, _ in hours:
        # A reading covers its whole interval: a daily reading fills 24 hours, not one.
        covered.update(range(start, max(first + interval, start + HOUR), HOUR))
    stamp = UtcStamps()
    missing = [stamp(start) for start in hour_starts(window) if start not in covered]
    return {
        "meter_id": meter.meter_id,
        "interval_minutes": meter.interval_minutes,
        "expected": expected,
        "received": received,
        "coverage_pct": coverage_pct(received, expected),
        "missing_hours": missing[:MAX_MISSING_HOURS],
        "missing_hours_count": len(missing),
        "missing_hours_truncated": len(missing) > MAX_MISSING_HOURS,
        "last_seen": iso_utc(last_seen) if last_seen is not None else None,
    }


def coverage(scope, window):
    """Return expected vs received intervals per meter of ``scope`` over ``window``."""
    check_span(window, MAX_SERIES_SECONDS, "A coverage report")
    pks = scope.meter_pks
    hours = _hours_with_data(pks, window) if pks else {}
    last_seen = _last_seen(pks) if pks else {}
    meters = [
        _meter_coverage(meter, window, hours[meter.id], last_seen.get(meter.id))
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
