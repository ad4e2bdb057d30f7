"""GET /api/v1/timeseries/coverage: expected vs received per meter, missing hours, last_seen."""

import pytest

from cei.services import coverage
from tests.readings import reference
from tests.readings.conftest import HOUR, NOW_HOUR, NOW_TS


def test_coverage_per_meter_matches_python(plant, read):
    site, data = plant
    body = read("coverage", site_id=site.site_id, window_hours=72).get_json()
    start, end = NOW_HOUR - 71 * HOUR, NOW_HOUR + HOUR
    meters = {meter["meter_id"]: meter for meter in body["meters"]}
    assert sorted(meters) == ["hvac", "line-1", "main"]
    intervals = {"main": 3600, "line-1": 3600, "hvac": 900}
    for meter_id, interval in intervals.items():
        meter = meters[meter_id]
        _, in_window = reference.total(data, [meter_id], start, end)
        received = reference.received_in_ended(data, [meter_id], start, end, interval, NOW_TS)
        expected = reference.expected_intervals(start, end, interval, NOW_TS)
        # The open hour has readings: they are in the window but not counted yet.
        assert in_window > received
        missing = reference.missing_hours(data[meter_id], start, end, interval, NOW_TS)
        assert meter["interval_minutes"] == interval // 60
        assert (meter["expected"], meter["received"]) == (expected, received)
        assert received <= expected
        covered = received
        assert meter["coverage_pct"] == pytest.approx(round(100 * covered / expected, 2))
        assert meter["missing_hours"] == missing
        assert meter["missing_hours_count"] == len(missing) >= 3
        assert meter["missing_hours_truncated"] is False
        assert meter["last_seen"] == reference.iso(max(ts for ts, _ in data[meter_id]))
    # The open hour is not expected yet; of the 15-minute meter's, 10:00-10:15 has ended.
    assert body["expected"] == 71 + 71 + (71 * 4 + 1)
    assert body["received"] == sum(meter["received"] for meter in meters.values())


def test_one_meter_and_last_seen_after_the_window(plant, read):
    site, data = plant
    start, end = NOW_HOUR - 60 * HOUR, NOW_HOUR - 30 * HOUR
    body = read(
        "coverage",
        site_id=site.site_id,
        meter_id="line-1",
        start=reference.iso(start),
        end=reference.iso(end),
    ).get_json()
    assert [meter["meter_id"] for meter in body["meters"]] == ["line-1"]
    meter = body["meters"][0]
    assert meter["expected"] == 30
    missing = reference.missing_hours(data["line-1"], start, end, HOUR, NOW_TS)
    assert meter["missing_hours"] == missing
    # last_seen is the latest reading ever, here after the window.
    assert meter["last_seen"] == reference.iso(max(ts for ts, _ in data["line-1"]))
    assert meter["last_seen"] > body["to_timestamp"]


def test_a_daily_reading_covers_its_whole_day(frozen_now, make_site, add_readings, read):
    site = make_site("daily", meters=[("gas", False, 1440)])
    day = NOW_HOUR - NOW_HOUR % 86400
    add_readings(site.meters["gas"], [(day - 86400, 300.0)])
    body = read(
        "coverage",
        site_id="daily",
        start=reference.iso(day - 2 * 86400),
        end=reference.iso(day + 86400),
    ).get_json()
    meter = body["meters"][0]
    # Today has not ended: two days expected, one received.
    assert (meter["expected"], meter["received"], meter["coverage_pct"]) == (2, 1, 50.0)
    assert meter["missing_intervals"] == [reference.iso(day - 2 * 86400)]
    assert meter["missing_hours"] == [reference.iso(day - 2 * 86400 + h * HOUR) for h in range(24)]


def test_missing_hours_are_capped(frozen_now, make_site, read, monkeypatch):
    monkeypatch.setattr(coverage, "MAX_MISSING", 10)
    make_site("silent", meters=[("m", False, 60)])
    body = read("coverage", site_id="silent", window_hours=30).get_json()
    meter = body["meters"][0]
    assert len(meter["missing_hours"]) == 10
    assert meter["missing_hours"][0] == reference.iso(NOW_HOUR - 29 * HOUR)
    # The current hour has not ended: it is not expected yet, so not missing either.
    assert (meter["missing_hours_count"], meter["missing_hours_truncated"]) == (29, True)
    assert meter["missing_intervals"] == meter["missing_hours"]
    assert (meter["missing_intervals_count"], meter["expected"]) == (29, 29)
    assert (meter["received"], meter["coverage_pct"], meter["last_seen"]) == (0, 0.0, None)


def test_coverage_longer_than_a_leap_year_is_422(plant, read):
    response = read(
        "coverage", site_id="plant-1", start="2020-01-01T00:00:00Z", end="2021-06-01T00:00:00Z"
    )
    assert response.status_code == 422
    assert response.get_json()["code"] == "WINDOW_TOO_LONG"
