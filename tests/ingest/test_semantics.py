"""What gets stored: duplicates, conflicts, idempotency keys, units, DST days, tenancy."""

import hashlib
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from cei.extensions import db
from cei.models import Meter, Organization, Site
from tests.ingest.conftest import Ingest, hour_start, hourly, iso


def set_organization(app, organization_id, **values):
    """Change organization settings directly in the database."""
    with app.app_context():
        organization = db.session.get(Organization, organization_id)
        for name, value in values.items():
            setattr(organization, name, value)
        db.session.commit()


def sites_of(app, organization_id):
    """Return ``{site_id: (name, timezone)}`` of an organization."""
    with app.app_context():
        rows = db.session.execute(
            select(Site.site_id, Site.name, Site.timezone).where(
                Site.organization_id == organization_id
            )
        ).all()
    return {site_id: (name, timezone) for site_id, name, timezone in rows}


def meter_interval(app, meter_id):
    with app.app_context():
        return db.session.scalar(select(Meter.interval_minutes).where(Meter.meter_id == meter_id))


def test_replay_and_partial_overlap(ingest):
    first = ingest.send(hourly(24))
    assert (first["ingested"], first["skipped_duplicate"], first["failed"]) == (24, 0, 0)
    replay = ingest.send(hourly(24))
    assert (replay["ingested"], replay["skipped_duplicate"], replay["failed"]) == (0, 24, 0)
    # The last 30 hours: 6 older hours are new, 24 were already stored with these values.
    wider = hourly(30, start_hours_ago=29, value=4.0)
    assert [r["value"] for r in wider[6:]] == [r["value"] for r in hourly(24)]
    overlap = ingest.send(wider)
    assert (overlap["ingested"], overlap["skipped_duplicate"], overlap["failed"]) == (6, 24, 0)
    assert len(ingest.stored()) == 30


def factory_key(site_id, meter_id, moment):
    """The key the factory client derives: factory-<site>-<meter>-<timestamp>-<hash>."""
    stamp = iso(moment).replace("-", "").replace(":", "")
    digest = hashlib.sha256(f"{site_id}\0{meter_id}\0{stamp}".encode()).hexdigest()
    return f"factory-{site_id}-{meter_id}-{stamp}-{digest[:8]}"


@pytest.mark.parametrize("hours", [1, 24, 168])
def test_factory_client_resend_of_the_last_hours(ingest, hours):
    def batch():
        return [
            {
                "site_id": "site-22",
                "meter_id": "main-meter",
                "timestamp_utc": iso(hour_start(i)),
                "value": 100.0 + i,
                "unit": "kWh",
                "idempotency_key": factory_key("site-22", "main-meter", hour_start(i)),
            }
            for i in range(hours)  # i = 0 is the current, still open hour
        ]

    first = ingest.send(batch(), source="factory-ramp-site-22")
    assert (first["ingested"], first["skipped_duplicate"], first["failed"]) == (hours, 0, 0)
    again = ingest.send(batch(), source="factory-ramp-site-22")
    assert (again["ingested"], again["skipped_duplicate"], again["failed"]) == (0, hours, 0)
    assert len(ingest.stored()) == hours
    assert len(ingest.keys()) == hours


def test_the_same_reading_twice_in_one_batch(ingest):
    records = hourly(3)
    body = ingest.send(records + [dict(records[1])])
    assert (body["ingested"], body["skipped_duplicate"], body["failed"]) == (3, 1, 0)


def test_two_values_for_one_meter_and_time_in_one_batch(ingest):
    records = hourly(3)
    body = ingest.send(records + [dict(records[1], value=999.0)])
    assert (body["ingested"], body["failed"]) == (3, 1)
    assert [(e["index"], e["code"]) for e in body["errors"]] == [(3, "CONFLICTING_VALUE")]
    assert "record 1" in body["errors"][0]["detail"]


