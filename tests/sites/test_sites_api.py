"""/api/v1/sites: CRUD, validation, tenancy, scopes, cascades."""

from urllib.parse import quote

import pytest

SITES = "/api/v1/sites"
DEFAULT_SCHEDULE = {"days": [0, 1, 2, 3, 4], "start": "07:00", "end": "19:00"}


@pytest.fixture
def create(client, account):
    """Return ``create(**fields)`` posting a site as the account's admin."""

    def post(**fields):
        return client.post(SITES, json=fields, headers=account["headers"])

    return post


def test_create_with_defaults_then_get_and_list(client, account, create):
    response = create(site_id="site-22")
    assert response.status_code == 201, response.get_json()
    site = response.get_json()
    assert site["site_id"] == "site-22"
    assert site["name"] == "site-22"
    assert site["timezone"] == "UTC"  # the organization's
    assert site["schedule"] == DEFAULT_SCHEDULE
    assert site["tariff_per_kwh"] is None
    assert (site["effective_tariff_per_kwh"], site["currency"]) == (0.2, "EUR")
    assert site["meters"] == []
    fetched = client.get(f"{SITES}/site-22", headers=account["headers"]).get_json()
    assert fetched == site
    listed = client.get(SITES, headers=account["headers"]).get_json()
    assert [item["site_id"] for item in listed] == ["site-22"]


def test_create_with_every_field(create):
    fields = {
        "site_id": "rome-1",
        "name": "Rome plant",
        "timezone": "Europe/Rome",
        "location": "Via Roma 1",
        "schedule": {"days": [5, 0, 1], "start": "06:00", "end": "24:00"},
        "tariff_per_kwh": 0.31,
    }
    site = create(**fields).get_json()
    assert site["schedule"] == {"days": [0, 1, 5], "start": "06:00", "end": "24:00"}
    assert site["effective_tariff_per_kwh"] == 0.31
    for key in ("name", "timezone", "location", "tariff_per_kwh"):
        assert site[key] == fields[key]


def test_patch_changes_only_what_is_sent(client, account, create):
    create(site_id="s1", name="Old", tariff_per_kwh=0.3, location="Here")
    response = client.patch(
        f"{SITES}/s1",
        json={"name": "New", "timezone": "America/New_York", "tariff_per_kwh": None},
        headers=account["headers"],
    )
    assert response.status_code == 200, response.get_json()
    site = response.get_json()
    assert (site["name"], site["timezone"], site["location"]) == ("New", "America/New_York", "Here")
    assert site["tariff_per_kwh"] is None
    assert site["effective_tariff_per_kwh"] == 0.2
    again = client.get(f"{SITES}/s1", headers=account["headers"]).get_json()
    assert again["name"] == "New"


def test_site_id_cannot_be_renamed(client, account, create):
    create(site_id="s1")
    response = client.patch(f"{SITES}/s1", json={"site_id": "s2"}, headers=account["headers"])
    assert response.status_code == 422
    assert "site_id" in response.get_json()["detail"]["json"]


def test_duplicate_site_id_is_409(create, api):
    assert create(site_id="dup").status_code == 201
    response = create(site_id="dup")
    assert response.status_code == 409
    assert response.get_json()["code"] == "SITE_EXISTS"


def test_same_site_id_in_two_organizations(client, create, api):
    assert create(site_id="plant").status_code == 201
    other = api.signup(org="Other")
    response = client.post(SITES, json={"site_id": "plant"}, headers=other["headers"])
    assert response.status_code == 201


def test_unicode_site_id_in_the_url(client, account, create):
    site_id = "Werk München #2 ✓"
    assert create(site_id=site_id).status_code == 201
    path = f"{SITES}/{quote(site_id, safe='')}"
    assert client.get(path, headers=account["headers"]).get_json()["site_id"] == site_id
    response = client.post(
        f"{path}/meters", json={"meter_id": "Zähler 1", "is_main": True}, headers=account["headers"]
    )
    assert response.status_code == 201
    meter_path = f"{path}/meters/{quote('Zähler 1', safe='')}"
    assert (
        client.patch(meter_path, json={"name": "Haupt"}, headers=account["headers"]).status_code
        == 200
    )
    assert client.delete(path, headers=account["headers"]).status_code == 204
    assert client.get(path, headers=account["headers"]).status_code == 404


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"timezone": "utc+2"}, "timezone"),
        ({"schedule": {"days": [7], "start": "07:00", "end": "19:00"}}, "schedule"),
        ({"schedule": {"days": ["mon"], "start": "07:00", "end": "19:00"}}, "schedule"),
        ({"schedule": {"days": [0], "start": "7:00", "end": "19:00"}}, "schedule"),
        ({"schedule": {"days": [0], "start": "19:00", "end": "07:00"}}, "schedule"),
        ({"schedule": {"days": [0], "start": "08:00", "end": "08:00"}}, "schedule"),
        ({"schedule": {"days": [0], "start": "08:00", "end": "24:30"}}, "schedule"),
        ({"schedule": {"days": [0], "start": "08:00"}}, "schedule"),
        ({"schedule": {"days": [0], "start": "08:00", "end": "18:00", "tz": "x"}}, "schedule"),
        ({"tariff_per_kwh": -0.1}, "tariff_per_kwh"),
        ({"name": ""}, "name"),
    ],
)
def test_invalid_site_fields_are_422(client, account, create, fields, field):
    response = create(site_id="s1", **fields)
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "VALIDATION_ERROR"
    assert field in body["detail"]["json"]
    # The same rules apply when editing.
    create(site_id="s2")
    response = client.patch(f"{SITES}/s2", json=fields, headers=account["headers"])
    assert response.status_code == 422
    assert field in response.get_json()["detail"]["json"]


