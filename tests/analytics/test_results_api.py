"""A site's KPIs, baseline, forecast, opportunities; the portfolio; settings and overrides."""

import pytest

from tests.analytics import fakes
from tests.analytics.conftest import END, HOUR, hourly


@pytest.fixture
def analysed(factory, analyse):
    """plant-1 analysed at NOW."""
    ref, site_pk = factory
    analyse(site_pk)
    return ref


def get(client, headers, path, **query):
    response = client.get(path, headers=headers, query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_kpis(client, account, analysed):
    body = get(client, account["headers"], "/api/v1/sites/plant-1/kpis")
    assert body["state"] == "analysed" and body["site_id"] == "plant-1"
    assert body["last_24h_kwh"] == 240.0
    assert body["baseline_24h_kwh"] == 24 * fakes.LEVEL
    assert body["deviation_pct_24h"] == 25.0
    assert body["last_7d_cost"] == pytest.approx(1680 * 0.2)
    assert body["last_7d_co2e_kg"] == pytest.approx(1680 * 0.21)
    assert body["factors"]["emission_factor_source"] == "organization"
    assert body["baseline_quality"]["ashrae14_pass"] is True
    # Every kWh figure has its cost and carbon beside it.
    for name in [key for key in body if key.endswith("_kwh") and not key.endswith("per_kwh")]:
        stem = name[: -len("_kwh")]
        assert f"{stem}_cost" in body and f"{stem}_co2e_kg" in body, name


def test_pending_before_the_first_analysis(client, account, make_site):
    make_site("fresh")
    body = get(client, account["headers"], "/api/v1/sites/fresh/kpis")
    assert body["state"] == "pending" and body.get("last_24h_kwh") is None
    assert get(client, account["headers"], "/api/v1/sites/fresh/forecast")["points"] == []


def test_baseline_window(client, account, analysed, monkeypatch):
    from datetime import UTC, datetime

    from cei.services import windows

    monkeypatch.setattr(windows, "utcnow", lambda: datetime.fromtimestamp(END + 1200, UTC))
    body = get(client, account["headers"], "/api/v1/sites/plant-1/baseline", window_hours=24)
    # The window ends with the open hour, which has no point yet: 23 ended hours.
    assert [point["ts"] for point in body["points"]] == list(range(END - 23 * HOUR, END, HOUR))
    assert body["points"][-1] == {"ts": END - HOUR, "actual_kwh": 10.0, "expected_kwh": 8.0}
    start = datetime.fromtimestamp(END - 48 * HOUR, UTC).isoformat()
    end = datetime.fromtimestamp(END - 46 * HOUR, UTC).isoformat()
    ranged = get(client, account["headers"], "/api/v1/sites/plant-1/baseline", start=start, end=end)
    assert [point["ts"] for point in ranged["points"]] == [END - 48 * HOUR, END - 47 * HOUR]
    default = get(client, account["headers"], "/api/v1/sites/plant-1/baseline")
    assert len(default["points"]) == 167
    too_long = client.get(
        "/api/v1/sites/plant-1/baseline?window_hours=5000", headers=account["headers"]
    )
    assert too_long.status_code == 422


def test_forecast_and_opportunities(client, account, analysed):
    week = get(client, account["headers"], "/api/v1/sites/plant-1/forecast")
    assert week["method"] == "flat-test-profile" and len(week["points"]) == 168
    assert week["points"][0] == {
        "ts": END,
        "expected_kwh": 8.0,
        "lower_kwh": 7.0,
        "upper_kwh": 9.0,
    }
    day = get(client, account["headers"], "/api/v1/sites/plant-1/forecast", horizon_hours=24)
    assert len(day["points"]) == 24
    body = get(client, account["headers"], "/api/v1/sites/plant-1/opportunities")
    (item,) = body["opportunities"]
    assert item["per_week_kwh"] == 70.0 and item["per_week_cost"] == 14.0
    assert item["per_year_co2e_kg"] == pytest.approx(3640 * 0.21)
    assert item["method"] and item["title"]


def test_portfolio(client, account, analysed, make_site):
    make_site("fresh")
    body = get(client, account["headers"], "/api/v1/portfolio")
    assert [site["site_id"] for site in body["sites"]] == ["fresh", "plant-1"]
    plant = body["sites"][1]
    assert plant["last_24h_kwh"] == 240.0 and plant["last_24h_co2e_kg"] == pytest.approx(50.4)
    assert plant["deviation_pct_7d"] == 25.0 and plant["coverage_24h_pct"] == 100.0
    assert plant["open_alerts"] == 0
    assert body["sites"][0]["state"] == "pending"
    assert body["totals"]["last_7d_kwh"] == 1680.0
    assert body["totals"]["deviation_pct_24h"] == 25.0


def test_read_token_and_tenancy(client, api, account, analysed):
    reader = api.make_token(account, scopes=["read"])
    headers = {"Authorization": f"Bearer {reader['token']}"}
    for path in ("kpis", "baseline", "forecast", "opportunities"):
        assert client.get(f"/api/v1/sites/plant-1/{path}", headers=headers).status_code == 200
    assert client.get("/api/v1/portfolio", headers=headers).status_code == 200
    other = api.signup(email="other@example.com", org="Other Works")
    for path in ("kpis", "baseline", "forecast", "opportunities"):
        response = client.get(f"/api/v1/sites/plant-1/{path}", headers=other["headers"])
        assert response.status_code == 404, path
    assert get(client, other["headers"], "/api/v1/portfolio")["sites"] == []


def test_settings_read_by_all_changed_by_admins(client, api, account):
    headers = account["headers"]
    body = get(client, headers, "/api/v1/organization/settings")
    assert body["emission_factor_kg_per_kwh"] == 0.21
    assert "European Environment Agency" in body["emission_factor_default_source"]
    assert (body["deviation_warning_pct"], body["deviation_critical_pct"]) == (10.0, 30.0)
    changed = client.patch(
        "/api/v1/organization/settings",
        json={"currency": "chf", "emission_factor_kg_per_kwh": 0.03, "deviation_warning_pct": 5},
        headers=headers,
    )
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["currency"] == "CHF"
    assert changed.get_json()["emission_factor_kg_per_kwh"] == 0.03
    for bad in (
        {"currency": "euro"},
        {"emission_factor_kg_per_kwh": 250},
        {"deviation_warning_pct": 40},
        {"tariff_per_kwh": -1},
        {"nope": 1},
    ):
        response = client.patch("/api/v1/organization/settings", json=bad, headers=headers)
        assert response.status_code == 422, bad
        assert response.get_json()["code"] == "VALIDATION_ERROR"
    reader = api.make_token(account, scopes=["read"])
    token_headers = {"Authorization": f"Bearer {reader['token']}"}
    assert get(client, token_headers, "/api/v1/organization/settings")["currency"] == "CHF"
    response = client.patch(
        "/api/v1/organization/settings", json={"currency": "USD"}, headers=token_headers
    )
    assert response.status_code == 403


def test_site_overrides_through_the_sites_api(client, account, factory, analyse):
    ref, site_pk = factory
    response = client.patch(
        "/api/v1/sites/plant-1",
        json={"tariff_per_kwh": 0.5, "emission_factor_kg_per_kwh": 0.1},
        headers=account["headers"],
    )
    assert response.status_code == 200, response.get_json()
    site = response.get_json()
    assert site["emission_factor_kg_per_kwh"] == 0.1
    assert site["effective_emission_factor_kg_per_kwh"] == 0.1
    analyse(site_pk)
    kpis = get(client, account["headers"], "/api/v1/sites/plant-1/kpis")
    assert kpis["last_24h_cost"] == 120.0 and kpis["last_24h_co2e_kg"] == 24.0
    assert kpis["factors"]["emission_factor_source"] == "site"
    bad = client.patch(
        "/api/v1/sites/plant-1", json={"emission_factor_kg_per_kwh": 5}, headers=account["headers"]
    )
    assert bad.status_code == 422
    cleared = client.patch(
        "/api/v1/sites/plant-1",
        json={"emission_factor_kg_per_kwh": None},
        headers=account["headers"],
    ).get_json()
    assert cleared["effective_emission_factor_kg_per_kwh"] == 0.21


def test_deleting_a_site_deletes_its_analytics(
    app, client, account, make_site, add_readings, site_pk_of, plugins, analyse
):
    from sqlalchemy import func, select

    from cei.extensions import db
    from cei.models import Alert, AnalysisRun, DueAnalysis, SiteAnalysis
    from cei.services.analytics import mark_sites_due

    ref = make_site("plant-1", meters=[("main", True, 60)])
    add_readings(ref.meters["main"], hourly(spikes={END - 30 * HOUR: 50.0}))
    site_pk = site_pk_of("plant-1")
    analyse(site_pk)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Alert)) == 1
    with app.app_context():
        mark_sites_due(db.session, [site_pk])
        db.session.commit()
    response = client.delete("/api/v1/sites/plant-1", headers=account["headers"])
    assert response.status_code == 204
    with app.app_context():
        for model in (Alert, AnalysisRun, DueAnalysis, SiteAnalysis):
            assert db.session.scalar(select(func.count()).select_from(model)) == 0, model
