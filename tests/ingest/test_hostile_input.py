"""Input that must get a clear 4xx or a per-record error, never a 500, and is never stored.

Bytes that are not UTF-8, lone surrogates (``"\\ud800"``), NUL and other control characters
in every text field of a batch, a CSV cell or an upload form field; ISO 8601 forms outside
RFC 3339; a CSV ``interval_minutes`` of ``²``.
"""

import io
import json

import pytest

from tests.ingest.conftest import BATCH_URL, UPLOAD_URL, hour_start, iso

TEXT_FIELDS = ("site_id", "meter_id", "unit", "idempotency_key", "timestamp_utc")
FIELD_CODES = {
    "site_id": "INVALID_SITE_ID",
    "meter_id": "INVALID_METER_ID",
    "unit": "INVALID_UNIT",
    "idempotency_key": "INVALID_IDEMPOTENCY_KEY",
    "timestamp_utc": "INVALID_TIMESTAMP",
}
BAD_TEXT = {
    "lone surrogate": "\\ud800",  # a JSON escape: json.dumps keeps it as written below
    "NUL": "\\u0000",
    "bidi override": "\\u202e",
}


def record_text(**fields):
    """A valid record as JSON text, with ``fields`` given as raw JSON string contents."""
    record = {
        "site_id": "s",
        "meter_id": "m",
        "timestamp_utc": iso(hour_start(1)),
        "value": 1.5,
    }
    parts = [
        f'"{name}": {json.dumps(value)}' for name, value in record.items() if name not in fields
    ]
    parts += [f'"{name}": "{raw}"' for name, raw in fields.items()]
    return "{" + ", ".join(parts) + "}"


def post(ingest, body):
    return ingest.client.post(
        BATCH_URL, data=body, content_type="application/json", headers=ingest.headers
    )


@pytest.mark.parametrize("field", TEXT_FIELDS)
@pytest.mark.parametrize("kind", BAD_TEXT)
def test_bad_characters_in_a_record_fail_that_record(ingest, field, kind):
    bad = "x" + BAD_TEXT[kind] if field != "timestamp_utc" else iso(hour_start(2)) + BAD_TEXT[kind]
    if kind == "bidi override" and field == "idempotency_key":
        pytest.skip("keys are opaque: a bidi character is text like any other there")
    body = "[" + record_text() + ", " + record_text(**{field: bad}) + "]"
    response = post(ingest, ('{"records": ' + body + "}").encode())
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert [(e["index"], e["code"]) for e in answer["errors"]] == [(1, FIELD_CODES[field])]
    assert answer["ingested"] == 1
    assert len(ingest.stored()) == 1


@pytest.mark.parametrize("field", TEXT_FIELDS + ("source",))
def test_bytes_that_are_not_utf8_are_400(ingest, field):
    if field == "source":
        raw = b'{"source": "a\xff", "records": [' + record_text().encode() + b"]}"
    else:
        raw = (
            b'{"records": ['
            + record_text(**{field: "x"}).replace('"x"', '"x\xff"').encode("latin-1")
            + b"]}"
        )
    response = post(ingest, raw)
    assert response.status_code == 400
    assert response.get_json()["code"] == "MALFORMED_JSON"
    assert ingest.stored() == {}


@pytest.mark.parametrize("raw", ["\\ud800", "a\\u0000", "line\\n2"])
def test_control_characters_or_surrogates_in_source_are_422(ingest, raw):
    response = post(
        ingest, ('{"source": "' + raw + '", "records": [' + record_text() + "]}").encode()
    )
    assert response.status_code == 422
    assert response.get_json()["detail"]["source"]
    assert ingest.stored() == {}


@pytest.mark.parametrize(
    "stamp",
    [
        "2026-W40-1T00:00Z",  # ISO week date
        "20261001T000000Z",  # ISO basic format
        "2026-10-01",  # a date alone
        "2026-10-01T00:00Z",  # no seconds
        "2026-10-01T00:00:00,5Z",  # decimal comma
        "2026-10-01T00:00:00+01",  # offset without minutes
    ],
)
def test_timestamps_outside_rfc3339_are_refused(ingest, stamp):
    body = ingest.send([json.loads(record_text()), json.loads(record_text(timestamp_utc=stamp))])
    assert [(e["index"], e["code"]) for e in body["errors"]] == [(1, "INVALID_TIMESTAMP")]
    upload = ingest.upload(f'site_id,meter_id,timestamp_utc,value\ns,m,"{stamp}",1\n')
    assert [e["code"] for e in upload["errors"]] == ["INVALID_TIMESTAMP"]
    assert len(ingest.stored()) == 1


@pytest.mark.parametrize("cell", ["²", "١٥", "15.5", "0x0f", "-15"])
def test_an_interval_cell_that_is_not_ascii_digits_fails_its_row(ingest, cell):
    text = (
        "site_id,meter_id,timestamp_utc,value,interval_minutes\n"
        f"s,m,{iso(hour_start(1))},1,{cell}\n"
        f"s,m,{iso(hour_start(2))},1,15\n"
    )
    body = ingest.upload(text)
    assert [(e["row"], e["code"]) for e in body["errors"]] == [(2, "INVALID_VALUE")]
    assert body["ingested"] == 1


@pytest.mark.parametrize("column", ["site_id", "meter_id", "unit", "idempotency_key", "value"])
@pytest.mark.parametrize("bad", [b"\x00", b"\xff", b"\xed\xa0\x80"])  # NUL, not UTF-8, surrogate
def test_bad_bytes_in_a_csv_cell_fail_their_row(ingest, column, bad):
    cells = {
        "site_id": b"s",
        "meter_id": b"m",
        "unit": b"kWh",
        "idempotency_key": b"k",
        "value": b"1",
    }
    cells[column] = cells[column] + bad
    header = b"timestamp_utc," + ",".join(cells).encode() + b"\n"
    good = iso(hour_start(2)).encode() + b",s,m,kWh,k2,1\n"
    row = iso(hour_start(1)).encode() + b"," + b",".join(cells.values()) + b"\n"
    body = ingest.upload(header + good + row)
    assert [e["row"] for e in body["errors"]] == [3]
    assert body["ingested"] == 1
    assert len(ingest.stored()) == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [("site_id", "s\x00"), ("meter_id", "a/b"), ("site_id", " s"), ("unit", "kWh\x00")],
)
def test_bad_upload_form_fields_are_422(ingest, field, value):
    response = ingest.client.post(
        UPLOAD_URL,
        data={
            "file": (io.BytesIO(b"timestamp_utc,value\n2026-01-01T00:00:00Z,1\n"), "f.csv"),
            "site_id": "s",
            "meter_id": "m",
            field: value,
        },
        headers=ingest.headers,
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert field in response.get_json()["detail"]
    assert ingest.stored() == {}
