"""The web pages through the test client: empty states, errors, CSRF, tenancy, plan flags,
tokens, sites, upload without JavaScript, downloads."""

import csv
import io
import re

import pytest

from cei.extensions import db
from cei.models import IntegrationToken, Organization, Site, User
from cei.services import dashboard, ingest, sites, tokens
from cei.services.passwords import hash_password
from tests.conftest import ApiHelper, _empty_tables
from tests.web.conftest import PASSWORD, hour_start, iso, web_config

PAGES = ("/", "/sites", "/alerts", "/reports", "/upload", "/settings")


def web_login(client, api, email=None, org="Acme Plant"):
    """Sign up through the API and sign in through the web form; return the sign-up JSON."""
    account = api.signup(email=email, password=PASSWORD, org=org)
    response = client.post("/login", data={"email": account["user"]["email"], "password": PASSWORD})
    assert response.status_code == 302, response.data[:500]
    return account


def organization_of(account):
    """The account's Organization row (inside an app context)."""
    return db.session.get(Organization, account["organization"]["id"])


def send(app, account, records):
    """Store readings for the account through the ingestion service."""
    with app.app_context():
        result = ingest.ingest_batch(organization_of(account), records)
        db.session.commit()
    assert result.failed == 0, result.errors
    return result


def hourly(site_id, meter_id, hours, value=10.0, start_hours_ago=None):
    """``hours`` hourly readings ending with the current hour (value grows by 1 per hour)."""
    start = hours - 1 if start_hours_ago is None else start_hours_ago
    return [
        {
            "site_id": site_id,
            "meter_id": meter_id,
            "timestamp_utc": iso(hour_start(start - i)),
            "value": value + i,
        }
        for i in range(hours)
    ]


@pytest.fixture
def signed_in(app, client, api):
    """A signed-in admin of a fresh organization (the sign-up JSON)."""
    return web_login(client, api)


def test_every_page_renders_with_no_data(client, signed_in):
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 200, path
        assert b"<h1" in response.data, path
    for path in ("/", "/sites", "/alerts", "/reports"):
        assert b"data-empty-state" in client.get(path).data, path
    assert b"Connect your first meter" in client.get("/").data
    assert b"No tokens yet" in client.get("/settings").data


def test_a_site_without_readings_has_an_empty_view(app, client, signed_in):
    with app.app_context():
        sites.create_site(organization_of(signed_in), "quiet", timezone="Europe/Rome")
        db.session.commit()
    page = client.get("/sites/quiet").data.decode()
    assert "No readings for this site yet" in page
    assert "data-chart-empty" in page
    assert "times in Europe/Rome" in page
    rows = list(csv.reader(io.StringIO(client.get("/sites/quiet/data.csv").data.decode())))
    assert rows[0] == ["hour_start_utc", "hour_start_local (Europe/Rome)", "actual_kwh"]
    assert len(rows) == 1 + 168
    assert all(row[2] == "" for row in rows[1:])
    dashboard = client.get("/").data.decode()
    assert "no data yet" in dashboard
    assert "set up but no readings have arrived" in dashboard


def test_anonymous_visitors_are_sent_to_login(client):
    assert "Please log in" not in client.get("/", follow_redirects=True).text
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/login"), path
    assert "Please log in" in client.get("/sites", follow_redirects=True).text


def test_unknown_pages_are_styled_and_the_api_keeps_its_envelope(client, signed_in):
    page = client.get("/no-such-page")
    assert page.status_code == 404
    assert page.mimetype == "text/html"
    assert b"Page not found" in page.data and b'class="topbar"' in page.data
    api = client.get("/api/v1/no-such-endpoint")
    assert api.status_code == 404
    assert api.mimetype == "application/json"
    assert api.get_json()["code"] == "NOT_FOUND" and "request_id" in api.get_json()
    wrong_method = client.delete("/settings")
    assert wrong_method.status_code == 405 and wrong_method.mimetype == "text/html"


def test_errors_are_a_styled_page_on_the_web_and_the_envelope_in_the_api(make_app):
    app = make_app(PROPAGATE_EXCEPTIONS=False)

    def fail():
        raise RuntimeError("boom")

    app.add_url_rule("/boom", "boom", fail)
    app.add_url_rule("/api/v1/boom", "api_boom", fail)
    client = app.test_client()
    page = client.get("/boom")
    assert page.status_code == 500 and page.mimetype == "text/html"
    assert b"Something went wrong on our side" in page.data and b"boom" not in page.data
    api = client.get("/api/v1/boom")
    assert api.status_code == 500
    assert api.get_json()["code"] == "INTERNAL_ERROR"


