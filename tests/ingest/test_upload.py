"""CSV upload: aliases, form defaults, row numbers, counts, chunks, and bad files."""

import pytest

from cei.services.ingest import csv_files as ingest_csv
from tests.ingest.conftest import UPLOAD_URL, hour_start, iso


def csv_lines(count, start_hours_ago=None, value=1.0, site="site-22", meter="main"):
    """Data lines ``timestamp,site,meter,value`` for ``count`` hours ending now."""
    start = count - 1 if start_hours_ago is None else start_hours_ago
    return [f"{iso(hour_start(start - i))},{site},{meter},{value + i}" for i in range(count)]


def test_upload_with_the_runbook_header(ingest):
    lines = ["timestamp_utc,site_id,meter_id,value,unit,idempotency_key"]
    lines += [f"{iso(hour_start(i))},site-22,main,{10 + i},kWh,key-{i}" for i in range(5)]
    body = ingest.upload("\n".join(lines) + "\n")
    counts = (body["rows"], body["ingested"], body["skipped_duplicate"], body["failed"])
    assert counts == (5, 5, 0, 0)
    assert set(body) == {
        "rows",
        "ingested",
        "updated",
        "skipped_duplicate",
        "failed",
        "errors",
        "errors_truncated",
        "request_id",
        "duration_ms",
    }
    assert len(ingest.keys()) == 5
    again = ingest.upload("\n".join(lines) + "\n")
    assert (again["ingested"], again["skipped_duplicate"]) == (0, 5)


def test_aliases_bom_semicolons_and_decimal_commas(ingest):
    text = "\ufeffTime;Site;Meter;kWh;Unit\r\n"
    text += f"{iso(hour_start(2))};plant;m1;1,5;kWh\r\n"
    text += f"{iso(hour_start(1))};plant;m1;2,25;Wh\r\n"
    body = ingest.upload(text.encode("utf-8"))
    assert (body["ingested"], body["failed"]) == (2, 0), body
    assert sorted(ingest.stored().values()) == [pytest.approx(0.00225), 1.5]


@pytest.mark.parametrize("header", ["ts,value", "timestamp,kwh", "Timestamp UTC,Value"])
def test_form_fields_fill_in_site_meter_and_unit(ingest, header):
    text = f"{header}\n{iso(hour_start(1))},2\n{iso(hour_start(0))},4\n"
    body = ingest.upload(text, site_id="form-site", meter_id="form-meter", unit="kW")
    assert body["ingested"] == 2
    assert sorted(ingest.stored().items()) == [
        (("form-site", "form-meter", int(hour_start(1).timestamp())), 2.0),
        (("form-site", "form-meter", int(hour_start(0).timestamp())), 4.0),
    ]


def test_cells_override_form_defaults_and_empty_cells_take_them(ingest):
    text = "timestamp,site,meter,value\n"
    text += f"{iso(hour_start(1))},own-site,,1\n"
    text += f"{iso(hour_start(0))},,,2\n"
    ingest.upload(text, site_id="default-site", meter_id="default-meter")
    assert {(site, meter) for site, meter, _ in ingest.stored()} == {
        ("own-site", "default-meter"),
        ("default-site", "default-meter"),
    }


def test_errors_carry_the_row_of_the_file(ingest):
    lines = [
        "timestamp_utc,site_id,meter_id,value",
        f"{iso(hour_start(3))},s,m,abc",  # row 2: the first data row
        f"{iso(hour_start(2))},s,m,1",
        "",  # a blank line is skipped, and the rows after it keep their line numbers
        "not-a-time,s,m,1",
        f"{iso(hour_start(1))},s,,1",  # no meter and no default
        f"{iso(hour_start(0))},s,m,-5",
    ]
    body = ingest.upload("\n".join(lines) + "\n")
    assert body["rows"] == 5
    assert body["ingested"] == 1
    assert [(e["index"], e["row"], e["code"]) for e in body["errors"]] == [
        (0, 2, "INVALID_VALUE"),
        (2, 5, "INVALID_TIMESTAMP"),
        (3, 6, "MISSING_FIELD"),
        (4, 7, "INVALID_VALUE"),
    ]


