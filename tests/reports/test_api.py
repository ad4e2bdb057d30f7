"""``/api/v1/reports``: generate as a job, list, show, download; plan gating and tenancy."""

import io
from datetime import UTC, datetime

import pytest
from pypdf import PdfReader
from sqlalchemy import update

from cei.extensions import db
from cei.models import Organization, Report
from cei.services.reports import build
from tests.reports.conftest import create_site

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


@pytest.fixture
def inline_app(make_app):
    """An app whose jobs run inside the request (JOBS_INLINE)."""
    from tests.conftest import _empty_tables

    application = make_app(JOBS_INLINE=True)
    with application.app_context():
        _empty_tables()
    return application


@pytest.fixture
def inline(inline_app):
    from tests.conftest import ApiHelper

    return ApiHelper(inline_app.test_client())


def post(helper, account, **body):
    return helper.client.post("/api/v1/reports", json=body, headers=account["headers"])


def test_generate_list_show_and_download_a_site_report(inline_app, inline, fake_analytics):
    account = inline.signup()
    create_site(inline_app, account)
    response = post(inline, account, site_id="plant-1", period_end="2026-11-22")
    assert response.status_code == 202, response.get_json()
    created = response.get_json()
    assert created["kind"] == "site" and created["site_id"] == "plant-1"
    assert (created["period_start"], created["period_end"]) == ("2026-11-16", "2026-11-22")
    report_id = created["id"]
    shown = inline.client.get(f"/api/v1/reports/{report_id}", headers=account["headers"])
    body = shown.get_json()
    assert body["status"] == "succeeded", body
    assert body["summary"]["kwh"] == 1740.0 and body["summary"]["currency"] == "EUR"
    assert body["pdf_url"] == f"/api/v1/reports/{report_id}/pdf"
    assert body["pdf_filename"] == "cei-plant-1-2026-11-16_2026-11-22.pdf"
    listed = inline.client.get("/api/v1/reports", headers=account["headers"]).get_json()
    assert [item["id"] for item in listed] == [report_id]

    pdf = inline.client.get(body["pdf_url"], headers=account["headers"])
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.headers["Content-Disposition"] == (
        'attachment; filename="cei-plant-1-2026-11-16_2026-11-22.pdf"'
    )
    assert len(PdfReader(io.BytesIO(pdf.data)).pages) >= 1
    csv = inline.client.get(body["csv_url"], headers=account["headers"])
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert csv.headers["Content-Disposition"].endswith('2026-11-16_2026-11-22.csv"')
    assert csv.data.decode("utf-8-sig").startswith("section,site_id,site_name,date")


def test_portfolio_report_with_the_default_period(inline_app, inline, fake_analytics):
    account = inline.signup()
    create_site(inline_app, account, "plant-1")
    create_site(inline_app, account, "plant-2", timezone="Europe/Rome")
    response = post(inline, account)
    assert response.status_code == 202
    body = response.get_json()
    assert body["kind"] == "portfolio" and body["site_id"] is None
    assert body["period_end"] == "2026-11-22"  # yesterday in the organization's timezone
    shown = inline.client.get(f"/api/v1/reports/{body['id']}", headers=account["headers"])
    assert shown.get_json()["summary"]["sites"] == 2
    pdf = inline.client.get(f"/api/v1/reports/{body['id']}/pdf", headers=account["headers"])
    assert (
        'filename="cei-portfolio-2026-11-16_2026-11-22.pdf"' in pdf.headers["Content-Disposition"]
    )


def test_bad_requests_get_the_error_envelope(inline_app, inline, fake_analytics):
    account = inline.signup()
    create_site(inline_app, account)
    cases = [
        ({"site_id": "nope"}, 404, "NOT_FOUND"),
        ({"period_end": "2026-11-23"}, 422, "INVALID_PERIOD"),  # today has not ended
        ({"period_end": "yesterday"}, 422, "VALIDATION_ERROR"),
        ({"site_id": ""}, 422, "VALIDATION_ERROR"),
        ({"colour": "blue"}, 422, "VALIDATION_ERROR"),
    ]
    for body, status, code in cases:
        response = post(inline, account, **body)
        assert response.status_code == status, (body, response.get_json())
        assert response.get_json()["code"] == code
    assert inline.client.get("/api/v1/reports", headers=account["headers"]).get_json() == []
    assert inline.client.get("/api/v1/reports/99999", headers=account["headers"]).status_code == 404
    assert inline.client.get("/api/v1/reports").status_code == 401


