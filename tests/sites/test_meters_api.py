"""/api/v1/sites/<site_id>/meters: list, add, edit."""

import pytest

SITES = "/api/v1/sites"


@pytest.fixture
def site(make_site):
    return make_site("plant", meters=[("main", True, 60), ("line-1", False, 15)])


def test_list_meters_in_meter_id_order(client, account, site):
    meters = client.get(f"{SITES}/plant/meters", headers=account["headers"]).get_json()
    assert [(m["meter_id"], m["is_main"], m["interval_minutes"]) for m in meters] == [
        ("line-1", False, 15),
        ("main", True, 60),
    ]
    site_body = client.get(f"{SITES}/plant", headers=account["headers"]).get_json()
    assert [m["meter_id"] for m in site_body["meters"]] == ["line-1", "main"]


def test_patch_meter(client, account, site):
    response = client.patch(
        f"{SITES}/plant/meters/line-1",
        json={"name": "Line 1", "is_main": True, "interval_minutes": 5},
        headers=account["headers"],
    )
    assert response.status_code == 200, response.get_json()
    meter = response.get_json()
    assert (meter["name"], meter["is_main"], meter["interval_minutes"]) == ("Line 1", True, 5)
    shown = client.get(f"{SITES}/plant/meters/line-1", headers=account["headers"]).get_json()
    assert shown == meter


@pytest.mark.parametrize("interval", [0, 7, 1441, 2880, 1.5, "60", True])
def test_interval_must_divide_a_day(client, account, site, interval):
    response = client.patch(
        f"{SITES}/plant/meters/main",
        json={"interval_minutes": interval},
        headers=account["headers"],
    )
    assert response.status_code == 422
    assert "interval_minutes" in response.get_json()["detail"]["json"]


def test_unknown_meter_is_404(client, account, site):
    response = client.patch(
        f"{SITES}/plant/meters/nope", json={"name": "x"}, headers=account["headers"]
    )
    assert response.status_code == 404
    assert response.get_json()["code"] == "NOT_FOUND"


def test_add_meter_and_duplicate(client, account, site):
    response = client.post(
        f"{SITES}/plant/meters",
        json={"meter_id": "hvac", "interval_minutes": 15},
        headers=account["headers"],
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json() == {
        **response.get_json(),
        "meter_id": "hvac",
        "name": "hvac",
        "is_main": False,
        "interval_minutes": 15,
    }
    again = client.post(
        f"{SITES}/plant/meters", json={"meter_id": "hvac"}, headers=account["headers"]
    )
    assert again.status_code == 409
    assert again.get_json()["code"] == "METER_EXISTS"