@pytest.mark.parametrize("site_id", ["", "   ", "a/b", "..", "x" * 101, "tab\there"])
def test_invalid_site_ids_are_422(create, site_id):
    response = create(site_id=site_id)
    assert response.status_code == 422
    assert "site_id" in response.get_json()["detail"]["json"]


def test_another_organizations_site_is_404(client, create, api):
    create(site_id="mine")
    stranger = api.signup(org="Stranger")
    headers = stranger["headers"]
    for method, path in [
        ("get", f"{SITES}/mine"),
        ("patch", f"{SITES}/mine"),
        ("delete", f"{SITES}/mine"),
        ("get", f"{SITES}/mine/meters"),
        ("post", f"{SITES}/mine/meters"),
    ]:
        json = {"meter_id": "m"} if method == "post" else {}
        response = getattr(client, method)(path, json=json, headers=headers)
        assert response.status_code == 404, (method, path)
        assert response.get_json()["code"] == "NOT_FOUND"
    assert client.get(SITES, headers=headers).get_json() == []


def test_delete_cascades_to_meters_and_readings(
    client, account, make_site, add_readings, count_readings
):
    doomed = make_site("doomed", meters=[("a", True, 60), ("b", False, 15)])
    kept = make_site("kept", meters=[("a", False, 60)])
    for pk in [*doomed.meters.values(), *kept.meters.values()]:
        add_readings(pk, [(1_770_000_000 + i * 900, 1.0) for i in range(10)])
    assert count_readings(list(doomed.meters.values())) == 20
    response = client.delete(f"{SITES}/doomed", headers=account["headers"])
    assert response.status_code == 204
    assert count_readings(list(doomed.meters.values())) == 0
    assert count_readings(list(kept.meters.values())) == 10
    assert client.get(f"{SITES}/doomed", headers=account["headers"]).status_code == 404
    assert client.delete(f"{SITES}/doomed", headers=account["headers"]).status_code == 404


def test_read_token_lists_but_cannot_change(client, account, api, create):
    create(site_id="s1")
    reader = api.make_token(account, scopes=["read"])
    headers = {"Authorization": f"Bearer {reader['token']}"}
    assert client.get(SITES, headers=headers).status_code == 200
    assert client.get(f"{SITES}/s1/meters", headers=headers).status_code == 200
    for method, path, json in [
        ("post", SITES, {"site_id": "s2"}),
        ("patch", f"{SITES}/s1", {"name": "x"}),
        ("delete", f"{SITES}/s1", None),
        ("post", f"{SITES}/s1/meters", {"meter_id": "m"}),
    ]:
        response = getattr(client, method)(path, json=json, headers=headers)
        assert response.status_code == 403, (method, path)
        assert response.get_json()["code"] == "TOKEN_NOT_ALLOWED"


def test_ingest_only_token_cannot_read_sites(client, account, api, create):
    create(site_id="s1")
    pusher = api.make_token(account, scopes=["ingest"])
    response = client.get(SITES, headers={"Authorization": f"Bearer {pusher['token']}"})
    assert response.status_code == 403
    assert response.get_json()["code"] == "INSUFFICIENT_SCOPE"


def test_sites_need_credentials(client):
    assert client.get(SITES).status_code == 401


@pytest.mark.parametrize(
    "site_id", [" padded", "padded ", "nul\x00", "bidi\u202eevil", "lone\ud800", "x/y"]
)
def test_ids_follow_the_rule_ingestion_follows(create, site_id):
    response = create(site_id=site_id)
    assert response.status_code == 422
    assert "site_id" in response.get_json()["detail"]["json"]


def test_ids_are_compared_in_nfc_form(client, account, create):
    decomposed, composed = "Citta\u0300", "Città"
    response = create(site_id=decomposed)
    assert response.status_code == 201
    assert response.get_json()["site_id"] == composed
    assert create(site_id=composed).status_code == 409
    for spelling in (composed, decomposed):
        path = f"{SITES}/{quote(spelling, safe='')}"
        assert client.get(path, headers=account["headers"]).get_json()["site_id"] == composed


@pytest.mark.parametrize("raw", ["nul%00", "lone%ED%A0%80"])
def test_a_path_id_that_no_site_can_have_is_refused(client, account, raw):
    # The request guard (cei.http) names the parameter when it holds unstorable text (422);
    # otherwise the lookup finds nothing (404). Never a 500.
    response = client.get(f"{SITES}/{raw}", headers=account["headers"])
    assert response.status_code in (404, 422)
    assert response.get_json()["code"] in ("NOT_FOUND", "VALIDATION_ERROR")