def test_a_file_of_several_chunks_is_one_transaction(ingest, monkeypatch):
    monkeypatch.setattr(ingest_csv, "CHUNK_ROWS", 100)
    lines = ["timestamp,site,meter,value"] + csv_lines(450)
    lines[300] = lines[300].replace(",site-22,", ",,")  # row 301 (index 299): no site
    lines.append(lines[10])  # an exact repeat in a later chunk: a duplicate
    lines.append(lines[20].rsplit(",", 1)[0] + ",999")  # another value for row 21's hour
    body = ingest.upload("\n".join(lines) + "\n")
    assert body["rows"] == 452
    assert (body["ingested"], body["skipped_duplicate"], body["failed"]) == (449, 1, 2)
    assert [(e["index"], e["row"], e["code"]) for e in body["errors"]] == [
        (299, 301, "MISSING_FIELD"),
        (451, 453, "CONFLICTING_VALUE"),
    ]
    assert len(ingest.stored()) == 449


def test_bytes_that_are_not_utf8_fail_their_row_only(ingest):
    text = "\n".join(["timestamp,site,meter,value"] + csv_lines(3)) + "\n"
    data = text.encode() + f"{iso(hour_start(5))},Werk S\xfcd,m,1\n".encode("latin-1")
    body = ingest.upload(data)
    assert (body["ingested"], body["failed"]) == (3, 1)
    error = body["errors"][0]
    assert (error["row"], error["code"]) == (5, "INVALID_SITE_ID")
    assert "UTF-8" in error["detail"]


def test_a_broken_file_late_in_the_upload_stores_nothing(ingest, monkeypatch):
    monkeypatch.setattr(ingest_csv, "CHUNK_ROWS", 50)
    text = "\n".join(["timestamp,site,meter,value"] + csv_lines(200)) + "\n"
    text += f"{iso(hour_start(300))},s,m,{'9' * 200_000}\n"  # beyond the csv field limit
    body = ingest.upload(text, expect=422)
    assert body["code"] == "INVALID_CSV"
    assert body["detail"]["line"] == 202
    assert ingest.stored() == {}


def test_update_through_the_form(ingest):
    header = "timestamp,site,meter,value\n"
    ingest.upload(header + "\n".join(csv_lines(3)) + "\n")
    body = ingest.upload(header + "\n".join(csv_lines(3, value=5.0)) + "\n", on_conflict="update")
    assert (body["updated"], body["failed"]) == (3, 0)
    assert sorted(ingest.stored().values()) == [5.0, 6.0, 7.0]


@pytest.mark.parametrize(
    ("text", "missing"),
    [
        ("site,meter,value\ns,m,1\n", ["timestamp_utc"]),
        ("timestamp,value\n2024-01-01T00:00:00Z,1\n", ["site_id", "meter_id"]),
        ("", None),
        ("timestamp,ts,value,site,meter\n", None),
    ],
)
def test_unusable_headers_are_422(ingest, text, missing):
    body = ingest.upload(text, expect=422)
    assert body["code"] == "INVALID_CSV"
    if missing:
        assert body["detail"]["missing"] == missing


def test_form_problems_are_422(ingest):
    text = "timestamp,value\n2024-01-01T00:00:00Z,1\n"
    ingest.upload(text, site_id="s", meter_id="m", unit="furlongs", expect=422)
    ingest.upload(text, site_id="bad\x00", meter_id="m", expect=422)
    ingest.upload(text, site_id="s", meter_id="m", on_conflict="merge", expect=422)
    assert ingest.stored() == {}


def test_the_file_field_is_required(ingest):
    response = ingest.client.post(
        UPLOAD_URL,
        data={"site_id": "s"},
        headers=ingest.headers,
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert response.get_json()["detail"] == {"file": ["Missing data for required field."]}


def test_a_header_that_is_not_utf8_is_echoed_safely(ingest):
    body = ingest.upload("Zeitstempel;Zähler;Wert\n".encode("latin-1"), expect=422)
    assert body["code"] == "INVALID_CSV"
    assert body["detail"]["header"] == ["Zeitstempel", "Z?hler", "Wert"]
    assert body["detail"]["missing"] == ["timestamp_utc", "value", "site_id", "meter_id"]
