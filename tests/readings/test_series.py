"""GET /api/v1/timeseries/series: hourly UTC buckets and site-local day buckets."""

import random
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from tests.readings import reference
from tests.readings.conftest import HOUR, NOW_HOUR, random_points

ROME = ZoneInfo("Europe/Rome")


def assert_points(points, expected):
    assert [point["ts"] for point in points] == [ts for ts, _ in expected]
    for point, (ts, value) in zip(points, expected, strict=True):
        if value is None:
            assert point["value"] is None, ts
        else:
            assert point["value"] == pytest.approx(value, rel=1e-9), ts


def test_24_points_for_24_hours_including_the_open_hour(frozen_now, make_site, add_readings, read):
    site = make_site("line", meters=[("m", False, 60)])
    add_readings(site.meters["m"], [(NOW_HOUR - i * HOUR, float(i)) for i in range(24)])
    body = read("series", site_id="line", meter_id="m", window_hours=24).get_json()
    points = body["points"]
    assert len(points) == 24
    assert points[0]["ts"] == reference.iso(NOW_HOUR - 23 * HOUR)
    assert points[-1]["ts"] == reference.iso(NOW_HOUR)
    assert [point["value"] for point in points] == [float(i) for i in range(23, -1, -1)]
    assert (body["resolution"], body["timezone"], body["window_hours"]) == ("hour", "UTC", 24)


@pytest.mark.parametrize("meter_id, meters", [(None, ["main"]), ("hvac", ["hvac"])])
def test_hourly_series_matches_python_with_gaps(plant, read, meter_id, meters):
    site, data = plant
    params = {"site_id": site.site_id, "window_hours": 100, "resolution": "hour"}
    if meter_id:
        params["meter_id"] = meter_id
    body = read("series", **params).get_json()
    start, end = NOW_HOUR - 99 * HOUR, NOW_HOUR + HOUR
    expected = reference.hourly(data, meters, start, end)
    assert any(value is None for _, value in expected), "the data should have gaps"
    assert_points(body["points"], expected)


def test_unaligned_range_has_partial_first_hour(plant, read):
    site, data = plant
    start, end = NOW_HOUR - 10 * HOUR + 1800, NOW_HOUR - 2 * HOUR
    body = read(
        "series",
        site_id=site.site_id,
        meter_id="hvac",
        start=reference.iso(start),
        end=reference.iso(end),
    ).get_json()
    assert len(body["points"]) == 8
    assert body["points"][0]["ts"] == reference.iso(NOW_HOUR - 10 * HOUR)
    assert_points(body["points"], reference.hourly(data, ["hvac"], start, end))
    assert body["window_hours"] is None


def test_day_series_uses_site_local_days(plant, read):
    site, data = plant
    body = read("series", site_id=site.site_id, window_hours=100, resolution="day").get_json()
    assert body["timezone"] == "Europe/Rome"
    start, end = NOW_HOUR - 99 * HOUR, NOW_HOUR + HOUR
    by_day = reference.daily(data, ["main"], start, end, ROME)
    days = sorted(by_day)
    assert [point["ts"][:10] for point in body["points"]] == [day.isoformat() for day in days]
    for point, day in zip(body["points"], days, strict=True):
        assert point["value"] == pytest.approx(by_day[day], rel=1e-9)


def _rome_hours(first_day, last_day):
    """UTC hour starts from local midnight of ``first_day`` to local midnight after
    ``last_day``."""
    start = int(datetime(first_day.year, first_day.month, first_day.day, tzinfo=ROME).timestamp())
    after = date.fromordinal(last_day.toordinal() + 1)
    end = int(datetime(after.year, after.month, after.day, tzinfo=ROME).timestamp())
    return start, end