def test_conflicting_value_is_rejected_then_replaced_with_update(ingest):
    ingest.send(hourly(3))
    changed = hourly(3)
    changed[2]["value"] = 50.0
    rejected = ingest.send(changed)
    assert (rejected["skipped_duplicate"], rejected["failed"]) == (2, 1)
    assert [(e["index"], e["code"]) for e in rejected["errors"]] == [(2, "CONFLICTING_VALUE")]
    ts = int(hour_start(0).timestamp())
    assert ingest.stored()[("site-22", "main", ts)] == 12.0

    updated = ingest.send(changed, on_conflict="update")
    assert (updated["ingested"], updated["updated"], updated["skipped_duplicate"]) == (0, 1, 2)
    assert updated["failed"] == 0
    assert ingest.stored()[("site-22", "main", ts)] == 50.0


def test_update_within_one_batch_keeps_the_last_value(ingest):
    records = hourly(2)
    body = ingest.send(records + [dict(records[0], value=77.0)], on_conflict="update")
    assert (body["ingested"], body["updated"], body["failed"]) == (2, 1, 0)
    assert sorted(ingest.stored().values()) == [11.0, 77.0]


def test_repeats_of_a_rejected_reading_are_rejected_with_it(ingest):
    ingest.send(hourly(1))
    clash = dict(hourly(1)[0], value=5.0)
    body = ingest.send([clash, dict(clash)])
    assert body["failed"] == 2
    assert body["skipped_duplicate"] == 0
    assert [e["index"] for e in body["errors"]] == [0, 1]


def test_idempotency_key_reuse(ingest):
    first = hourly(2, idempotency_key="k-1")
    first[1]["idempotency_key"] = "k-2"
    assert ingest.send(first)["ingested"] == 2
    # Same key, same reading: a duplicate. Same key, another reading: an error.
    again = [dict(first[0]), dict(first[0], value=99.0, timestamp_utc=iso(hour_start(7)))]
    body = ingest.send(again)
    assert (body["skipped_duplicate"], body["failed"]) == (1, 1)
    assert [(e["index"], e["code"]) for e in body["errors"]] == [(1, "IDEMPOTENCY_KEY_REUSED")]
    assert len(ingest.stored()) == 2
    assert ingest.keys()["k-1"][2] == first[0]["value"]


def test_idempotency_key_reused_inside_one_batch(ingest):
    records = hourly(2, idempotency_key="same")
    body = ingest.send(records)
    assert (body["ingested"], body["failed"]) == (1, 1)
    assert body["errors"][0]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert body["errors"][0]["index"] == 1


def test_key_of_a_rejected_reading_is_not_kept(ingest):
    ingest.send(hourly(1))
    clash = dict(hourly(1)[0], value=5.0, idempotency_key="retry-me")
    assert ingest.send([clash])["failed"] == 1
    assert "retry-me" not in ingest.keys()
    # Once the client fixes its value, the same key is accepted.
    fixed = dict(clash, timestamp_utc=iso(hour_start(3)))
    assert ingest.send([fixed])["ingested"] == 1


def test_a_new_key_for_a_stored_reading_is_a_duplicate(ingest):
    ingest.send(hourly(1))
    body = ingest.send([dict(hourly(1)[0], idempotency_key="late-key")])
    assert (body["ingested"], body["skipped_duplicate"]) == (0, 1)
    assert "late-key" in ingest.keys()


@pytest.mark.parametrize(
    ("unit", "value", "interval", "kwh"),
    [
        ("Wh", 500, None, 0.5),
        ("kWh", 2.5, None, 2.5),
        ("MWh", 0.25, None, 250.0),
        ("mwh", 0.001, None, 1.0),
        ("W", 1000, 15, 0.25),
        ("kW", 4, None, 4.0),  # the meter's interval: 60 for a new meter
        ("kw", 4, 15, 1.0),
        ("MW", 0.002, 30, 1.0),
        ("KWH", 3, None, 3.0),
    ],
)
def test_units_are_stored_as_kwh(ingest, unit, value, interval, kwh):
    record = hourly(1, value=value, unit=unit)[0]
    if interval:
        record["interval_minutes"] = interval
    body = ingest.send([record])
    assert body["ingested"] == 1, body
    assert list(ingest.stored().values()) == [pytest.approx(kwh)]


