"""The alerts page on the real alerts: a site fed through ingestion with planted night waste
and spikes, analysed by the real engine; filters, actions, notes, CSV, plan flag."""

import csv
import io
import re

import pytest

from cei.extensions import db
from cei.models import Alert, Organization, User
from cei.services import dashboard
from tests.web.conftest import feed_and_analyse, sign_up_in_browser
from tests.web.test_pages import web_login

PLANTED = {"night_waste_kw": 60.0, "spikes": 2}


def alerts_of(app, organization_id):
    """``{id: (kind, severity, status, [note texts])}`` of the organization's alerts."""
    with app.app_context():
        rows = db.session.query(Alert).filter_by(organization_id=organization_id).all()
        return {
            alert.id: (alert.kind, alert.severity, alert.status, [n.text for n in alert.notes])
            for alert in rows
        }


@pytest.fixture
def analysed(app, client, api):
    """A signed-in organization whose site has been analysed: its id and alerts."""
    account = web_login(client, api)
    org_id = account["organization"]["id"]
    feed_and_analyse(app, org_id, **PLANTED)
    found = alerts_of(app, org_id)
    kinds = sorted(kind for kind, *_ in found.values())
    assert "night_waste" in kinds and kinds.count("spike") >= 1, kinds
    return org_id, found


def test_the_vocabulary_is_the_engines():
    from cei.services.analytics import alerts as engine

    for status, moves in dashboard.ALERT_ACTIONS.items():
        assert {target for target, _ in moves} == engine.TRANSITIONS[status]
    assert set(dashboard.ALERT_ACTIONS) == set(dashboard.ALERT_STATUSES)


