"""GET /api/v1/timeseries/export: streamed CSV, ordering, windows, formula neutralisation."""

import csv
import io

import pytest

from cei.services import export
from tests.readings import reference
from tests.readings.conftest import HOUR, NOW_HOUR

HEADER = ["timestamp_utc", "site_id", "meter_id", "value"]


def rows_of(response):
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_export_streams_every_meter_by_time(plant, read, monkeypatch):
    site, data = plant
    monkeypatch.setattr(export, "CHUNK_ROWS", 20)
    response = read("export", site_id=site.site_id, window_hours=48)
    assert response.status_code == 200
    assert response.is_streamed
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="cei-plant-1-2026-03-28.csv"'
    )
    chunks = list(response.response)
    response.close()
    rows = list(csv.reader(io.StringIO(b"".join(chunks).decode())))
    assert rows[0] == HEADER
    start, end = NOW_HOUR - 47 * HOUR, NOW_HOUR + HOUR
    # Sub-meters are exported too (each row names its meter); order: time, then meter row id.
    order = {"main": 0, "line-1": 1, "hvac": 2}
    expected = sorted(
        reference.readings_in(data, list(order), start, end),
        key=lambda row: (row[0], order[row[1]]),
    )
    assert len(rows) - 1 == len(expected) > 200
    assert len(chunks) > len(expected) // 20
    for row, (ts, meter_id, value) in zip(rows[1:], expected, strict=True):
        assert row == [reference.iso(ts), "plant-1", meter_id, repr(value)]


def test_export_of_one_meter_and_an_explicit_range(plant, read):
    site, data = plant
    start, end = NOW_HOUR - 20 * HOUR, NOW_HOUR - 3 * HOUR
    rows = rows_of(
        read(
            "export",
            site_id=site.site_id,
            meter_id="line-1",
            start=reference.iso(start),
            end=reference.iso(end),
        )
    )
    expected = [
        [reference.iso(ts), "plant-1", "line-1", repr(value)]
        for ts, value in data["line-1"]
        if start <= ts < end
    ]
    assert rows[1:] == expected
    # The end is exclusive: a reading stamped exactly at `end` is not exported.
    assert reference.iso(end) not in {row[0] for row in rows}


@pytest.mark.parametrize(
    "meter_id",
    [
        '=HYPERLINK("http://evil.example","click")',
        "+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(A1:A9)",
    ],
)
def test_formula_cells_are_neutralised(frozen_now, make_site, add_readings, read, meter_id):
    site = make_site("=1+1", meters=[(meter_id, False, 60)])
    add_readings(site.meters[meter_id], [(NOW_HOUR, 1.5)])
    response = read("export", site_id="=1+1", window_hours=1)
    rows = rows_of(response)
    assert rows[1] == [reference.iso(NOW_HOUR), "'=1+1", "'" + meter_id, "1.5"]
    # Nothing in the raw text starts a cell with a formula character.
    for line in response.get_data(as_text=True).splitlines()[1:]:
        for cell in next(csv.reader([line])):
            assert not cell.startswith(("=", "+", "-", "@"))


def test_commas_and_quotes_in_ids_are_quoted(frozen_now, make_site, add_readings, read):
    site = make_site('Hall "A", east', meters=[("m,1", False, 60)])
    add_readings(site.meters["m,1"], [(NOW_HOUR, 2.0)])
    response = read("export", site_id='Hall "A", east', window_hours=1)
    assert '"Hall ""A"", east","m,1"' in response.get_data(as_text=True)
    assert rows_of(response)[1][1:] == ['Hall "A", east', "m,1", "2.0"]


def test_export_without_readings_is_just_the_header(frozen_now, make_site, read):
    make_site("empty", meters=[])
    response = read("export", site_id="empty")
    assert response.get_data(as_text=True) == "timestamp_utc,site_id,meter_id,value\r\n"
    assert rows_of(response) == [HEADER]
