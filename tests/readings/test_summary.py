"""GET /api/v1/timeseries/summary, windows, tenancy and scopes of the read API."""

import pytest

from tests.readings import reference
from tests.readings.conftest import HOUR, NOW_HOUR, NOW_TS

ALL_METERS = ["main", "line-1", "hvac"]


def test_site_summary_is_main_meter_total(plant, read):
    site, data = plant
    response = read("summary", site_id=site.site_id, window_hours=72)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    start, end = NOW_HOUR - 71 * HOUR, NOW_HOUR + HOUR
    total, count = reference.total(data, ["main"], start, end)
    assert body["total_value"] == pytest.approx(total, rel=1e-9)
    assert body["points"] == count
    # 71 hours have ended; the open hour's reading is summed but does not count as coverage
    # (it would make up for a gap).
    assert body["expected_points"] == 71
    received = reference.received_in_ended(data, ["main"], start, end, HOUR, NOW_TS)
    assert received < count
    assert body["coverage_pct"] == pytest.approx(round(100 * received / 71, 2))
    assert body["site_id"] == "plant-1"
    assert body["meter_id"] is None
    assert body["window_hours"] == 72
    assert body["from_timestamp"] == reference.iso(start)
    assert body["to_timestamp"] == reference.iso(end)


@pytest.mark.parametrize("meter_id, interval", [("line-1", 3600), ("hvac", 900)])
def test_meter_summary_matches_python(plant, read, meter_id, interval):
    site, data = plant
    body = read("summary", site_id=site.site_id, meter_id=meter_id, window_hours=50).get_json()
    start, end = NOW_HOUR - 49 * HOUR, NOW_HOUR + HOUR
    total, count = reference.total(data, [meter_id], start, end)
    expected = reference.expected_intervals(start, end, interval, NOW_TS)
    assert body["meter_id"] == meter_id
    assert body["total_value"] == pytest.approx(total, rel=1e-9)
    assert (body["points"], body["expected_points"]) == (count, expected)
    received = reference.received_in_ended(data, [meter_id], start, end, interval, NOW_TS)
    assert body["coverage_pct"] == pytest.approx(round(100 * received / expected, 2))


def test_site_total_uses_all_meters_once_none_is_main(plant, read, account, client):
    site, data = plant
    response = client.patch(
        "/api/v1/sites/plant-1/meters/main", json={"is_main": False}, headers=account["headers"]
    )
    assert response.status_code == 200
    body = read("summary", site_id=site.site_id, window_hours=24).get_json()
    start, end = NOW_HOUR - 23 * HOUR, NOW_HOUR + HOUR
    total, count = reference.total(data, ALL_METERS, start, end)
    assert body["total_value"] == pytest.approx(total, rel=1e-9)
    assert body["points"] == count
    assert body["expected_points"] == 23 + 23 + (23 * 4 + 1)  # intervals that have ended


def test_default_window_is_24_hours_with_the_open_hour(frozen_now, make_site, add_readings, read):
    site = make_site("line", meters=[("m", False, 60)])
    # 24 hourly readings for the last 24 hours, the newest stamped with the current hour.
    add_readings(site.meters["m"], [(NOW_HOUR - i * HOUR, 2.5) for i in range(24)])
    add_readings(site.meters["m"], [(NOW_HOUR - 24 * HOUR, 100.0)])  # just outside
    body = read("summary", site_id="line").get_json()
    assert body["window_hours"] == 24
    # The open hour's reading is received but not yet expected.
    assert (body["points"], body["expected_points"], body["coverage_pct"]) == (24, 23, 100.0)
    assert body["total_value"] == pytest.approx(60.0)


def test_explicit_range_is_end_exclusive_and_understands_offsets(plant, read):
    site, data = plant
    start, end = NOW_HOUR - 30 * HOUR, NOW_HOUR - 6 * HOUR
    # The same instants written in Rome summer time (+02:00) and as naive UTC.
    local_start = reference.iso(start + 2 * HOUR).replace("Z", "+02:00")
    naive_end = reference.iso(end).rstrip("Z")
    body = read(
        "summary", site_id=site.site_id, meter_id="hvac", start=local_start, end=naive_end
    ).get_json()
    assert body["from_timestamp"] == reference.iso(start)
    assert body["to_timestamp"] == reference.iso(end)
    assert body["window_hours"] == 24
    total, count = reference.total(data, ["hvac"], start, end)
    assert (body["total_value"], body["points"]) == (pytest.approx(total), count)
    assert body["expected_points"] == 96


def test_offset_plus_decoded_as_space_is_repaired(plant, read, client, account):
    site, _ = plant
    start = reference.iso(NOW_HOUR - 5 * HOUR).replace("Z", "+00:00")
    # An unencoded '+' in a query string arrives as a space.
    url = f"/api/v1/timeseries/summary?site_id=plant-1&start={start}&end=2026-03-30T10:00:00Z"
    response = client.get(url, headers=account["headers"])
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["from_timestamp"] == reference.iso(NOW_HOUR - 5 * HOUR)


