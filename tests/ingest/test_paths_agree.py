"""The fast path (:mod:`cei.services.ingest.columns`) and the per-record path agree.

Directly (no database): on well-formed batches, the fast path's checked records and the
checker's state equal the per-record checks'. Through the API: random batches, well formed
and not, sent to an app with the shortcuts on and to one with them off, get the same
answers and leave the same rows (``test_random_batches_get_the_same_answers_either_way``).
"""

import json
import math
import random
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cei.services.ingest import pipeline
from cei.services.ingest.checks import RecordChecker
from cei.services.ingest.columns import Columns, check_columns, decode_batch
from cei.services.ingest.limits import RETENTION_DAYS
from tests.conftest import ApiHelper
from tests.ingest.conftest import BATCH_URL, Ingest, hour_start, iso


def check_typed(checker, records, first_index=0):
    """The fast path's checked records as the per-record checks return them, or None."""
    columns = check_columns(checker, records, first_index)
    return None if columns is None else columns.records()


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
        rec(5, timestamp_utc=stamp(NOW - 11700, sep="t")),  # RFC 3339 allows "t" and " "
        rec(6, timestamp_utc=stamp(NOW - 12600, sep=" ")),
        rec(7, timestamp_utc=stamp(NOW - 13500)[:-1]),  # no offset: UTC
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
}


@pytest.mark.parametrize("records", EQUIVALENT.values(), ids=EQUIVALENT.keys())
def test_well_formed_batches_take_either_path_alike(records):
    body = orjson.dumps({"records": records, "source": "plc-7", "on_conflict": "update"})
    assert len(both_paths(body)) == len(records)
    assert both_paths(json.dumps({"records": records}).encode(), first_index=5)[0][0] == 5


def test_fractions_are_floored_and_negative_zero_is_zero():
    body = orjson.dumps({"records": EQUIVALENT["timestamps"] + EQUIVALENT["values"]})
    rows = both_paths(body)
    assert [row.ts for row in rows[:8]] == [
        NOW - s for s in (7200, 7200, 9000, 9900, 10800, 11700, 12600, 13500)
    ]
    assert [row.amount for row in rows[8:12]] == [0.0, 0.0, 1e9, 1e9]


def random_batch(rng):
    """A well-formed batch: random pairs, units, values, stamps, keys, intervals."""
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


