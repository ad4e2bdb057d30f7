"""Log lines: JSON objects (or text) carrying the request id, the organization and the
duration, and never a query string."""

import json
import logging
import sys

import pytest

from cei.logs import JsonLineFormatter
from tests.conftest import bearer
from tests.ingest.conftest import hourly
from tests.security.conftest import STRONG_SECRET, web_login

SECRET_QUERY = "access_token=cei_int_QueryStringSecret0123456789&password=hunter2hunter2"


def json_lines(text):
    """Parse every line of ``text``; each must be one JSON object with the common fields."""
    records = []
    for line in text.splitlines():
        record = json.loads(line)
        assert isinstance(record, dict), line
        for field in ("timestamp", "level", "logger", "message"):
            assert record.get(field), (field, line)
        records.append(record)
    assert records, "nothing was logged"
    return records


def access_lines(records, path):
    return [r for r in records if r["logger"] == "cei.access" and r["path"] == path]


@pytest.fixture
def json_app(app, make_app):
    """An app logging JSON lines (on the emptied database)."""
    return make_app(LOG_FORMAT="json")


def test_a_batch_logs_json_lines_with_request_id_org_and_duration(json_app, api, capfd):
    client = json_app.test_client()
    api.client = client
    account = api.signup(org="Logging Works")
    token = api.make_token(account, scopes=["ingest"])["token"]
    capfd.readouterr()
    response = client.post(
        f"/api/v1/timeseries/batch?{SECRET_QUERY}",
        json={"records": hourly(3, site_id="log-site")},
        headers={**bearer(token), "X-Request-ID": "ops-log-test-1"},
    )
    assert response.status_code == 200
    written = capfd.readouterr().err
    records = json_lines(written)
    org_id = account["user"]["organization_id"]
    (access,) = access_lines(records, "/api/v1/timeseries/batch")
    assert access["level"] == "INFO"
    assert access["request_id"] == "ops-log-test-1"
    assert access["org_id"] == org_id
    assert (access["method"], access["status"]) == ("POST", 200)
    assert access["endpoint"] == "/api/v1/timeseries/batch"
    assert isinstance(access["duration_ms"], float) and access["duration_ms"] > 0
    assert access["timestamp"].endswith("+00:00")
    # Every line of the request carries its id and organization, the ingest line too.
    (ingest,) = [r for r in records if r["logger"] == "cei.ingest"]
    assert ingest["request_id"] == "ops-log-test-1" and ingest["org_id"] == org_id
    assert ingest["ingest"]["ingested"] == 3 and ingest["ingest"]["total_records"] == 3
    # The query string (a token, a password) reaches no log.
    for secret in ("?", "access_token", "cei_int_", "hunter2"):
        assert secret not in written


def test_sign_up_and_login_lines_name_the_organization(json_app, api, capfd):
    client = json_app.test_client()
    api.client = client
    account = api.signup(email="login-logs@example.com")
    client.post(
        "/api/v1/auth/login",
        json={"email": "login-logs@example.com", "password": account["password"]},
    )
    records = json_lines(capfd.readouterr().err)
    org_id = account["user"]["organization_id"]
    (signup,) = access_lines(records, "/api/v1/auth/signup")
    (login,) = access_lines(records, "/api/v1/auth/login")
    assert signup["status"] == 201 and signup["org_id"] == org_id
    assert login["status"] == 200 and login["org_id"] == org_id
    assert account["password"] not in json.dumps(records)


def test_refused_and_unknown_requests_are_logged_too(json_app, capfd):
    client = json_app.test_client()
    client.get(f"/api/v1/auth/whoami?{SECRET_QUERY}")
    client.get("/no/such/page?token=abc")
    written = capfd.readouterr().err
    records = json_lines(written)
    (refused,) = access_lines(records, "/api/v1/auth/whoami")
    assert refused["status"] == 401 and refused["org_id"] is None and refused["request_id"]
    (unknown,) = access_lines(records, "/no/such/page")
    assert unknown["status"] == 404 and unknown["endpoint"] is None
    assert "?" not in written and "hunter2" not in written and "token=abc" not in written


def test_a_web_page_names_the_signed_in_organization(json_app, api, capfd):
    client = json_app.test_client()
    api.client = client
    account = api.signup(email="web-logs@example.com")
    web_login(client, "web-logs@example.com", account["password"])
    capfd.readouterr()
    assert client.get("/sites").status_code == 200
    (page,) = access_lines(json_lines(capfd.readouterr().err), "/sites")
    assert page["org_id"] == account["user"]["organization_id"]
    assert page["endpoint"] == "/sites" and page["status"] == 200


def test_metrics_scrapes_are_not_logged(json_app, capfd):
    client = json_app.test_client()
    client.get("/api/v1/health")
    assert client.get("/metrics").status_code == 200
    records = json_lines(capfd.readouterr().err)
    assert access_lines(records, "/api/v1/health")
    assert not access_lines(records, "/metrics")


def test_the_access_log_can_be_turned_off(app, make_app, capfd):
    quiet = make_app(LOG_FORMAT="json", ACCESS_LOG=False)
    capfd.readouterr()
    assert quiet.test_client().get("/api/v1/health").status_code == 200
    assert "cei.access" not in capfd.readouterr().err


def test_text_format_keeps_the_fields_in_the_message(app, make_app, api, capfd):
    text_app = make_app(LOG_FORMAT="text")
    client = text_app.test_client()
    api.client = client
    account = api.signup()
    capfd.readouterr()
    client.get(f"/api/v1/sites?{SECRET_QUERY}", headers=account["headers"])
    (line,) = [line for line in capfd.readouterr().err.splitlines() if "cei.access" in line]
    assert " INFO cei.access GET /api/v1/sites 200 " in line
    assert f"org_id={account['user']['organization_id']}" in line and "request_id=" in line
    assert "?" not in line and "hunter2" not in line
    with pytest.raises(ValueError):
        json.loads(line)


def test_an_exception_stays_on_one_json_line():
    formatter = JsonLineFormatter()
    try:
        raise ValueError("first line\nsecond line")
    except ValueError:
        record = logging.LogRecord(
            "cei.test", logging.ERROR, __file__, 1, "failed: %s", ("x",), exc_info=True
        )
        record.exc_info = sys.exc_info()
    line = formatter.format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["message"] == "failed: x" and parsed["level"] == "ERROR"
    assert "second line" in parsed["exc_info"] and "Traceback" in parsed["exc_info"]


def test_the_format_follows_the_environment(app, make_app):
    assert make_app().config["LOG_FORMAT"] == "text"
    production = make_app(CEI_ENV="production", SECRET_KEY=STRONG_SECRET)
    assert production.config["LOG_FORMAT"] == "json"
    assert (
        make_app(CEI_ENV="production", SECRET_KEY=STRONG_SECRET, LOG_FORMAT="TEXT").config[
            "LOG_FORMAT"
        ]
        == "text"
    )
    with pytest.raises(RuntimeError, match="CEI_LOG_FORMAT"):
        make_app(LOG_FORMAT="xml")
