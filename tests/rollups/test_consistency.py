"""Rollups are the exact sums of the raw readings, after anything that changes them.

Random readings go in through the batch API for sites in Europe/Rome (both DST days of 2026),
Asia/Kolkata (+05:30) and Asia/Kathmandu (+05:45): hourly and 15-minute meters, kWh, Wh and
kW (average power over the interval), gaps, exact re-sends and ``on_conflict: "update"``
corrections; then meters flipped to main and back, a meter added and one deleted, a site's
timezone changed, and ``cei rollups rebuild``. After each step the tables must equal the sums
recomputed in Python from the readings, with local hours taken from zoneinfo.
"""

import random
from datetime import UTC, datetime

import pytest

from cei.cli import rebuild_rollups
from tests.rollups.conftest import HOUR, iso, wh_kwh

ZONES = {"rome": "Europe/Rome", "kolkata": "Asia/Kolkata", "kathmandu": "Asia/Kathmandu"}
# (meter_id, interval minutes, unit): energy per interval, or average power (kW).
METERS = [("m60", 60, "kWh"), ("m15", 15, "kWh"), ("p15", 15, "kW"), ("w60", 60, "Wh")]
# Two spans around Europe/Rome's DST changes of 2026 (29 March, 25 October).
SPANS = [
    (int(datetime(2026, 3, 27, 20, tzinfo=UTC).timestamp()), 80),
    (int(datetime(2026, 10, 23, 20, tzinfo=UTC).timestamp()), 80),
]


def readings_for(rng, site_id, meter_id, interval, unit, gap_rate=0.2):
    """Random records of one meter over both spans, with gaps."""
    records = []
    for first, hours in SPANS:
        for ts in range(first, first + hours * HOUR, interval * 60):
            if rng.random() < gap_rate:
                continue
            value = round(rng.uniform(0, 40), rng.choice((0, 1, 3, 4)))
            if unit == "Wh":
                value = round(rng.uniform(0, 40_000), 1)
            records.append(
                {
                    "site_id": site_id,
                    "meter_id": meter_id,
                    "timestamp_utc": iso(ts),
                    "value": value,
                    "unit": unit,
                    "interval_minutes": interval,
                }
            )
    return records


def send_shuffled(plant, rng, records, size=300, on_conflict="reject"):
    """Send ``records`` in random order, in batches mixing meters and sites."""
    records = list(records)
    rng.shuffle(records)
    for start in range(0, len(records), size):
        plant.send(records[start : start + size], on_conflict=on_conflict)


@pytest.mark.parametrize("seed", [1, 2])
def test_rollups_equal_sums_of_readings_through_every_change(plant, runner, seed):
    rng = random.Random(seed)
    for site_id, zone in ZONES.items():
        plant.site(site_id, zone)
    data = {
        (site_id, meter_id): readings_for(rng, site_id, meter_id, interval, unit)
        for site_id in ZONES
        for meter_id, interval, unit in METERS
    }
    # First one hourly meter per site (its readings are the site total, no rollup rows) …
    send_shuffled(plant, rng, [r for (_, m), rs in data.items() if m == "m60" for r in rs])
    stored_meters, stored_sites = plant.check()
    assert stored_meters == {} and stored_sites == {}
    # … then the others: each site total now adds several meters (built on the next batch).
    send_shuffled(plant, rng, [r for (_, m), rs in data.items() if m != "m60" for r in rs])
    _, stored_sites = plant.check()
    assert stored_sites

    # Exact re-sends change nothing; corrections replace values (and move the sums).
    every = [record for records in data.values() for record in records]
    resent = rng.sample(every, 400)
    send_shuffled(plant, rng, resent)
    corrections = [
        dict(record, value=round(rng.uniform(0, 40), 3) if record["unit"] != "Wh" else 7.5)
        for record in rng.sample(every, 300)
    ]
    result = None
    for start in range(0, len(corrections), 100):
        result = plant.send(corrections[start : start + 100], on_conflict="update")
    assert result["updated"] > 0
    plant.check()

    # A 15-minute meter becomes the main meter of Rome, then not; one of Kolkata too.
    plant.call("PATCH", "/api/v1/sites/rome/meters/m15", json={"is_main": True})
    plant.check()
    plant.call("PATCH", "/api/v1/sites/kolkata/meters/m60", json={"is_main": True})
    plant.check()
    plant.call("PATCH", "/api/v1/sites/rome/meters/m15", json={"is_main": False})
    plant.check()
    # An interval change moves a meter in or out of meter rows.
    plant.call("PATCH", "/api/v1/sites/kathmandu/meters/m15", json={"interval_minutes": 60})
    plant.check()
    # A meter added (no readings yet), a meter deleted, a timezone changed.
    plant.call("POST", "/api/v1/sites/rome/meters", 201, json={"meter_id": "spare"})
    plant.call("DELETE", "/api/v1/sites/rome/meters/p15", 204)
    plant.call("PATCH", "/api/v1/sites/kathmandu", json={"timezone": "Asia/Kolkata"})
    stored = plant.check()

    # A rebuild from the readings finds exactly what the incremental updates wrote.
    result = runner.invoke(rebuild_rollups, [])
    assert result.exit_code == 0, result.output
    assert "3 site(s)" in result.output
    assert plant.stored_rollups() == stored
    plant.call("DELETE", "/api/v1/sites/kolkata", 204)
    plant.check()