def _csrf(client, path):
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get(path).text)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def test_forms_without_a_csrf_token_are_refused(make_app, database_url):
    app = make_app(**web_config(database_url))
    with app.app_context():
        _empty_tables()
    client = app.test_client()
    account = ApiHelper(client).signup(password=PASSWORD)
    email = account["user"]["email"]
    refused = client.post("/login", data={"email": email, "password": PASSWORD})
    assert refused.status_code == 400 and b"This form has expired" in refused.data
    token = _csrf(client, "/login")
    signed = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert signed.status_code == 302

    with app.app_context():
        sites.create_site(organization_of(account), "plant-1")
        db.session.commit()
    attempts = {
        "/settings/tokens": {"name": "sneaky", "scopes": ["ingest"]},
        "/settings/organization": {
            "name": "Renamed",
            "currency": "USD",
            "tariff_per_kwh": "1",
            "timezone": "UTC",
        },
        "/sites/new": {"site_id": "forged", "timezone": "UTC", "start": "07:00", "end": "19:00"},
        "/sites/plant-1/edit": {
            "name": "Forged",
            "timezone": "UTC",
            "start": "07:00",
            "end": "19:00",
        },
        "/upload": {"file": (io.BytesIO(b"timestamp_utc,site_id,meter_id,value\n"), "x.csv")},
        "/logout": {},
    }
    for path, data in attempts.items():
        response = client.post(path, data=data)
        assert response.status_code == 400, path
        assert b"This form has expired" in response.data, path
    with app.app_context():
        assert db.session.query(IntegrationToken).count() == 0
        assert db.session.get(Organization, account["organization"]["id"]).name == "Acme Plant"
        assert db.session.query(Site).filter_by(site_id="forged").count() == 0
        assert db.session.query(Site).filter_by(site_id="plant-1").one().name == "plant-1"
    assert client.get("/settings").status_code == 200  # still signed in

    token = _csrf(client, "/settings")
    created = client.post(
        "/settings/tokens", data={"name": "real", "scopes": ["ingest"], "csrf_token": token}
    )
    assert created.status_code == 303
    with app.app_context():
        assert db.session.query(IntegrationToken).count() == 1