@pytest.mark.parametrize(
    "params, field",
    [
        ({"start": "2026-03-02T00:00:00Z", "end": "2026-03-01T00:00:00Z"}, "end"),
        ({"start": "2026-03-01T00:00:00Z", "end": "2026-03-01T00:00:00Z"}, "end"),
        ({"start": "2026-03-01T00:00:00Z"}, "end"),
        ({"end": "2026-03-01T00:00:00Z"}, "start"),
        ({"start": "yesterday", "end": "2026-03-01T00:00:00Z"}, "start"),
        (
            {"window_hours": 5, "start": "2026-03-01T00:00:00Z", "end": "2026-03-02T00:00:00Z"},
            "window_hours",
        ),
        ({"window_hours": 0}, "window_hours"),
        ({"window_hours": 8785}, "window_hours"),
        ({"window_hours": "24h"}, "window_hours"),
    ],
)
def test_bad_windows_are_422(plant, read, params, field):
    response = read("summary", site_id="plant-1", **params)
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "VALIDATION_ERROR"
    assert field in body["detail"]["query"]


def test_site_id_is_required(plant, read):
    response = read("summary")
    assert response.status_code == 422
    assert "site_id" in response.get_json()["detail"]["query"]


def test_unknown_site_or_meter_is_404(plant, read):
    assert read("summary", site_id="nope").status_code == 404
    response = read("summary", site_id="plant-1", meter_id="nope")
    assert response.status_code == 404
    assert response.get_json()["code"] == "NOT_FOUND"


@pytest.mark.parametrize("endpoint", ["summary", "series", "export", "coverage"])
def test_another_organizations_site_is_404(plant, read, api, endpoint):
    stranger = api.signup(org="Someone Else")
    response = read(endpoint, headers=stranger["headers"], site_id="plant-1")
    assert response.status_code == 404
    assert response.get_json()["code"] == "NOT_FOUND"


@pytest.mark.parametrize("endpoint", ["summary", "series", "export", "coverage"])
def test_read_token_reads_and_ingest_only_token_is_403(plant, read, api, account, endpoint):
    reader = api.make_token(account, scopes=["read"], name="reader")
    pusher = api.make_token(account, scopes=["ingest"], name="pusher")
    ok = read(endpoint, headers={"Authorization": f"Bearer {reader['token']}"}, site_id="plant-1")
    assert ok.status_code == 200
    ok.close()
    denied = read(
        endpoint, headers={"Authorization": f"Bearer {pusher['token']}"}, site_id="plant-1"
    )
    assert denied.status_code == 403
    assert denied.get_json()["code"] == "INSUFFICIENT_SCOPE"


def test_reads_need_credentials(plant, client):
    response = client.get("/api/v1/timeseries/summary?site_id=plant-1")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_site_without_meters_has_zero_total_and_no_coverage(frozen_now, make_site, read):
    make_site("empty", meters=[])
    body = read("summary", site_id="empty").get_json()
    assert (body["total_value"], body["points"], body["expected_points"]) == (0.0, 0, 0)
    assert body["coverage_pct"] is None


@pytest.mark.parametrize(
    "start, end",
    [
        ("1969-12-31T00:00:00Z", "1970-01-02T00:00:00Z"),
        ("0001-01-01T00:00:00+01:00", "2026-01-01T00:00:00Z"),
        ("2026-01-01T00:00:00Z", "9999-12-31T23:59:59Z"),
    ],
)
def test_ranges_outside_1970_to_2200_are_422(plant, read, start, end):
    response = read("summary", site_id="plant-1", start=start, end=end)
    assert response.status_code == 422
    assert response.get_json()["code"] == "INVALID_WINDOW"


def test_a_chatty_meter_is_capped_and_coverage_shows_the_gappy_one(
    frozen_now, make_site, add_readings, read
):
    site = make_site("mixed", meters=[("chatty", False, 60), ("gappy", False, 60)])
    # Declared hourly, but sends every 15 minutes: 96 readings where 23 ended hours expected.
    add_readings(site.meters["chatty"], [(NOW_HOUR + 2700 - i * 900, 1.0) for i in range(96)])
    add_readings(site.meters["gappy"], [(NOW_HOUR - i * HOUR, 1.0) for i in range(0, 24, 2)])
    body = read("summary", site_id="mixed").get_json()
    assert (body["points"], body["expected_points"]) == (108, 46)
    # The summary reads the site's hourly rollup (no per-meter counts): capped at 100 %.
    assert body["coverage_pct"] == 100.0
    assert body["total_value"] == pytest.approx(108.0)
    # The coverage report caps each meter, so the gaps show there; gappy's reading of the
    # open hour is not counted yet (received and missing add up to the ended hours).
    coverage = read("coverage", site_id="mixed").get_json()
    assert coverage["coverage_pct"] == round(100 * (23 + 11) / 46, 2)
    meters = {meter["meter_id"]: meter for meter in coverage["meters"]}
    assert meters["gappy"]["missing_intervals_count"] == 23 - 11
    assert (meters["gappy"]["received"], meters["gappy"]["expected"]) == (11, 23)