@pytest.mark.parametrize("site_id", sorted(ZONES))
def test_reads_equal_raw_sums_to_the_wh(plant, site_id):
    rng = random.Random(site_id)
    plant.site(site_id, ZONES[site_id])
    for meter_id, interval, unit in METERS:
        plant.send(readings_for(rng, site_id, meter_id, interval, unit))
    first, hours = SPANS[0]
    start, end = first - 5 * HOUR, first + (hours + 5) * HOUR
    for meter_id in (None, "m15", "m60"):
        params = {"site_id": site_id, "start": iso(start), "end": iso(end)}
        if meter_id:
            params["meter_id"] = meter_id
        sums, zone = plant.raw_total(site_id, start, end, meter_id)
        body = plant.read("series", resolution="hour", **params)
        assert body["unit"] == "kWh"
        got = {
            int(datetime.fromisoformat(point["ts"].replace("Z", "+00:00")).timestamp()): point[
                "value"
            ]
            for point in body["points"]
        }
        assert {ts: value for ts, value in got.items() if value is not None} == {
            ts: wh_kwh(total) for ts, total in sums.items()
        }
        summary = plant.read("summary", **params)
        assert summary["total_value"] == wh_kwh(sum(sums.values()))
        assert summary["unit"] == "kWh"
        days = plant.read("series", resolution="day", **params)
        by_day = {}
        for ts, total in sums.items():
            day = datetime.fromtimestamp(ts, zone).date().isoformat()
            by_day[day] = by_day.get(day, 0) + total
        assert {
            point["ts"][:10]: point["value"]
            for point in days["points"]
            if point["value"] is not None
        } == {day: wh_kwh(total) for day, total in by_day.items()}


def test_removed_readings_leave_the_rollups(plant, app):
    from sqlalchemy import delete

    from cei.extensions import db
    from cei.models import readings
    from cei.services import rollups

    plant.site("s", "Asia/Kolkata")
    first = SPANS[0][0]
    plant.send(
        [
            {
                "site_id": "s",
                "meter_id": meter,
                "timestamp_utc": iso(first + i * 900),
                "value": 1.25,
                "interval_minutes": 15,
            }
            for meter in ("a", "b")
            for i in range(8)
        ]
    )
    plant.check()
    with app.app_context():
        gone = db.session.execute(
            delete(readings)
            .where(readings.c.ts < first + 4 * 900)
            .returning(readings.c.meter_pk, readings.c.ts, readings.c.value)
        ).all()
        assert len(gone) == 8
        changed = [(pk, ts, None, value) for pk, ts, value in gone]
        rollups.apply_changed_readings(db.session.connection(), changed)
        db.session.commit()
    meters, sites = plant.check()
    assert all(count > 0 for _, count in list(meters.values()) + list(sites.values()))