def test_another_organizations_site_is_not_found(app, client, api, signed_in):
    other = api.signup(email="other@example.com", org="Other Co")
    send(app, other, hourly("their-site", "main", 3))
    for path in (
        "/sites/their-site",
        "/sites/their-site/edit",
        "/sites/their-site/data.csv",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert b"Page not found" in response.data
    toggle = client.post("/sites/their-site/meters/main/main", data={"is_main": "1"})
    assert toggle.status_code == 404
    with app.app_context():
        their_token, _ = tokens.issue_token(organization_of(other), "theirs")
        db.session.commit()
        token_id = their_token.id
    assert client.get(f"/settings/tokens/{token_id}/revoke").status_code == 404
    assert client.post(f"/settings/tokens/{token_id}/revoke").status_code == 404
    assert b"their-site" not in client.get("/").data
    assert b"their-site" not in client.get("/alerts").data


@pytest.mark.parametrize("flag", ["enable_alerts", "enable_reports"])
def test_plan_flags_hide_alerts_and_reports(app, client, signed_in, flag):
    send(app, signed_in, hourly("plant-1", "main", 5))
    with app.app_context():
        setattr(organization_of(signed_in), flag, False)
        db.session.commit()
    hidden, shown = ("/alerts", "/reports") if flag == "enable_alerts" else ("/reports", "/alerts")
    feature = hidden.strip("/")
    page = client.get(hidden).data.decode()
    assert f'data-upgrade-notice="{feature}"' in page
    assert "not part of your plan" in page
    assert "<table" not in page and 'role="search"' not in page
    assert "data-upgrade-notice" not in client.get(shown).data.decode()
    if flag == "enable_reports":
        assert client.get("/reports/weekly.csv").status_code == 403
    else:
        assert "not in your plan" in client.get("/").data.decode()
        assert "Alerts are not part of your plan" in client.get("/sites/plant-1").data.decode()
        assert client.get("/alerts.csv").status_code == 403
        assert client.get("/alerts/1/chart.json").status_code == 403


def test_a_new_token_is_shown_once_then_listed_by_its_prefix(app, client, signed_in):
    response = client.post("/settings/tokens", data={"name": "Line 1", "scopes": ["ingest"]})
    assert response.status_code == 303
    first = client.get("/settings")
    assert first.headers["Cache-Control"] == "no-store"
    raw = re.search(r'value="(cei_int_[^"]+)"', first.text).group(1)
    assert "Store it now" in first.text
    again = client.get("/settings").text
    assert raw not in again and "Store it now" not in again
    with app.app_context():
        token = db.session.query(IntegrationToken).one()
        assert raw.startswith(token.prefix) and token.scopes == "ingest"
        assert f"<code>{token.prefix}…</code>" in again
        token_id = token.id
    confirm = client.get(f"/settings/tokens/{token_id}/revoke").text
    assert "Revoke “Line 1”?" in confirm
    with app.app_context():
        assert db.session.get(IntegrationToken, token_id).is_active  # asking revokes nothing
    assert client.post(f"/settings/tokens/{token_id}/revoke").status_code == 303
    with app.app_context():
        assert not db.session.get(IntegrationToken, token_id).is_active
    assert "revoked" in client.get("/settings").text


def test_a_token_needs_a_name_and_a_permission(app, client, signed_in):
    response = client.post("/settings/tokens", data={"name": ""})
    assert response.status_code == 422
    assert "This field is required" in response.text
    assert "Choose at least one permission" in response.text
    with app.app_context():
        assert db.session.query(IntegrationToken).count() == 0


def test_organization_settings_are_saved_and_checked(app, client, signed_in):
    form = {"name": "Acme Europe", "currency": "CHF", "tariff_per_kwh": "0.31", "timezone": ""}
    refused = client.post("/settings/organization", data={**form, "tariff_per_kwh": "-1"})
    assert refused.status_code == 422
    assert "Number must be between 0 and 999999" in refused.text
    saved = client.post("/settings/organization", data={**form, "timezone": "Europe/Zurich"})
    assert saved.status_code == 303
    with app.app_context():
        org = organization_of(signed_in)
        assert (org.name, org.currency, org.tariff_per_kwh, org.timezone) == (
            "Acme Europe",
            "CHF",
            0.31,
            "Europe/Zurich",
        )
    assert "Organization settings saved" in client.get("/settings").text


def test_sites_are_added_and_edited(app, client, signed_in):
    form = {
        "site_id": "bologna-1",
        "name": "Bologna plant",
        "timezone": "Europe/Rome",
        "location": "Bologna, IT",
        "days": ["0", "1", "2", "3", "4", "5"],
        "start": "06:00",
        "end": "22:00",
        "tariff_per_kwh": "",
    }
    page = client.get("/sites/new").text
    assert "HH:MM after the opening time" in page and "cannot be changed later" in page
    refused = client.post("/sites/new", data={**form, "end": "05:00"})
    assert refused.status_code == 422
    assert "end must be after start" in refused.text
    refused = client.post("/sites/new", data={**form, "site_id": "a/b"})
    assert refused.status_code == 422 and "must not contain" in refused.text.lower()
    created = client.post("/sites/new", data=form)
    assert created.status_code == 303
    assert created.headers["Location"] == "/sites/bologna-1"
    taken = client.post("/sites/new", data=form)
    assert taken.status_code == 422 and "already exists" in taken.text

    edited = client.post(
        "/sites/bologna-1/edit",
        data={**form, "site_id": "renamed", "name": "Bologna", "tariff_per_kwh": "0.25"},
    )
    assert edited.status_code == 303
    with app.app_context():
        site = db.session.query(Site).filter_by(site_id="bologna-1").one()
        assert site.name == "Bologna" and site.tariff_per_kwh == 0.25
        assert site.schedule == {"days": [0, 1, 2, 3, 4, 5], "start": "06:00", "end": "22:00"}
        assert site.timezone == "Europe/Rome" and site.location == "Bologna, IT"
    listing = client.get("/sites").text
    assert "Bologna" in listing and "/sites/bologna-1/edit" in listing
    assert "€0.25/kWh" in client.get("/sites/bologna-1").text


def test_upload_without_javascript_shows_the_whole_page_with_the_result(app, client, signed_in):
    body = (
        "time;kwh\n"
        + "\n".join(f"{iso(hour_start(h))};{h + 0.5}" for h in range(3))
        + f"\n{iso(hour_start(4))};-1\n"
    )
    data = {"file": (io.BytesIO(body.encode()), "plc.csv"), "site_id": "s1", "meter_id": "m1"}
    response = client.post("/upload", data=data, content_type="multipart/form-data")
    assert response.status_code == 200
    page = response.text
    assert "<nav" in page and "Result for plc.csv" in page
    assert re.search(r'data-count="ingested">3<', page)
    assert re.search(r'data-count="failed">1<', page)
    assert re.search(r"<td class=\"num\">5</td><td><code>INVALID_VALUE</code>", page)

    partial = client.post(
        "/upload",
        data={"file": (io.BytesIO(body.encode()), "plc.csv"), "site_id": "s1", "meter_id": "m1"},
        content_type="multipart/form-data",
        headers={"X-CEI-Partial": "1"},
    )
    assert partial.status_code == 200
    assert "<nav" not in partial.text and partial.text.lstrip().startswith(
        '<div id="upload-result"'
    )
    assert re.search(r'data-count="skipped_duplicate">3<', partial.text)


def test_an_unreadable_upload_stores_nothing_and_says_why(app, client, signed_in):
    data = {"file": (io.BytesIO(b"when,amount\n2026-01-01T00:00:00Z,3\n"), "bad.csv")}
    response = client.post("/upload", data=data, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "The file was not stored" in response.text and "The header lacks" in response.text
    missing = client.post("/upload", data={}, content_type="multipart/form-data")
    assert missing.status_code == 422 and "Choose a CSV file" in missing.text
    with app.app_context():
        assert db.session.query(Site).count() == 0


def test_marking_a_main_meter_ends_the_summing_warning(app, client, signed_in):
    send(app, signed_in, hourly("plant-1", "main", 4, value=100) + hourly("plant-1", "sub", 4))
    page = client.get("/sites/plant-1").text
    assert "data-main-warning" in page and "adds up 2 meters" in page
    assert "2 meters summed" in client.get("/sites").text
    response = client.post("/sites/plant-1/meters/main/main", data={"is_main": "1"})
    assert response.status_code == 303
    page = client.get("/sites/plant-1").text
    assert "data-main-warning" not in page
    last_24h = re.search(r'data-kpi="last_24h_kwh" data-value="([^"]*)"', page).group(1)
    assert float(last_24h) == sum(100 + i for i in range(4))
    client.post("/sites/plant-1/meters/main/main", data={"is_main": "0"})
    page = client.get("/sites/plant-1").text
    last_24h = re.search(r'data-kpi="last_24h_kwh" data-value="([^"]*)"', page).group(1)
    assert float(last_24h) == sum(100 + i for i in range(4)) + sum(10 + i for i in range(4))
    assert client.post("/sites/plant-1/meters/nope/main", data={"is_main": "1"}).status_code == 404


def test_downloads_hold_the_figures_shown(app, client, signed_in):
    send(app, signed_in, hourly("=cmd", "main", 30))
    rows = list(csv.DictReader(io.StringIO(client.get("/reports/weekly.csv").text)))
    assert len(rows) == 1
    assert rows[0]["site_id"] == "'=cmd"  # a spreadsheet must not run it
    assert float(rows[0]["kwh_7d"]) == pytest.approx(sum(10 + i for i in range(30)))
    assert rows[0]["coverage_pct"] != "" and rows[0]["baseline_kwh_7d"] == ""
    # kgCO₂e beside kWh and €, at the emission factor the site view uses.
    with app.app_context():
        organization = db.session.get(Organization, signed_in["organization"]["id"])
        overview = dashboard.load_site_overview(organization, "=cmd")
    assert float(rows[0]["co2e_kg_7d"]) == pytest.approx(overview.last_7d.kgco2e, abs=0.001)
    data = client.get("/sites/=cmd/data.csv")
    assert data.headers["Content-Disposition"].startswith("attachment;")
    values = [row["actual_kwh"] for row in csv.DictReader(io.StringIO(data.text))]
    assert len(values) == 168
    assert [float(v) for v in values if v] == [10.0 + i for i in range(30)]


def test_members_see_but_do_not_manage(app, client, api):
    account = api.signup(email="boss@example.com", password=PASSWORD)
    with app.app_context():
        db.session.add(
            User(
                organization_id=account["organization"]["id"],
                email="member@example.com",
                password_hash=hash_password(PASSWORD),
                role="member",
            )
        )
        db.session.commit()
    client.post("/login", data={"email": "member@example.com", "password": PASSWORD})
    settings = client.get("/settings")
    assert settings.status_code == 200 and "Create a token" not in settings.text
    for path in ("/settings/tokens", "/settings/organization", "/sites/new"):
        response = client.post(path, data={"name": "x"})
        assert response.status_code == 403, path
        assert "You cannot do that here" in response.text
    # Like the API (a member's access token may ingest), a member may upload readings.
    upload = client.post(
        "/upload",
        data={
            "file": (io.BytesIO(b"ts,value\n2026-01-01T00:00:00Z,1\n"), "m.csv"),
            "site_id": "s",
            "meter_id": "m",
        },
        content_type="multipart/form-data",
    )
    assert upload.status_code == 200 and 'data-count="ingested">1<' in upload.text