def test_power_uses_the_meter_interval(ingest):
    # The first record declares 15 minutes; the new meter keeps it for later power readings.
    start = hour_start(3)
    ingest.send(
        [
            {
                "site_id": "s",
                "meter_id": "m15",
                "timestamp_utc": iso(start),
                "value": 8,
                "unit": "kW",
                "interval_minutes": 15,
            }
        ]
    )
    assert meter_interval(ingest.app, "m15") == 15
    body = ingest.send(
        [
            {
                "site_id": "s",
                "meter_id": "m15",
                "timestamp_utc": iso(start + timedelta(minutes=15)),
                "value": 8,
                "unit": "kW",
            }
        ]
    )
    assert body["ingested"] == 1
    assert sorted(ingest.stored().values()) == [2.0, 2.0]


def test_a_new_meter_infers_its_interval_from_its_first_readings(ingest):
    start = hour_start(4)
    records = [
        {
            "site_id": "s",
            "meter_id": "q",
            "timestamp_utc": iso(start + timedelta(minutes=15 * i)),
            "value": 4,
            "unit": "kW",
        }
        for i in range(4)
    ]
    assert ingest.send(records)["ingested"] == 4
    assert meter_interval(ingest.app, "q") == 15
    assert sorted(ingest.stored().values()) == [1.0] * 4
    # Hourly data with a gap stays hourly.
    gappy = hourly(5, meter_id="h")
    del gappy[2]
    ingest.send(gappy)
    assert meter_interval(ingest.app, "h") == 60


@pytest.mark.parametrize(
    ("day", "hours"), [(datetime(2025, 3, 30), 23), (datetime(2025, 10, 26), 25)]
)
def test_dst_days_in_rome_keep_every_quarter_hour(ingest, day, hours):
    rome = ZoneInfo("Europe/Rome")
    start = day.replace(tzinfo=rome).astimezone(UTC)
    end = (day + timedelta(days=1)).replace(tzinfo=rome).astimezone(UTC)
    assert end - start == timedelta(hours=hours)
    records = []
    moment = start
    while moment < end:
        records.append(
            {
                "site_id": "rome",
                "meter_id": "q15",
                # Local wall-clock time with its offset, as a factory PLC writes it.
                "timestamp_utc": moment.astimezone(rome).isoformat(),
                "value": 1.0,
                "interval_minutes": 15,
            }
        )
        moment += timedelta(minutes=15)
    assert len(records) == hours * 4
    body = ingest.send(records)
    assert (body["ingested"], body["skipped_duplicate"], body["failed"]) == (hours * 4, 0, 0)
    stored = sorted(ts for _, _, ts in ingest.stored("rome"))
    assert len(stored) == hours * 4
    assert stored[0] == int(start.timestamp())
    assert {b - a for a, b in zip(stored, stored[1:], strict=False)} == {900}


def test_sites_are_created_with_the_organization_timezone(ingest):
    set_organization(ingest.app, ingest.organization_id, timezone="Europe/Rome")
    ingest.send(hourly(1, site_id="plant-7"))
    assert sites_of(ingest.app, ingest.organization_id) == {"plant-7": ("plant-7", "Europe/Rome")}


