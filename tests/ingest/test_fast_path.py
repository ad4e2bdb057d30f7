"""The fast path of ``/timeseries/batch`` (``ingest_fast``) against the per-record checks.

The fast path may only answer a batch the per-record path would accept as a whole, and must
then answer it exactly as that path would; every other batch it declines, and the API's
answer is the per-record path's.
"""

import json
import math
import random
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest

from cei.jsonio import loads
from cei.services import ingest as ingest_service
from cei.services import ingest_fast
from cei.services.ingest_checks import RETENTION_DAYS, RecordChecker
from cei.services.ingest_fast import check_columns, decode_batch
from tests.ingest.conftest import BATCH_URL, hour_start, iso


def check_typed(checker, records, first_index=0):
    """The fast path's checked records as the per-record checks return them, or None."""
    columns = check_columns(checker, records, first_index)
    return None if columns is None else columns.tuples()


NOW = 1_718_000_000  # 2024-06-10T06:13:20Z, for the direct comparisons
STATE = ("pairs", "key_groups", "declared_intervals", "needs_intervals", "good_ids")
KWH = {None: 1.0, "kWh": 1.0, "Wh": 0.001, "MWh": 1000.0}
SITES = ("site-1", "Stabilimento-Città", "工場-1", "x'; DROP TABLE readings;--")
METERS = ("main", "Zähler 3", "m'--")