@pytest.mark.parametrize(
    "first_day, dst_day, hours",
    [(date(2026, 3, 28), date(2026, 3, 29), 23), (date(2026, 10, 24), date(2026, 10, 25), 25)],
)
def test_dst_days_in_rome_have_23_and_25_hours(
    frozen_now, make_site, add_readings, read, first_day, dst_day, hours
):
    site = make_site("rome", timezone="Europe/Rome", meters=[("m", False, 60)])
    start, end = _rome_hours(first_day, date.fromordinal(dst_day.toordinal() + 1))
    add_readings(site.meters["m"], [(ts, 1.0) for ts in range(start, end, HOUR)])
    body = read(
        "series",
        site_id="rome",
        resolution="day",
        start=reference.iso(start),
        end=reference.iso(end),
    ).get_json()
    values = {point["ts"]: point["value"] for point in body["points"]}
    assert len(values) == 3
    offsets = ("+01:00", "+02:00") if hours == 23 else ("+02:00", "+01:00")
    assert values[f"{first_day.isoformat()}T00:00:00{offsets[0]}"] == 24.0
    assert values[f"{dst_day.isoformat()}T00:00:00{offsets[0]}"] == float(hours)
    next_day = date.fromordinal(dst_day.toordinal() + 1).isoformat()
    assert values[f"{next_day}T00:00:00{offsets[1]}"] == 24.0


def test_dst_day_with_random_values_sums_like_python(frozen_now, make_site, add_readings, read):
    site = make_site("rome", timezone="Europe/Rome", meters=[("m", False, 15)])
    start, end = _rome_hours(date(2026, 10, 24), date(2026, 10, 26))
    points = random_points(random.Random(7), start, end, 900, gap_rate=0.2)
    add_readings(site.meters["m"], points)
    body = read(
        "series",
        site_id="rome",
        resolution="day",
        start=reference.iso(start),
        end=reference.iso(end),
    ).get_json()
    by_day = reference.daily({"m": points}, ["m"], start, end, ROME)
    assert [point["value"] for point in body["points"]] == [
        pytest.approx(by_day[day], rel=1e-9) for day in sorted(by_day)
    ]


def test_day_buckets_in_a_half_hour_offset_zone(frozen_now, make_site, add_readings, read):
    # Kolkata is UTC+05:30: local midnight is 18:30 UTC, inside a UTC hour.
    site = make_site("pune", timezone="Asia/Kolkata", meters=[("m", False, 15)])
    start = int(datetime(2026, 3, 1, 18, 30, tzinfo=UTC).timestamp())
    add_readings(site.meters["m"], [(start - 900, 5.0), (start, 1.0), (start + 86400 - 900, 2.0)])
    body = read(
        "series",
        site_id="pune",
        resolution="day",
        start="2026-03-01T12:00:00Z",
        end="2026-03-03T00:00:00Z",
    ).get_json()
    assert [(point["ts"], point["value"]) for point in body["points"]] == [
        ("2026-03-01T00:00:00+05:30", 5.0),
        ("2026-03-02T00:00:00+05:30", 3.0),
        ("2026-03-03T00:00:00+05:30", None),
    ]


def test_empty_buckets_are_null(frozen_now, make_site, read):
    make_site("quiet", meters=[("m", False, 60)])
    body = read("series", site_id="quiet", window_hours=6).get_json()
    assert [point["value"] for point in body["points"]] == [None] * 6


def test_series_longer_than_a_leap_year_is_422(plant, read):
    response = read(
        "series", site_id="plant-1", start="2024-01-01T00:00:00Z", end="2025-01-02T00:00:00Z"
    )
    assert response.status_code == 422
    assert response.get_json()["code"] == "WINDOW_TOO_LONG"
    ok = read("series", site_id="plant-1", window_hours=8784, resolution="day")
    assert ok.status_code == 200


def test_unknown_resolution_is_422(plant, read):
    response = read("series", site_id="plant-1", resolution="minute")
    assert response.status_code == 422
    assert "resolution" in response.get_json()["detail"]["query"]