def test_unknown_site_when_auto_creation_is_off(ingest):
    ingest.send(hourly(1, site_id="known", start_hours_ago=5))
    set_organization(ingest.app, ingest.organization_id, auto_create_sites=False)
    records = hourly(2, site_id="known") + hourly(2, site_id="unknown")
    # A known site still gets new meters.
    records.append(dict(hourly(1, site_id="known")[0], meter_id="new-meter"))
    body = ingest.send(records)
    assert (body["ingested"], body["skipped_duplicate"], body["failed"]) == (3, 0, 2)
    assert [(e["index"], e["code"]) for e in body["errors"]] == [
        (2, "UNKNOWN_SITE"),
        (3, "UNKNOWN_SITE"),
    ]
    assert set(sites_of(ingest.app, ingest.organization_id)) == {"known"}


def test_another_organization_gets_its_own_site(app, client, api, ingest):
    ingest.send(hourly(3, site_id="site-22"))
    before = ingest.stored()
    other = Ingest(app, client, api, org="Other Co")
    body = other.send(hourly(3, site_id="site-22", value=500.0))
    assert body["ingested"] == 3  # not duplicates or conflicts of A's readings
    assert ingest.stored() == before
    assert sorted(other.stored().values()) == [500.0, 501.0, 502.0]
    assert set(sites_of(app, other.organization_id)) == {"site-22"}
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(Site)) == 2


def test_one_transaction_for_sites_meters_and_readings(ingest):
    records = [
        {
            "site_id": f"s{i % 3}",
            "meter_id": f"m{i % 4}",
            "timestamp_utc": iso(hour_start(i)),
            "value": float(i),
        }
        for i in range(48)
    ]
    body = ingest.send(records)
    assert body["ingested"] == 48
    assert len(ingest.stored()) == 48
    assert set(sites_of(ingest.app, ingest.organization_id)) == {"s0", "s1", "s2"}