def stamp(seconds, offset=None, fraction="", sep="T"):
    """ISO 8601 text for epoch ``seconds`` with ``fraction``, in ``offset`` ("Z" when None)."""
    zone = UTC if offset is None else timezone(offset)
    text = datetime.fromtimestamp(seconds, zone).strftime(f"%Y-%m-%d{sep}%H:%M:%S") + fraction
    if offset is None:
        return text + "Z"
    sign, minutes = ("-", -offset) if offset < timedelta(0) else ("+", offset)
    hours, rest = divmod(int(minutes.total_seconds()) // 60, 60)
    return f"{text}{sign}{hours:02d}:{rest:02d}"


def rec(i=0, **fields):
    """A valid record ``i`` quarter-hours before NOW's hour, with ``fields`` added."""
    return {
        "site_id": "site-1",
        "meter_id": "main",
        "timestamp_utc": stamp(NOW - 3600 - 900 * i),
        "value": 1.5 + i,
        **fields,
    }


def both_paths(body, first_index=0):
    """Run ``body`` through both paths; assert they agree; return the fast path's tuples."""
    failures = []
    slow = RecordChecker(NOW)
    expected = slow.check(
        orjson.loads(body)["records"], first_index, lambda *error: failures.append(error)
    )
    assert failures == []
    fast = RecordChecker(NOW)
    batch = decode_batch(body)
    assert batch is not None
    got = check_typed(fast, batch.records, first_index)
    assert got == expected
    for name in STATE:
        assert getattr(fast, name) == getattr(slow, name), name
    assert all(type(row[3]) is int and math.copysign(1, row[4]) == 1 for row in got)
    return got


EQUIVALENT = {
    "one meter": [rec(i) for i in range(24)],
    "interleaved pairs": [rec(i, site_id=SITES[i % 4], meter_id=METERS[i % 3]) for i in range(36)],
    "units": [
        rec(0),
        rec(1, unit=None),
        rec(2, unit="kWh"),
        rec(3, unit="Wh", value=1234),
        rec(4, unit="MWh", value=0.25),
        rec(5, unit="MWh", value=1e6),
    ],
    "values": [
        rec(0, value=0),
        rec(1, value=-0.0),
        rec(2, value=1e9),
        rec(3, value=1000000000),
        rec(4, value=7),
        rec(5, value=0.1),
        rec(6, value=-0.0, unit="Wh"),
        rec(7, value=0, unit="MWh"),
    ],
    "timestamps": [
        rec(0, timestamp_utc=stamp(NOW - 7200, timedelta(hours=1))),
        rec(1, timestamp_utc=stamp(NOW - 7200, -timedelta(hours=5, minutes=30))),
        rec(2, timestamp_utc=stamp(NOW - 9000, fraction=".5")),
        rec(3, timestamp_utc=stamp(NOW - 9900, timedelta(hours=2), ".999999")),
        rec(4, timestamp_utc=stamp(NOW - 10800, fraction=".1234567")),
        rec(5, timestamp_utc=stamp(NOW - 11700, sep="t")),  # fromisoformat takes any separator
        rec(6, timestamp_utc=stamp(NOW - 12600, sep=" ")),
    ],
    "window edges": [
        rec(0, timestamp_utc=stamp(NOW + 300, fraction=".999")),
        rec(1, timestamp_utc=stamp(NOW - RETENTION_DAYS * 86400)),
    ],
    "keys on all": [rec(i, idempotency_key=f"k-{i}") for i in range(10)],
    "keys on some": [
        rec(i, idempotency_key=f" lead-{i}" if i % 3 else None, meter_id=METERS[i % 2])
        for i in range(12)
    ],
    "keys odd": [
        rec(0, idempotency_key="k" * 200),
        rec(1, idempotency_key="工場'; --"),
        rec(2, idempotency_key="😀" * 200),
    ],
    "intervals": [
        rec(0),
        rec(1, interval_minutes=15),
        rec(2, interval_minutes=60),
        rec(3, meter_id="m2", interval_minutes=1440),
        rec(4, meter_id="m2"),
        rec(5, meter_id="m3", interval_minutes=1, unit="Wh"),
    ],
    "extra fields": [
        rec(i, note="ok", quality=[1, 2], unit="kWh", site_id="工場-1") for i in range(5)
    ],
}


@pytest.mark.parametrize("records", EQUIVALENT.values(), ids=EQUIVALENT.keys())
def test_well_formed_batches_take_either_path_alike(records):
    body = orjson.dumps({"records": records, "source": "plc-7", "on_conflict": "update"})
    assert len(both_paths(body)) == len(records)
    assert both_paths(json.dumps({"records": records}).encode(), first_index=5)[0][0] == 5


def test_fractions_are_floored_and_negative_zero_is_zero():
    body = orjson.dumps({"records": EQUIVALENT["timestamps"] + EQUIVALENT["values"]})
    rows = both_paths(body)
    assert [row[3] for row in rows[:7]] == [
        NOW - s for s in (7200, 7200, 9000, 9900, 10800, 11700, 12600)
    ]
    assert [row[4] for row in rows[7:11]] == [0.0, 0.0, 1e9, 1e9]


def random_batch(rng):
    """A well-formed batch: random pairs, units, values, stamps, keys, intervals, extras."""
    pairs = [(rng.choice(SITES), rng.choice(METERS)) for _ in range(rng.randint(1, 4))]
    key_mode = rng.choice(("none", "all", "some"))
    records = []
    for n in range(rng.randint(1, 40)):
        site, meter = rng.choice(pairs)
        record = {"site_id": site, "meter_id": meter}
        offset = rng.choice((None, None, timedelta(hours=1), -timedelta(hours=5, minutes=30)))
        fraction = rng.choice(("", "", ".5", ".999999", ".1234567", ".000000001"))
        record["timestamp_utc"] = stamp(NOW - rng.randint(0, 400 * 86400), offset, fraction)
        unit = rng.choice(("absent", None, "kWh", "Wh", "MWh"))
        if unit != "absent":
            record["unit"] = unit
        value = rng.choice((0, -0.0, 1e9, rng.randint(0, 10**6), rng.uniform(0, 5000)))
        record["value"] = min(value, 1e6) if unit == "MWh" else value
        if key_mode == "all" or (key_mode == "some" and rng.random() < 0.5):
            record["idempotency_key"] = rng.choice(("k-", "Città-", " lead ", "x'; --", "工場"))
            record["idempotency_key"] += str(n)
        if rng.random() < 0.3:
            record["interval_minutes"] = rng.choice((1, 5, 15, 60, 1440))
        if rng.random() < 0.2:
            record["note"] = {"extra": True}
        records.append(record)
    body = {"records": records}
    if rng.random() < 0.5:
        body.update(source="gateway", on_conflict=rng.choice(("reject", "update")))
    return orjson.dumps(body) if rng.random() < 0.5 else json.dumps(body).encode()


def test_random_well_formed_batches_take_either_path_alike():
    rng = random.Random(1234)
    for _ in range(300):
        both_paths(random_batch(rng), first_index=rng.choice((0, 0, 17)))


def declines(body, now):
    """Whether the fast path declines ``body``."""
    batch = decode_batch(body)
    return batch is None or check_typed(RecordChecker(now), batch.records) is None


def per_record_errors(body, now):
    """``[(index, code)]`` the per-record path reports for ``body``."""
    failures = []
    RecordChecker(now).check(loads(body)["records"], 0, lambda *error: failures.append(error))
    return [(index, code) for index, code, _ in failures]


def live(hours_ago=1, **fields):
    """A valid record ``hours_ago`` hours before the current hour, with ``fields`` applied."""
    record = {
        "site_id": "s",
        "meter_id": "m",
        "timestamp_utc": iso(hour_start(hours_ago)),
        "value": 12.5,
    }
    record.update(fields)
    return record


DECLINED = {  # the record after a valid one -> the per-record path's code (None: stored)
    "naive stamp": (live(timestamp_utc=hour_start(1).strftime("%Y-%m-%dT%H:%M:%S")), None),
    "lowercase z": (live(timestamp_utc=iso(hour_start(1))[:-1] + "z"), "INVALID_TIMESTAMP"),
    # Built when the test runs (a callable): collection may happen minutes earlier.
    "future": (
        lambda: live(timestamp_utc=iso(datetime.now(UTC) + timedelta(minutes=10))),
        "INVALID_TIMESTAMP",
    ),
    "past retention": (
        live(timestamp_utc=iso(datetime.now(UTC) - timedelta(days=RETENTION_DAYS + 1))),
        "INVALID_TIMESTAMP",
    ),
    "not iso": (live(timestamp_utc="yesterday"), "INVALID_TIMESTAMP"),
    "nan": (live(value=float("nan")), "INVALID_VALUE"),
    "infinity": (live(value=float("inf")), "INVALID_VALUE"),
    "huge int": (live(value=10**400), "INVALID_VALUE"),
    "true": (live(value=True), "INVALID_VALUE"),
    "string value": (live(value="12.5"), "INVALID_VALUE"),
    "negative": (live(value=-1), "INVALID_VALUE"),
    "over 1e9": (live(value=10**9 + 1), "INVALID_VALUE"),
    "MWh over 1e9 kWh": (live(value=2e6, unit="MWh"), "INVALID_VALUE"),
    "kW": (live(unit="kW"), None),
    "W": (live(unit="W"), None),
    "MW": (live(unit="MW", value=0.5), None),
    "kwh lowercase": (live(unit="kwh"), None),
    "empty unit": (live(unit=""), None),
    "BTU": (live(unit="BTU"), "INVALID_UNIT"),
    "interval 0": (live(interval_minutes=0), "INVALID_VALUE"),
    "interval 1441": (live(interval_minutes=1441), "INVALID_VALUE"),
    "interval 60.0": (live(interval_minutes=60.0), None),
    "interval text": (live(interval_minutes="60"), "INVALID_VALUE"),
    "empty key": (live(idempotency_key=""), None),
    "blank key": (live(idempotency_key="   "), None),
    "tab key": (live(idempotency_key="\t"), None),
    "key 201": (live(idempotency_key="k" * 201), "INVALID_IDEMPOTENCY_KEY"),
    "key object": (live(idempotency_key={"a": 1}), "INVALID_IDEMPOTENCY_KEY"),
    "key NUL": (live(idempotency_key="key\x00"), "INVALID_IDEMPOTENCY_KEY"),
    "meter control": (live(meter_id="line\n2"), "INVALID_METER_ID"),
    "meter NUL": (live(meter_id="main\x00"), "INVALID_METER_ID"),
    "site surrogate": (live(site_id="s\ud800"), "INVALID_SITE_ID"),
    "empty site": (live(site_id=""), "INVALID_SITE_ID"),
    "site 101": (live(site_id="s" * 101), "INVALID_SITE_ID"),
    "site number": (live(site_id=7), "INVALID_SITE_ID"),
    "not an object": (42, "MISSING_FIELD"),
    "missing value": ({k: v for k, v in live().items() if k != "value"}, "MISSING_FIELD"),
    "null site": (live(site_id=None), "MISSING_FIELD"),
}


@pytest.mark.parametrize(("record", "code"), DECLINED.values(), ids=DECLINED.keys())
def test_fast_path_declines_and_api_answers_per_record(ingest, record, code):
    record = record() if callable(record) else record
    now = datetime.now(UTC).timestamp()
    body = json.dumps({"records": [live(3), record]}).encode()  # json writes NaN, 10**400
    assert declines(body, now)
    expected = [(1, code)] if code else []
    assert per_record_errors(body, now) == expected
    response = ingest.client.post(
        BATCH_URL, data=body, content_type="application/json", headers=ingest.headers
    )
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert [(error["index"], error["code"]) for error in answer["errors"]] == expected
    assert (answer["ingested"], answer["failed"]) == (2 - len(expected), len(expected))


@pytest.mark.parametrize("body", [{"records": {"0": live()}}, {"records": None}, [live()]])
def test_records_not_a_list_is_declined_and_refused(ingest, body):
    raw = json.dumps(body).encode()
    assert decode_batch(raw) is None
    response = ingest.client.post(
        BATCH_URL, data=raw, content_type="application/json", headers=ingest.headers
    )
    assert response.status_code == 422
    assert ingest.stored() == {}


def quarter_hours(start):
    """96 keyed quarter-hour records from ``start``, cycling through the energy units."""
    units = (None, "kWh", "Wh", "MWh")
    return [
        {
            "site_id": "Stabilimento-Città",
            "meter_id": "工場-1",
            "timestamp_utc": iso(start + timedelta(minutes=15 * i)),
            "value": (1000 + 7.25 * i) if units[i % 4] == "Wh" else 0.125 * i,
            **({"unit": units[i % 4]} if units[i % 4] else {}),
            "idempotency_key": f"q-{i}",
        }
        for i in range(96)
    ]


def test_resend_and_fallback_agree_with_fast_path(ingest):
    start = hour_start(30)
    records = quarter_hours(start)
    assert ingest.send(records)["ingested"] == 96
    expected = {
        (
            r["site_id"],
            r["meter_id"],
            int(datetime.fromisoformat(r["timestamp_utc"]).timestamp()),
        ): r["value"] * KWH[r.get("unit")]
        for r in records
    }
    assert ingest.stored() == expected
    assert len(ingest.keys()) == 96
    again = ingest.send(records)
    assert (again["ingested"], again["skipped_duplicate"], again["failed"]) == (0, 96, 0)
    naive = start + timedelta(hours=24)
    extra = dict(records[0], timestamp_utc=naive.strftime("%Y-%m-%dT%H:%M:%S"), value=3.5)
    extra.pop("idempotency_key")
    mixed = records + [extra]
    assert declines(orjson.dumps({"records": mixed}), datetime.now(UTC).timestamp())
    body = ingest.send(mixed)
    assert (body["ingested"], body["skipped_duplicate"], body["failed"]) == (1, 96, 0)
    assert ingest.stored() == {
        **expected,
        (extra["site_id"], extra["meter_id"], int(naive.timestamp())): 3.5,
    }


def test_power_reading_with_interval_is_stored_by_fallback(ingest):
    records = [live(hours, value=10.0 + hours) for hours in (1, 2, 3)]
    records.append(live(4, value=8.0, unit="kW", interval_minutes=15))
    assert decode_batch(orjson.dumps({"records": records})) is None
    body = ingest.send(records)
    assert (body["ingested"], body["failed"]) == (4, 0)
    values = {ts: value for (_, _, ts), value in ingest.stored().items()}
    assert values == {
        int(hour_start(h).timestamp()): v
        for h, v in ((1, 11.0), (2, 12.0), (3, 13.0), (4, 8.0 * 15 / 60))
    }


def test_well_formed_batch_takes_fast_path(ingest, monkeypatch):
    results = []
    original = ingest_fast.check_columns

    def counting(*args, **kwargs):
        results.append(original(*args, **kwargs))
        return results[-1]

    # ingest.py binds the name at import: patch it where it is looked up, and at its source.
    monkeypatch.setattr(ingest_fast, "check_columns", counting)
    monkeypatch.setattr(ingest_service, "check_columns", counting, raising=False)
    body = ingest.send([live(1), live(2, unit="Wh", value=500)])
    assert body["ingested"] == 2
    assert len(results) == 1 and isinstance(results[0], ingest_fast.Columns)
    assert len(results[0]) == 2


def test_remembered_timestamp_columns_parse_as_fresh_ones():
    texts = tuple(stamp(NOW - 900 * i, fraction=".75") for i in range(50))
    fresh = ingest_fast.epoch_seconds(texts)
    assert list(ingest_fast.column_seconds(texts)) == fresh == [NOW - 900 * i for i in range(50)]
    hits = ingest_fast._remembered_seconds.cache_info().hits
    again = tuple((text + " ")[:-1] for text in texts)  # equal texts, other objects
    assert list(ingest_fast.column_seconds(again)) == fresh
    assert ingest_fast._remembered_seconds.cache_info().hits == hits + 1
    naive = (*texts[:-1], "2024-06-10T06:13:20")
    assert ingest_fast.column_seconds(naive) is None
    assert ingest_fast.column_seconds(naive) is None


def test_large_timestamp_columns_are_not_remembered():
    size = ingest_fast.LARGEST_REMEMBERED_COLUMN + 1
    texts = tuple(stamp(NOW - i) for i in range(size))
    before = ingest_fast._remembered_seconds.cache_info().currsize
    assert ingest_fast.column_seconds(texts) == [NOW - i for i in range(size)]
    assert ingest_fast._remembered_seconds.cache_info().currsize == before
