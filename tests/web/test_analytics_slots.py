"""The analytics slots of the read model, filled as the analytics engine will fill them: every
page shows the figures, and the site view's chart draws baseline and forecast band."""

import pytest

from cei.services import dashboard
from cei.services.dashboard import PortfolioAnalytics, SiteAnalytics
from cei.services.windows import HOUR
from tests.web.conftest import hour_start
from tests.web.test_pages import hourly, send, web_login


def filled(site, now=None):
    """Analytics for a site as the engine would give them (a baseline 10 % under actual)."""
    start = int(hour_start(0).timestamp()) + HOUR
    forecast = [50.0 + i for i in range(24)]
    return SiteAnalytics(
        baseline_24h_kwh=1234.5,
        baseline_7d_kwh=8000.0,
        deviation_24h_pct=12.5,
        deviation_7d_pct=-3.0,
        baseline_24h=[45.0] * 24,
        baseline_7d=[45.0] * 168,
        forecast_24h={
            "ts": [start + i * HOUR for i in range(24)],
            "value": forecast,
            "lower": [v - 5 for v in forecast],
            "upper": [v + 5 for v in forecast],
        },
        baseline_method="time-of-week",
        fit_quality={"cv_rmse": 8.2, "nmbe": -0.4},
        warming_up=True,
        history_days=9,
        open_alerts=2,
        alerts=[
            {
                "kind": "night_waste",
                "severity": "critical",
                "message": "Night consumption 40 % above base load",
                "kwh_impact": 310.0,
                "cost_impact": 74.4,
                "currency": "EUR",
            }
        ],
        opportunities=[
            {
                "title": "Switch off compressors at night",
                "method": "Weekday nights",
                "kwh_per_year": 52_000.0,
                "cost_per_year": 12_480.0,
            }
        ],
        kgco2e_24h=420.0,
        kgco2e_7d=2900.0,
    )


@pytest.fixture
def analytics(monkeypatch):
    """Fill the slots for every site and the portfolio."""
    monkeypatch.setattr(dashboard, "load_site_analytics", filled)
    monkeypatch.setattr(
        dashboard,
        "load_sites_analytics",
        lambda organization, sites, now=None: {site.id: filled(site) for site in sites},
    )
    monkeypatch.setattr(
        dashboard,
        "load_portfolio_analytics",
        lambda organization, rows, now=None: PortfolioAnalytics(
            open_alerts=2, kgco2e_7d=2900.0, kgco2e_24h=420.0, opportunities_cost_per_year=12480.0
        ),
    )


def test_filled_slots_show_on_every_page(app, client, api, analytics):
    account = web_login(client, api)
    send(app, account, hourly("plant-1", "main", 30, value=50))
    site = client.get("/sites/plant-1").text
    for text in (
        "1,234 kWh",
        "+12.5 %",
        "time-of-week",
        "CV(RMSE) 8.2 %",
        "warming up",
        "9 days of history",
        "Night consumption 40 % above base load",
        "€74.40",
        "Switch off compressors at night",
        "52.00 MWh",
        "€12,480",
        "420 kgCO₂e",
    ):
        assert text in site, text
    assert 'data-value="1234.5"' in site
    dashboard_page = client.get("/").text
    assert "2,900 kgCO₂e" in dashboard_page and "change-up" in dashboard_page
    assert "€12,480" in dashboard_page
    reports = client.get("/reports").text
    assert "8,000 kWh" in reports and "-3.0 %" in reports


def test_the_chart_draws_baseline_and_forecast_band(web_app, live_url, page, shoot, analytics):
    from tests.web.conftest import sign_up_in_browser

    sign_up_in_browser(page, live_url, "slots@example.com", "Slots Works")
    from cei.extensions import db
    from cei.models import User
    from cei.services import ingest

    with web_app.app_context():
        organization = (
            db.session.query(User).filter_by(email="slots@example.com").one().organization
        )
        ingest.ingest_batch(organization, hourly("plant-1", "main", 24, value=50))
        db.session.commit()
    page.goto(live_url + "/sites/plant-1")
    chart = page.wait_for_selector('#chart-24h[data-rendered="true"]')
    assert chart.get_attribute("data-points") == "24"
    legend = page.inner_text("#chart-24h")
    assert "Baseline" in legend and "Forecast" in legend
    shoot(page, "site-view-with-analytics")
    page.problems.check()