def test_files_of_a_report_not_generated_yet_are_not_ready(make_app, fake_analytics):
    from tests.conftest import ApiHelper, _empty_tables

    application = make_app(ANALYTICS_BACKGROUND=False)
    with application.app_context():
        _empty_tables()
    api = ApiHelper(application.test_client())
    account = api.signup()
    response = post(api, account)  # no JOBS_INLINE, no background: it stays queued
    assert response.status_code == 202
    assert response.get_json()["status"] == "queued"
    report_id = response.get_json()["id"]
    for kind in ("pdf", "csv"):
        answer = api.client.get(f"/api/v1/reports/{report_id}/{kind}", headers=account["headers"])
        assert answer.status_code == 409
        assert answer.get_json()["code"] == "REPORT_NOT_READY"


def test_a_failed_generation_is_recorded(inline_app, inline, fake_analytics, monkeypatch):
    def broken(site, organization, period):
        raise RuntimeError("baseline exploded")

    monkeypatch.setattr(build, "site_inputs", broken)
    account = inline.signup()
    create_site(inline_app, account)
    report_id = post(inline, account, site_id="plant-1").get_json()["id"]
    body = inline.client.get(f"/api/v1/reports/{report_id}", headers=account["headers"]).get_json()
    assert body["status"] == "failed"
    assert body["error"] == "RuntimeError: baseline exploded"
    assert body["pdf_url"] is None


def test_plan_without_reports_answers_403_everywhere(inline_app, inline, fake_analytics):
    account = inline.signup()
    create_site(inline_app, account)
    report_id = post(inline, account, site_id="plant-1").get_json()["id"]
    with inline_app.app_context():
        db.session.execute(
            update(Organization)
            .where(Organization.id == account["organization"]["id"])
            .values(enable_reports=False)
        )
        db.session.commit()
    headers = account["headers"]
    answers = [
        inline.client.get("/api/v1/reports", headers=headers),
        inline.client.post("/api/v1/reports", json={}, headers=headers),
        inline.client.get(f"/api/v1/reports/{report_id}", headers=headers),
        inline.client.get(f"/api/v1/reports/{report_id}/pdf", headers=headers),
        inline.client.get(f"/api/v1/reports/{report_id}/csv", headers=headers),
    ]
    for answer in answers:
        assert answer.status_code == 403
        assert answer.get_json()["code"] == "PLAN_FEATURE_DISABLED"
    with inline_app.app_context():
        assert db.session.query(Report).count() == 1


def test_another_organizations_report_is_404(inline_app, inline, fake_analytics):
    owner, other = inline.signup(), inline.signup(org="Other Org")
    create_site(inline_app, owner)
    report_id = post(inline, owner, site_id="plant-1").get_json()["id"]
    for path in ("", "/pdf", "/csv"):
        answer = inline.client.get(f"/api/v1/reports/{report_id}{path}", headers=other["headers"])
        assert answer.status_code == 404
        assert answer.get_json()["code"] == "NOT_FOUND"
    assert inline.client.get("/api/v1/reports", headers=other["headers"]).get_json() == []
    # Nor can the other organization ask for a report of the owner's site.
    assert post(inline, other, site_id="plant-1").status_code == 404


def test_read_scoped_integration_tokens_may_read_reports(inline_app, inline, fake_analytics):
    account = inline.signup()
    token = inline.make_token(account, scopes=["read"])
    headers = {"Authorization": f"Bearer {token['token']}"}
    response = inline.client.post("/api/v1/reports", json={}, headers=headers)
    assert response.status_code == 202
    ingest_only = inline.make_token(account, scopes=["ingest"], name="ingest")
    denied = inline.client.get(
        "/api/v1/reports", headers={"Authorization": f"Bearer {ingest_only['token']}"}
    )
    assert denied.status_code == 403 and denied.get_json()["code"] == "INSUFFICIENT_SCOPE"


def test_pending_reports_are_capped(make_app, fake_analytics, monkeypatch):
    from cei.services.reports import jobs
    from tests.conftest import ApiHelper, _empty_tables

    monkeypatch.setattr(jobs, "MAX_PENDING", 2)
    application = make_app(ANALYTICS_BACKGROUND=False)
    with application.app_context():
        _empty_tables()
    api = ApiHelper(application.test_client())
    account = api.signup()
    assert [post(api, account).status_code for _ in range(2)] == [202, 202]
    refused = post(api, account)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "30"
    assert refused.get_json()["code"] == "TOO_MANY_PENDING_REPORTS"
    with application.app_context():
        db.session.execute(update(Report).values(status="succeeded"))
        db.session.commit()
    assert post(api, account).status_code == 202