def test_replay_across_several_meters_with_one_changed_value(ingest):
    records = [
        {
            "site_id": "s",
            "meter_id": f"m{i % 3}",
            "timestamp_utc": iso(hour_start(i // 3)),
            "value": float(i),
        }
        for i in range(30)
    ]
    assert ingest.send(records)["ingested"] == 30
    records[17] = dict(records[17], value=1000.0)
    body = ingest.send(records + [dict(records[4], timestamp_utc=iso(hour_start(40)))])
    assert (body["ingested"], body["skipped_duplicate"], body["failed"]) == (1, 29, 1)
    assert [(e["index"], e["code"]) for e in body["errors"]] == [(17, "CONFLICTING_VALUE")]


def test_a_sparse_batch_over_a_long_stored_history(ingest):
    start = hour_start(600)
    history = [
        {
            "site_id": "s",
            "meter_id": "m",
            "timestamp_utc": iso(start + timedelta(minutes=15 * i)),
            "value": 1.0,
        }
        for i in range(2000)
    ]
    assert ingest.send(history)["ingested"] == 2000
    # First and last of the history (one changed) plus a new reading in between: the
    # stored range holds far more rows than the batch, so the lookup probes timestamps.
    sparse = [
        history[0],
        dict(history[-1], value=2.0),
        dict(history[0], timestamp_utc=iso(start + timedelta(minutes=15 * 500 + 5))),
    ]
    body = ingest.send(sparse)
    assert (body["ingested"], body["skipped_duplicate"], body["failed"]) == (1, 1, 1)
    assert body["errors"][0]["index"] == 1


def test_deleting_a_site_forgets_its_readings_and_idempotency_keys(ingest):
    doomed = hourly(3, site_id="site-22")
    kept = hourly(2, site_id="site-7")
    for record in doomed + kept:
        record["idempotency_key"] = (
            f"factory-{record['site_id']}-{record['meter_id']}-{record['timestamp_utc']}"
        )
    assert ingest.send(doomed + kept)["ingested"] == 5
    response = ingest.client.delete("/api/v1/sites/site-22", headers=ingest.account["headers"])
    assert response.status_code == 204
    assert ingest.stored(site_id="site-22") == {}
    assert sorted(ingest.keys()) == sorted(record["idempotency_key"] for record in kept)
    # The keys went with the site: the same keyed readings are new again, not duplicates.
    result = ingest.send(doomed)
    assert (result["ingested"], result["skipped_duplicate"], result["failed"]) == (3, 0, 0)
    assert len(ingest.stored(site_id="site-22")) == 3
    assert len(ingest.keys()) == 5


def test_skipped_duplicate_means_stored_with_this_value_also_after_an_update(ingest):
    original = dict(hourly(1)[0], value=10.0, idempotency_key="reading-1")
    assert ingest.send([original])["ingested"] == 1
    correction = dict(original, value=12.0)
    correction.pop("idempotency_key")
    assert ingest.send([correction], on_conflict="update")["updated"] == 1
    # The original keyed reading again: 12 is stored, so 10 is a conflict, not a duplicate.
    body = ingest.send([original])
    assert (body["skipped_duplicate"], body["failed"]) == (0, 1)
    assert body["errors"][0]["code"] == "CONFLICTING_VALUE"
    assert list(ingest.stored().values()) == [12.0]
    # Sent with "update", it puts 10 back.
    body = ingest.send([original], on_conflict="update")
    assert (body["updated"], body["skipped_duplicate"], body["failed"]) == (1, 0, 0)
    assert list(ingest.stored().values()) == [10.0]


def test_a_keyed_reading_is_corrected_with_its_own_key(ingest):
    sent = dict(hourly(1)[0], value=10.0, idempotency_key="reading-2")
    ingest.send([sent])
    fixed = dict(sent, value=11.5)
    body = ingest.send([fixed])
    assert [error["code"] for error in body["errors"]] == ["CONFLICTING_VALUE"]
    body = ingest.send([fixed], on_conflict="update")
    assert (body["updated"], body["failed"]) == (1, 0)
    assert list(ingest.stored().values()) == [11.5]
    assert ingest.send([fixed])["skipped_duplicate"] == 1
    # The same key for another time or another meter still names another reading.
    for other in (
        dict(fixed, timestamp_utc=iso(hour_start(5))),
        dict(fixed, meter_id="other-meter"),
    ):
        body = ingest.send([other], on_conflict="update")
        assert [error["code"] for error in body["errors"]] == ["IDEMPOTENCY_KEY_REUSED"]
    assert list(ingest.stored().values()) == [11.5]


def test_a_keyed_batch_with_one_corrected_value(ingest):
    records = [dict(r, idempotency_key=f"k-{i}") for i, r in enumerate(hourly(24))]
    assert ingest.send(records)["ingested"] == 24
    records[7] = dict(records[7], value=99.0)
    body = ingest.send(records)
    assert (body["skipped_duplicate"], body["failed"]) == (23, 1)
    assert body["errors"][0]["index"] == 7
    body = ingest.send(records, on_conflict="update")
    assert (body["skipped_duplicate"], body["updated"], body["failed"]) == (23, 1, 0)
    assert sorted(ingest.stored().values())[-1] == 99.0


def test_a_keyed_replay_after_another_batch_corrected_one_reading(app, ingest):
    """Keys alone tell a replay only until a reading of the meter is replaced."""
    records = [dict(r, idempotency_key=f"day-{i}") for i, r in enumerate(hourly(24))]
    assert ingest.send(records)["ingested"] == 24
    assert ingest.send(records)["skipped_duplicate"] == 24
    assert meter_corrected(app, records[0]["meter_id"]) is False
    correction = dict(records[5], value=77.0)
    correction.pop("idempotency_key")
    assert ingest.send([correction], on_conflict="update")["updated"] == 1
    assert meter_corrected(app, records[0]["meter_id"]) is True
    body = ingest.send(records)
    assert (body["skipped_duplicate"], body["failed"]) == (23, 1)
    assert (body["errors"][0]["index"], body["errors"][0]["code"]) == (5, "CONFLICTING_VALUE")


def meter_corrected(app, meter_id):
    with app.app_context():
        return db.session.scalar(select(Meter.corrected).where(Meter.meter_id == meter_id))