def test_alerts_are_filtered_acted_on_and_exported(app, client, analysed):
    org_id, found = analysed
    night = next(pk for pk, (kind, *_) in found.items() if kind == "night_waste")
    spikes = [pk for pk, (kind, *_) in found.items() if kind == "spike"]
    page = client.get("/alerts").text
    assert page.count("data-alert-id=") == len(found)
    assert " UTC" in page  # the site's time, zone named (the site was made in UTC)
    with app.app_context():
        alert = db.session.get(Alert, night)
        kwh, cost = alert.kwh_impact, alert.cost_impact
    assert f"€{cost:,.2f}" in page
    critical = client.get("/alerts?severity=critical&kind=spike").text
    assert critical.count("data-alert-id=") == len(spikes)
    assert "Spike at" in critical and f'data-alert-id="{night}"' not in critical
    assert client.get("/alerts?status=bogus").status_code == 200  # falls back to "open"

    response = client.post(
        f"/alerts/{night}",
        data={"status": "ack", "note": "Compressor left on", "next": "/alerts?severity=warning"},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/alerts?severity=warning"
    assert alerts_of(app, org_id)[night][2:] == ("ack", ["Compressor left on"])
    assert "Alert marked acknowledged" in client.get("/alerts?status=ack").text
    client.post(f"/alerts/{night}", data={"status": "muted"})
    refused = client.post(f"/alerts/{night}", data={"status": "ack"})  # muted → ack: no
    assert refused.status_code == 303
    assert "cannot go from" in client.get("/alerts?status=muted").text
    assert alerts_of(app, org_id)[night][2] == "muted"
    client.post(f"/alerts/{night}", data={"status": "open"})
    client.post(f"/alerts/{night}", data={"status": "resolved", "next": "https://evil.example/"})
    assert alerts_of(app, org_id)[night][2] == "resolved"
    client.post(f"/alerts/{night}", data={"status": "", "note": "Checked on site"})
    assert alerts_of(app, org_id)[night][3][-1] == "Checked on site"
    assert client.post("/alerts/999999", data={"status": "ack"}).status_code == 404

    rows = list(csv.DictReader(io.StringIO(client.get("/alerts.csv?status=").text)))
    assert sorted(int(row["id"]) for row in rows) == sorted(found)
    by_id = {int(row["id"]): row for row in rows}
    assert by_id[night]["status"] == "resolved" and by_id[night]["kind"] == "night_waste"
    assert float(by_id[night]["kwh_impact"]) == pytest.approx(kwh, abs=0.001)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:00:00Z", by_id[night]["period_start_utc"])

    with app.app_context():
        db.session.get(Organization, org_id).enable_alerts = False
        db.session.commit()
    assert client.post(f"/alerts/{night}", data={"status": "open"}).status_code == 403
    assert client.get("/alerts.csv").status_code == 403
    assert "data-alert-id" not in client.get("/alerts").text


def test_an_alerts_chart_shows_its_hours_against_the_baseline(app, client, analysed):
    org_id, found = analysed
    night = next(pk for pk, (kind, *_) in found.items() if kind == "night_waste")
    response = client.get(f"/alerts/{night}/chart.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    chart = response.get_json()
    with app.app_context():
        alert = db.session.get(Alert, night)
        first, last = (int(moment.timestamp()) for moment in (alert.period_start, alert.period_end))
        organization = db.session.get(Organization, org_id)
        site = dashboard.load_site_overview(organization, "plant-1")
    assert chart["highlight"] == [first, last]
    # The period and half a day either side (at most 8 days), hour by hour.
    assert chart["ts"][0] <= first and chart["ts"][-1] >= min(last, site.chart_24h["ts"][-1])
    assert len(chart["ts"]) <= 8 * 24
    assert all(b - a == 3600 for a, b in zip(chart["ts"], chart["ts"][1:], strict=False))
    lines = {line["label"]: line["values"] for line in chart["lines"]}
    assert set(lines) == {"Actual", "Baseline"}
    # The same hourly kWh as the site view's 7-day chart where the two overlap.
    week = dict(zip(site.chart_7d["ts"], site.chart_7d["lines"][0]["values"], strict=True))
    overlap = [i for i, ts in enumerate(chart["ts"]) if ts in week]
    assert overlap
    assert [lines["Actual"][i] for i in overlap] == [week[chart["ts"][i]] for i in overlap]
    assert client.get("/alerts/999999/chart.json").status_code == 404


def test_another_organizations_alert_is_not_found(app, client, api, analysed):
    _, found = analysed
    assert client.get(f"/alerts/{next(iter(found))}/chart.json").status_code == 200
    client.post("/logout")
    web_login(client, api, email="other@example.com", org="Other Works")
    assert client.get("/alerts?status=").text.count("data-alert-id=") == 0
    assert client.post(f"/alerts/{next(iter(found))}", data={"status": "ack"}).status_code == 404
    assert client.get(f"/alerts/{next(iter(found))}/chart.json").status_code == 404


def test_an_alert_is_acknowledged_and_resolved_in_the_browser(web_app, live_url, page, shoot):
    sign_up_in_browser(page, live_url, "alerts@example.com", "Alert Works")
    with web_app.app_context():
        org_id = db.session.query(User).filter_by(email="alerts@example.com").one().organization_id
    feed_and_analyse(web_app, org_id, **PLANTED)
    alert_id = next(
        pk for pk, (kind, *_) in alerts_of(web_app, org_id).items() if kind == "night_waste"
    )
    page.click("nav >> text=Alerts")
    card = f'[data-alert-id="{alert_id}"]'
    # The alert's chart context, fetched when opened: its hours against the baseline.
    page.click(f"{card} .alert-chart summary")
    page.wait_for_selector(f'{card} .alert-chart [data-rendered="true"]')
    legend = page.inner_text(f"{card} .alert-chart")
    assert "Actual" in legend and "Baseline" in legend
    shoot(page, "alerts-open")
    page.fill(f"{card} input[name=note]", "Compressor left on over the weekend")
    page.click(f"{card} button:has-text('Acknowledge')")
    page.wait_for_selector("text=Alert marked acknowledged")
    page.select_option("#status", "ack")
    page.click("text=Apply filters")
    assert page.inner_text(f"{card} [data-alert-status]") == "Acknowledged"
    page.click(f"{card} button:has-text('Resolve')")
    page.wait_for_selector("text=Alert marked resolved")
    assert alerts_of(web_app, org_id)[alert_id][2] == "resolved"
    assert re.search(r"status=ack", page.url)  # back to the list as it was filtered
    page.select_option("#status", "resolved")
    page.click("text=Apply filters")
    assert page.inner_text(f"{card} [data-alert-status]") == "Resolved"
    page.click(f"{card} details:not(.alert-chart) summary")
    assert "Compressor left on over the weekend" in page.inner_text(f"{card} .notes")
    shoot(page, "alerts-resolved")
    page.problems.check()
