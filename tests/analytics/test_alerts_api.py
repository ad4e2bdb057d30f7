"""Alerts through the API: list and filters, the workflow with notes, plan gating, tenancy."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from cei.extensions import db
from cei.models import Alert, Organization
from tests.analytics.conftest import END, HOUR, hourly

SPIKES = {END - 30 * HOUR: 50.0, END - 100 * HOUR: 45.0}


@pytest.fixture
def alerting_site(app, make_site, add_readings, site_pk_of, plugins, analyse):
    """plant-1 with two spikes and a silent sub-meter, analysed: three open alerts."""
    ref = make_site("plant-1", meters=[("main", True, 60), ("sub", False, 60)])
    add_readings(ref.meters["main"], hourly(spikes=SPIKES))
    add_readings(ref.meters["sub"], hourly(value=1.0, end=END - 9 * HOUR))
    analyse(site_pk_of("plant-1"))
    return ref


def listed(client, headers, **query):
    response = client.get("/api/v1/alerts", headers=headers, query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_list_and_filters(client, account, alerting_site):
    headers = account["headers"]
    body = listed(client, headers)
    assert body["total"] == 3
    first = body["items"][0]
    shown = {"site_id", "kind", "severity", "status", "kwh_impact", "cost_impact", "currency"}
    shown |= {"co2e_kg_impact", "period_start", "period_end", "message", "notes"}
    assert shown <= set(first)
    assert first["site_id"] == "plant-1"
    assert listed(client, headers, kind="spike")["total"] == 2
    assert listed(client, headers, severity="critical")["total"] == 1
    assert listed(client, headers, severity="critical,warning")["total"] == 3
    assert listed(client, headers, status="ack")["total"] == 0
    assert listed(client, headers, site_id="plant-1", status="open,ack")["total"] == 3
    # Period: the spike 30 hours ago only.
    start = datetime.fromtimestamp(END - 31 * HOUR, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert listed(client, headers, kind="spike", start=start)["total"] == 1
    page = listed(client, headers, limit=2, offset=2)
    assert page["total"] == 3 and len(page["items"]) == 1


def test_bad_filters_are_422_envelopes(client, account, alerting_site):
    for query in ({"status": "closed"}, {"severity": "huge"}, {"limit": 0}, {"start": "yesterday"}):
        response = client.get("/api/v1/alerts", headers=account["headers"], query_string=query)
        assert response.status_code == 422, query
        assert response.get_json()["code"] == "VALIDATION_ERROR"
    response = client.get("/api/v1/alerts?site_id=nope", headers=account["headers"])
    assert response.status_code == 404


def test_workflow_with_notes_who_and_when(client, account, alerting_site):
    headers = account["headers"]
    alert_id = listed(client, headers, kind="spike")["items"][0]["id"]
    url = f"/api/v1/alerts/{alert_id}"

    acked = client.patch(url, json={"status": "ack", "note": "looking at it"}, headers=headers)
    assert acked.status_code == 200, acked.get_json()
    body = acked.get_json()
    assert body["status"] == "ack"
    assert body["acknowledged_by_id"] == account["user"]["id"]
    assert body["acknowledged_at"]
    assert body["notes"][-1]["text"] == "looking at it"
    assert body["notes"][-1]["status_change"] == "ack"
    assert body["notes"][-1]["user_email"] == account["user"]["email"]

    note_only = client.patch(url, json={"note": "compressor 3 restarted"}, headers=headers)
    assert note_only.get_json()["status"] == "ack"
    assert note_only.get_json()["notes"][-1]["status_change"] is None

    resolved = client.patch(url, json={"status": "resolved"}, headers=headers).get_json()
    assert resolved["status"] == "resolved" and resolved["resolved_by_id"] == account["user"]["id"]

    wrong = client.patch(url, json={"status": "ack"}, headers=headers)
    assert wrong.status_code == 409
    assert wrong.get_json()["code"] == "INVALID_STATUS_TRANSITION"
    assert wrong.get_json()["detail"]["allowed"] == ["muted", "open"]

    reopened = client.patch(url, json={"status": "open"}, headers=headers).get_json()
    assert reopened["status"] == "open" and reopened["resolved_at"] is None
    muted = client.patch(url, json={"status": "muted"}, headers=headers).get_json()
    assert muted["status"] == "muted" and muted["muted_by_id"] == account["user"]["id"]
    assert len(muted["notes"]) == 5

    empty = client.patch(url, json={}, headers=headers)
    assert empty.status_code == 422
    bad = client.patch(url, json={"status": "closed"}, headers=headers)
    assert bad.status_code == 422
    shown = client.get(url, headers=headers).get_json()
    assert shown["status"] == "muted"


def test_tokens_read_but_do_not_change(client, api, account, alerting_site):
    reader = api.make_token(account, scopes=["read"])
    headers = {"Authorization": f"Bearer {reader['token']}"}
    alert_id = listed(client, headers)["items"][0]["id"]
    assert client.get(f"/api/v1/alerts/{alert_id}", headers=headers).status_code == 200
    response = client.patch(f"/api/v1/alerts/{alert_id}", json={"status": "ack"}, headers=headers)
    assert response.status_code == 403
    ingest_only = api.make_token(account, scopes=["ingest"], name="pusher")
    response = client.get(
        "/api/v1/alerts", headers={"Authorization": f"Bearer {ingest_only['token']}"}
    )
    assert response.status_code == 403 and response.get_json()["code"] == "INSUFFICIENT_SCOPE"


def test_plan_without_alerts_answers_403(app, client, account, alerting_site):
    with app.app_context():
        organization = db.session.get(Organization, account["organization"]["id"])
        organization.enable_alerts = False
        alert_id = db.session.scalar(select(Alert.id).limit(1))
        db.session.commit()
    headers = account["headers"]
    for response in (
        client.get("/api/v1/alerts", headers=headers),
        client.get(f"/api/v1/alerts/{alert_id}", headers=headers),
        client.patch(f"/api/v1/alerts/{alert_id}", json={"status": "ack"}, headers=headers),
    ):
        assert response.status_code == 403
        body = response.get_json()
        assert body["code"] == "PLAN_FEATURE_DISABLED"
        assert body["detail"] == {"feature": "enable_alerts"}
        assert body["request_id"]


def test_another_organization_never_sees_them(client, api, alerting_site):
    other = api.signup(email="other@example.com", org="Other Works")
    assert listed(client, other["headers"])["total"] == 0
    response = client.get("/api/v1/alerts/1", headers=other["headers"])
    assert response.status_code == 404 and response.get_json()["code"] == "NOT_FOUND"
    response = client.patch("/api/v1/alerts/1", json={"status": "ack"}, headers=other["headers"])
    assert response.status_code == 404
    assert client.get("/api/v1/alerts?site_id=plant-1", headers=other["headers"]).status_code == 404