def test_unknown_fields_are_declined_and_stored_by_the_general_path(ingest):
    # msgspec skips unknown fields unchecked; the general parser applies the nesting limit.
    records = [live(hours, note="ok", quality=[1, 2]) for hours in (1, 2)]
    raw = json.dumps({"records": records, "trace": {"id": 7}}).encode()
    assert decode_batch(raw) is None
    response = ingest.client.post(
        BATCH_URL, data=raw, content_type="application/json", headers=ingest.headers
    )
    assert response.status_code == 200
    assert response.get_json()["ingested"] == 2
    assert len(ingest.stored()) == 2


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
    later = start + timedelta(hours=24)
    # A power reading: the fast path leaves it (and so the whole batch) to the other path.
    extra = dict(records[0], timestamp_utc=iso(later), value=3.5, unit="kW", interval_minutes=60)
    extra.pop("idempotency_key")
    mixed = records + [extra]
    assert declines(orjson.dumps({"records": mixed}), datetime.now(UTC).timestamp())
    body = ingest.send(mixed)
    assert (body["ingested"], body["skipped_duplicate"], body["failed"]) == (1, 96, 0)
    assert ingest.stored() == {
        **expected,
        (extra["site_id"], extra["meter_id"], int(later.timestamp())): 3.5,
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


def test_well_formed_batch_takes_fast_path(ingest, monkeypatch, shortcuts):
    results = []
    original = pipeline.check_columns

    def counting(*args, **kwargs):
        results.append(original(*args, **kwargs))
        return results[-1]

    monkeypatch.setattr(pipeline, "check_columns", counting)
    body = ingest.send([live(1), live(2, unit="Wh", value=500)])
    assert body["ingested"] == 2
    if not shortcuts:
        assert results == []  # INGEST_SHORTCUTS off: never the fast path
        return
    assert len(results) == 1 and isinstance(results[0], Columns)
    assert len(results[0]) == 2


# Random batches, well formed and not, through both paths. The values below are drawn from
# what factories send and from what breaks parsers; a record is built field by field.
SITE_IDS = ("s1", "s2", "Città", "Citta\u0300", " pad", "a/b", "x\x00", "s\ud800", "", 7, None)
METER_IDS = ("m1", "m2", "Zähler", "\u202eevil", "m\n", None)
UNITS = (None, "kWh", "Wh", "MWh", "kw", "W", "BTU", "", "kWh\x00", 3)
INTERVALS = (15, 60, None, 0, 60.0, "60", 1441)
VALUES = (0, -0.0, 1.5, 12, 1e9, 1e9 + 1, -1, 10**30, True, "12.5", None, [1])
KEYS = ("k1", "k2", "k3", "", "   ", "\t", "k\x00", "k" * 201, "\ud800", 5, None)


def stamps(well_formed):
    """Timestamps: RFC 3339 forms, and (unless ``well_formed``) refused forms and values."""
    base = hour_start(0)
    hours = st.integers(min_value=0, max_value=30)
    valid = st.one_of(
        hours.map(lambda h: iso(base - timedelta(hours=h))),
        hours.map(lambda h: (base - timedelta(hours=h)).isoformat()),
        hours.map(lambda h: (base - timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%S")),
        hours.map(
            lambda h: (
                (base - timedelta(hours=h))
                .astimezone(timezone(timedelta(hours=5, minutes=30)))
                .strftime("%Y-%m-%d %H:%M:%S.25+05:30")
            )
        ),
    )
    refused = st.sampled_from(
        (
            "2026-W40-1T00:00Z",
            "20261001T000000Z",
            "2026-10-01",
            "2026-10-01T00:00Z",
            "yesterday",
            "\ud800",
            "2026-10-01T00:00:00\x00Z",
            iso(base + timedelta(hours=2)),
            iso(base - timedelta(days=RETENTION_DAYS + 2)),
            17,
        )
    )
    return valid if well_formed else st.one_of(valid, valid, valid, refused)


def pick(choices, well_formed, good=3):
    """One of ``choices``; only among the first ``good`` when ``well_formed``."""
    return st.sampled_from(choices[:good]) if well_formed else st.sampled_from(choices)


@st.composite
def records(draw, well_formed):
    """One record; unless ``well_formed``, sometimes missing or breaking fields."""
    value = st.floats(min_value=0, max_value=1e4, allow_nan=False)
    record = {
        "site_id": draw(pick(SITE_IDS, well_formed)),
        "meter_id": draw(pick(METER_IDS, well_formed)),
        "timestamp_utc": draw(stamps(well_formed)),
        "value": draw(value | pick(VALUES, well_formed, good=5)),
    }
    for name, choices in (
        ("unit", UNITS),
        ("interval_minutes", INTERVALS),
        ("idempotency_key", KEYS),
    ):
        if draw(st.booleans()):
            record[name] = draw(pick(choices, well_formed))
    if not well_formed and draw(st.integers(0, 9)) == 0:
        del record[draw(st.sampled_from(tuple(record)))]  # now and then a field is missing
    if draw(st.integers(0, 9)) == 0:
        record["note"] = {"nested": [1, 2]}
    return record


@st.composite
def batches(draw):
    """A JSON body: records, and now and then a source and an on_conflict."""
    well_formed = draw(st.booleans())
    body = {"records": draw(st.lists(records(well_formed), min_size=0, max_size=12))}
    if draw(st.booleans()):
        body["on_conflict"] = draw(st.sampled_from(("reject", "update", "", "merge")))
    if draw(st.integers(0, 4)) == 0:
        body["source"] = draw(st.sampled_from(("plc-7", "", "line\x00", 5)))
    if draw(st.integers(0, 19)) == 0:
        return draw(st.sampled_from((b"[]", b"{}", b'{"records": 5}', b"{not json")))
    return json.dumps(body).encode()  # json writes lone surrogates as escapes


def answer(response):
    """A response without what differs between two runs (request id, duration)."""
    body = response.get_json()
    body.pop("request_id", None)
    body.pop("duration_ms", None)
    return response.status_code, body


@pytest.fixture
def two_ways(app, make_app):
    """The same database served with the shortcuts on and off, an organization each."""
    helpers = []
    for shortcuts in (True, False):
        served = app if shortcuts else make_app(INGEST_SHORTCUTS=False)
        served.config["INGEST_SHORTCUTS"] = shortcuts
        client = served.test_client()
        accounts = ApiHelper(client)
        accounts.count = 100 * len(helpers)  # distinct e-mail addresses
        helpers.append(Ingest(served, client, accounts, org=f"shortcuts {shortcuts}"))
    return helpers


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sequence=st.lists(batches(), min_size=1, max_size=3))
def test_random_batches_get_the_same_answers_either_way(two_ways, sequence):
    fast, general = two_ways
    for body in sequence:
        answers = [
            answer(
                helper.client.post(
                    BATCH_URL, data=body, content_type="application/json", headers=helper.headers
                )
            )
            for helper in (fast, general)
        ]
        assert answers[0] == answers[1], body
        assert answers[0][0] in (200, 400, 413, 422)
    assert fast.stored() == general.stored()
    assert sorted(fast.keys()) == sorted(general.keys())
    assert {key: row[1:] for key, row in fast.keys().items()} == {
        key: row[1:] for key, row in general.keys().items()
    }
