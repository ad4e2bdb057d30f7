"""Per-record validation: every error code, at the exact index, next to records that pass."""

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from tests.ingest.conftest import BATCH_URL, hour_start, iso


def good(**changes):
    """A valid record one hour ago, with ``changes`` applied (None removes a field)."""
    record = {
        "site_id": "site-22",
        "meter_id": "main",
        "timestamp_utc": iso(hour_start(1)),
        "value": 12.5,
        "unit": "kWh",
    }
    for name, value in changes.items():
        if value is None:
            record.pop(name, None)
        else:
            record[name] = value
    return record


def post_raw(ingest, text):
    """POST a JSON text (which may hold NaN, Infinity or huge integers)."""
    response = ingest.client.post(
        BATCH_URL, data=text, content_type="application/json", headers=ingest.headers
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def stamp(hours_ago):
    return iso(hour_start(hours_ago))


def test_every_code_is_reported_at_its_index(ingest):
    now = datetime.now(UTC)
    cases = [
        (good(timestamp_utc=stamp(40)), None),
        (good(value=None), "MISSING_FIELD"),
        (42, "MISSING_FIELD"),
        (good(site_id=""), "INVALID_SITE_ID"),
        (good(site_id=123), "INVALID_SITE_ID"),
        (good(site_id="s" * 101), "INVALID_SITE_ID"),
        (good(meter_id="main\x00"), "INVALID_METER_ID"),
        (good(meter_id="line\n2"), "INVALID_METER_ID"),
        (good(timestamp_utc="yesterday"), "INVALID_TIMESTAMP"),
        (good(timestamp_utc=iso(now + timedelta(minutes=10))), "INVALID_TIMESTAMP"),
        (good(timestamp_utc=iso(now - timedelta(days=11 * 365))), "INVALID_TIMESTAMP"),
        (good(timestamp_utc=1_700_000_000), "INVALID_TIMESTAMP"),
        (good(value="12.5"), "INVALID_VALUE"),
        (good(value=True), "INVALID_VALUE"),
        (good(value=-1), "INVALID_VALUE"),
        (good(value=float("nan")), "INVALID_VALUE"),
        (good(value=float("inf")), "INVALID_VALUE"),
        (good(value=10**400), "INVALID_VALUE"),
        (good(value=2e9), "INVALID_VALUE"),
        (good(unit="kWhh"), "INVALID_UNIT"),
        (good(unit=5), "INVALID_UNIT"),
        (good(idempotency_key={"a": 1}), "INVALID_IDEMPOTENCY_KEY"),
        (good(idempotency_key="k" * 201), "INVALID_IDEMPOTENCY_KEY"),
        (good(idempotency_key="key\x00"), "INVALID_IDEMPOTENCY_KEY"),
        (good(interval_minutes=0), "INVALID_VALUE"),
        (good(timestamp_utc=None, site_id=None), "MISSING_FIELD"),
        (good(timestamp_utc=stamp(41), unit="mwh", value=0.5), None),
        (good(timestamp_utc=stamp(42), idempotency_key="  "), None),  # blank key = absent
        (good(value=3e9, unit="MWh"), "INVALID_VALUE"),  # 3e12 kWh after conversion
    ]
    # json.dumps writes NaN, Infinity and 10**400 as the bare tokens a sloppy client sends.
    body = post_raw(ingest, json.dumps({"records": [record for record, _ in cases]}))

    expected = [(index, code) for index, (_, code) in enumerate(cases) if code]
    assert [(error["index"], error["code"]) for error in body["errors"]] == expected
    assert all(isinstance(error["detail"], str) and error["detail"] for error in body["errors"])
    assert body["failed"] == len(expected)
    assert body["ingested"] == 3
    assert body["errors_truncated"] is False
    stored = ingest.stored()
    assert sorted(stored.values()) == [12.5, 12.5, 500.0]


def test_details_say_what_is_wrong(ingest):
    body = post_raw(
        ingest,
        json.dumps(
            {
                "records": [
                    good(value="12.5"),
                    good(value=-3),
                    good(timestamp_utc=iso(datetime.now(UTC) + timedelta(minutes=10))),
                    good(site_id=None),
                ]
            }
        ),
    )
    details = [error["detail"] for error in body["errors"]]
    assert "string" in details[0]
    assert "negative" in details[1]
    assert "future" in details[2]
    assert "site_id" in details[3]


def test_unicode_and_sql_looking_ids_are_stored_verbatim(ingest):
    site = "Werk Süd – Halle 3 🏭"
    meter = "'; DROP TABLE readings; --"
    key = "k'); DELETE FROM ingest_keys; --"
    body = ingest.send([good(site_id=site, meter_id=meter, idempotency_key=key)])
    assert body["ingested"] == 1
    assert list(ingest.stored()) == [(site, meter, int(hour_start(1).timestamp()))]
    assert list(ingest.keys()) == [key]
    # A second batch finds the same site and meter again.
    again = ingest.send([good(site_id=site, meter_id=meter, idempotency_key=key)])
    assert again["skipped_duplicate"] == 1


def test_ids_at_the_length_limit_pass(ingest):
    body = ingest.send([good(site_id="s" * 100, meter_id="m" * 100, idempotency_key="k" * 200)])
    assert body["ingested"] == 1


def test_naive_and_offset_timestamps_of_the_same_instant_are_one_reading(ingest):
    moment = hour_start(5)
    naive = moment.strftime("%Y-%m-%dT%H:%M:%S")
    rome = moment.astimezone(ZoneInfo("Europe/Rome")).isoformat()
    body = ingest.send(
        [
            good(timestamp_utc=naive),
            good(timestamp_utc=rome),
            good(timestamp_utc=iso(moment)),
            good(timestamp_utc=moment.isoformat()),  # +00:00
        ]
    )
    assert (body["ingested"], body["skipped_duplicate"], body["failed"]) == (1, 3, 0)
    assert list(ingest.stored()) == [("site-22", "main", int(moment.timestamp()))]


def test_fractions_of_a_second_are_dropped(ingest):
    moment = hour_start(2)
    body = ingest.send([good(timestamp_utc=iso(moment)[:-1] + ".750Z")])
    assert body["ingested"] == 1
    assert list(ingest.stored())[0][2] == int(moment.timestamp())


def test_a_timestamp_within_five_minutes_ahead_is_accepted(ingest):
    soon = datetime.now(UTC) + timedelta(minutes=4)
    body = ingest.send([good(timestamp_utc=soon.isoformat())])
    assert body["ingested"] == 1


def test_zero_and_integer_values_are_fine(ingest):
    body = ingest.send([good(value=0), good(timestamp_utc=stamp(2), value=7)])
    assert body["ingested"] == 2
    assert sorted(ingest.stored().values()) == [0.0, 7.0]


def test_errors_are_capped_at_a_thousand_in_index_order(ingest):
    records = [good(timestamp_utc=stamp(i + 1)) for i in range(10)]
    records += [good(value="bad")] * 1500
    body = ingest.send(records)
    assert body["failed"] == 1500
    assert body["ingested"] == 10
    assert len(body["errors"]) == 1000
    assert body["errors_truncated"] is True
    indices = [error["index"] for error in body["errors"]]
    assert indices == list(range(10, 1010))


def test_ids_follow_the_sites_api_rule(ingest):
    cases = [
        (good(site_id="a/b"), "INVALID_SITE_ID"),
        (good(site_id=" site-22"), "INVALID_SITE_ID"),
        (good(meter_id="main "), "INVALID_METER_ID"),
        (good(meter_id="\u202eniam"), "INVALID_METER_ID"),
        (good(site_id=".."), "INVALID_SITE_ID"),
    ]
    body = ingest.send([record for record, _ in cases])
    assert [(e["index"], e["code"]) for e in body["errors"]] == [
        (index, code) for index, (_, code) in enumerate(cases)
    ]
    assert ingest.stored() == {}


def test_ids_are_stored_in_nfc_form(ingest):
    decomposed = good(site_id="Citta\u0300", meter_id="Za\u0308hler")
    assert ingest.send([decomposed])["ingested"] == 1
    composed = good(site_id="Città", meter_id="Zähler")
    assert ingest.send([composed])["skipped_duplicate"] == 1
    assert list(ingest.stored()) == [("Città", "Zähler", int(hour_start(1).timestamp()))]
    path = "/api/v1/sites/Citt%C3%A0"
    read = ingest.client.get(path, headers=ingest.account["headers"])
    assert read.status_code == 200 and read.get_json()["site_id"] == "Città"
