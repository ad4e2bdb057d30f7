"""The Reports page: generate a site or portfolio report, see its status, download it."""

import pytest
from sqlalchemy import update

from cei.extensions import db
from cei.models import Organization
from tests.conftest import ApiHelper, _empty_tables
from tests.reports.conftest import create_site

PASSWORD = "correct horse battery"


@pytest.fixture
def web(make_app, fake_analytics):
    """An app generating reports inline, a signed-in browser session and its organization."""
    app = make_app(JOBS_INLINE=True)
    with app.app_context():
        _empty_tables()
    client = app.test_client()
    account = ApiHelper(client).signup(email="manager@example.com", password=PASSWORD)
    create_site(app, account, "plant-1", name="Plant <One>")
    response = client.post("/login", data={"email": "manager@example.com", "password": PASSWORD})
    assert response.status_code == 302
    return app, client, account


def test_generate_and_download_from_the_reports_page(web):
    app, client, _ = web
    page = client.get("/reports").text
    assert "Generate report" in page and "Whole portfolio" in page
    assert "Plant &lt;One&gt; (plant-1)" in page
    for site_id in ("plant-1", ""):
        response = client.post(
            "/reports/generate", data={"site_id": site_id, "period_end": "2026-11-22"}
        )
        assert response.status_code == 302
    page = client.get("/reports").text
    assert page.count('data-status="succeeded"') == 2
    assert page.count('<span class="badge badge-ok">Ready</span>') == 2
    # Named as people know them: the site's (escaped) name, or the whole portfolio.
    assert "Plant &lt;One&gt; <span" in page and "Whole portfolio</th>" in page
    assert "Made (UTC)" in page
    assert 'http-equiv="refresh"' not in page  # nothing pending
    for name in ("cei-plant-1-2026-11-16_2026-11-22", "cei-portfolio-2026-11-16_2026-11-22"):
        assert f'download="{name}.pdf"' in page and f'download="{name}.csv"' in page
    pdf = client.get("/reports/1/pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF")
    assert 'filename="cei-plant-1-2026-11-16_2026-11-22.pdf"' in pdf.headers["Content-Disposition"]
    csv = client.get("/reports/2/csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"


def test_bad_requests_and_other_organizations(web, make_app):
    app, client, account = web
    response = client.post("/reports/generate", data={"site_id": "nope"}, follow_redirects=True)
    assert "Not a valid choice" in response.text
    response = client.post(
        "/reports/generate", data={"site_id": "", "period_end": "2999-01-01"}, follow_redirects=True
    )
    assert "period_end must be a day that has ended" in response.text
    client.post("/reports/generate", data={"site_id": ""})
    other = app.test_client()
    ApiHelper(other).signup(email="other@example.com", password=PASSWORD, org="Other")
    other.post("/login", data={"email": "other@example.com", "password": PASSWORD})
    assert other.get("/reports/1/pdf").status_code == 404
    assert 'data-report-id="1"' not in other.get("/reports").text
    with app.app_context():
        db.session.execute(
            update(Organization)
            .where(Organization.id == account["organization"]["id"])
            .values(enable_reports=False)
        )
        db.session.commit()
    assert client.get("/reports/1/pdf").status_code == 403
    assert client.post("/reports/generate", data={"site_id": ""}).status_code == 403
