"""The alerts page on the alerts slot of the read model, filled with an in-memory store that
behaves as the analytics engine's alerts do: filters, actions, notes, CSV, plan flag."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest

from cei.extensions import db
from cei.models import Organization
from cei.services import dashboard
from cei.services.errors import NotFound, ServiceError
from tests.web.conftest import sign_up_in_browser
from tests.web.test_pages import web_login


class AlertStore:
    """Alerts of one organization, with the engine's statuses and transitions."""

    def __init__(self):
        self.organization_id = None
        self.alerts = {}
        self.calls = []

    def add(self, organization_id, **fields):
        self.organization_id = organization_id
        alert_id = len(self.alerts) + 1
        start = datetime(2026, 7, 1, 1, 0, tzinfo=UTC)
        self.alerts[alert_id] = {
            "id": alert_id,
            "site_id": "plant-1",
            "site_name": "Plant one",
            "timezone": "Europe/Rome",
            "meter_id": None,
            "kind": "night_waste",
            "severity": "warning",
            "status": "open",
            "message": "Night consumption 40 % above base load",
            "period_start": start,
            "period_end": start + timedelta(hours=5),
            "kwh_impact": 310.0,
            "cost_impact": 74.4,
            "currency": "EUR",
            "co2e_kg_impact": 0.0,
            "notes": [],
            **fields,
        }
        return alert_id

    def list(self, organization, status=None, severity=None, kind=None, site_id=None, **_):
        if organization.id != self.organization_id:
            return []
        return [
            alert
            for alert in self.alerts.values()
            if (status is None or alert["status"] == status)
            and (severity is None or alert["severity"] == severity)
            and (kind is None or alert["kind"] == kind)
            and (site_id is None or alert["site_id"] == site_id)
        ]

    def change(self, organization, alert_id, user, status=None, note=None):
        self.calls.append((alert_id, status, note))
        alert = self.alerts.get(alert_id)
        if alert is None or organization.id != self.organization_id:
            raise NotFound("no such alert")
        allowed = [target for target, _ in dashboard.ALERT_ACTIONS[alert["status"]]]
        if status is not None and status not in allowed:
            raise ServiceError(f"An alert cannot go from {alert['status']!r} to {status!r}")
        if status:
            alert["status"] = status
        if note or status:
            alert["notes"].append(
                {
                    "text": note or f"Status changed to {status}.",
                    "author": user.email,
                    "created_at": datetime.now(UTC),
                }
            )
        return alert


@pytest.fixture
def store(monkeypatch):
    """Route the read model's alerts slot to an in-memory store."""
    alerts = AlertStore()
    monkeypatch.setattr(dashboard, "list_alerts", alerts.list)
    monkeypatch.setattr(dashboard, "change_alert", alerts.change)
    return alerts


def test_alerts_are_filtered_acted_on_and_exported(app, client, api, store):
    account = web_login(client, api)
    org_id = account["organization"]["id"]
    first = store.add(org_id)
    store.add(org_id, kind="spike", severity="critical", message="A spike at 03:00")
    page = client.get("/alerts").text
    assert page.count("data-alert-id=") == 2
    assert "01 Jul 2026 03:00 CEST" in page  # the site's time, zone named
    assert "310 kWh" in page and "€74.40" in page
    critical = client.get("/alerts?severity=critical&kind=spike").text
    assert critical.count("data-alert-id=") == 1 and "A spike at 03:00" in critical
    assert client.get("/alerts?status=bogus").status_code == 200  # falls back to "open"

    response = client.post(
        f"/alerts/{first}",
        data={"status": "ack", "note": "Compressor left on", "next": "/alerts?severity=warning"},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/alerts?severity=warning"
    assert store.calls[-1] == (first, "ack", "Compressor left on")
    assert "Alert marked acknowledged" in client.get("/alerts?status=ack").text
    refused = client.post(f"/alerts/{first}", data={"status": "open"})
    assert refused.status_code == 303
    assert "cannot go from" in client.get("/alerts?status=ack").text
    assert store.alerts[first]["status"] == "ack"
    client.post(f"/alerts/{first}", data={"status": "resolved", "next": "https://evil.example/"})
    assert store.alerts[first]["status"] == "resolved"
    client.post(f"/alerts/{first}", data={"status": "", "note": "Checked on site"})
    assert [note["text"] for note in store.alerts[first]["notes"]][-1] == "Checked on site"
    assert client.post("/alerts/999", data={"status": "ack"}).status_code == 404

    rows = list(csv.DictReader(io.StringIO(client.get("/alerts.csv?status=").text)))
    assert [row["kind"] for row in rows] == ["night_waste", "spike"]
    assert rows[0]["period_start_utc"] == "2026-07-01T01:00:00Z"
    assert rows[0]["status"] == "resolved" and rows[1]["cost_impact"] == "74.400"

    with app.app_context():
        db.session.get(Organization, org_id).enable_alerts = False
        db.session.commit()
    assert client.post(f"/alerts/{first}", data={"status": "open"}).status_code == 403
    assert client.get("/alerts.csv").status_code == 403
    assert "data-alert-id" not in client.get("/alerts").text


def test_an_alert_is_acknowledged_and_resolved_in_the_browser(
    web_app, live_url, page, shoot, store
):
    sign_up_in_browser(page, live_url, "alerts@example.com", "Alert Works")
    from cei.models import User

    with web_app.app_context():
        org_id = db.session.query(User).filter_by(email="alerts@example.com").one().organization_id
    alert_id = store.add(org_id)
    page.click("nav >> text=Alerts")
    card = f'[data-alert-id="{alert_id}"]'
    shoot(page, "alerts-open")
    page.fill(f"{card} input[name=note]", "Compressor left on over the weekend")
    page.click(f"{card} button:has-text('Acknowledge')")
    page.wait_for_selector("text=Alert marked acknowledged")
    page.select_option("#status", "ack")
    page.click("text=Apply filters")
    assert page.inner_text(f"{card} [data-alert-status]") == "Acknowledged"
    page.click(f"{card} button:has-text('Resolve')")
    page.wait_for_selector("text=Alert marked resolved")
    assert store.alerts[alert_id]["status"] == "resolved"
    assert re.search(r"status=ack", page.url)  # back to the list as it was filtered
    page.select_option("#status", "resolved")
    page.click("text=Apply filters")
    assert page.inner_text(f"{card} [data-alert-status]") == "Resolved"
    page.click(f"{card} summary")
    assert "Compressor left on over the weekend" in page.inner_text(f"{card} .notes")
    shoot(page, "alerts-resolved")
    page.problems.check()
