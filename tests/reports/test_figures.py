"""A report of a site with known data says what the API says for the same period.

Nine weeks of hourly readings go in through the ingestion API; the site is analysed as of
the end of the period (as the hourly analysis would have done then), and the report of that
period must show the API's 7-day kWh, cost and deviation; its CSV's daily rows must equal the
readings API's daily series; and a site with gaps must say so.
"""

import csv
import io
import math
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from cei.extensions import db
from cei.models import Site
from cei.services.analytics.analyse import analyse_site
from cei.services.reports.periods import period_ending
from tests.conftest import ApiHelper, _empty_tables
from tests.reports.pdftext import first_page_png, pdf_text

LAST_DAY = date(2026, 11, 22)  # a Sunday; the week is an ordinary 168-hour week in Rome
TIMEZONE = "Europe/Rome"
WEEKS = 9


def load(moment):
    """A factory: busy Mon-Fri 07-19 local, a base load, a deterministic wiggle."""
    local = moment.astimezone(ZoneInfo(TIMEZONE))
    working = local.weekday() < 5 and 7 <= local.hour < 19
    wiggle = 1 + 0.05 * math.sin(moment.timestamp() / 7200.0)
    return round((42.0 if working else 11.0) * wiggle, 3)


@pytest.fixture
def world(make_app):
    application = make_app(JOBS_INLINE=True)
    with application.app_context():
        _empty_tables()
    api = ApiHelper(application.test_client())
    account = api.signup()
    token = api.make_token(account, scopes=["ingest", "read"])
    response = api.client.post(
        "/api/v1/sites",
        json={
            "site_id": "plant-1",
            "name": "Plant One",
            "timezone": TIMEZONE,
            "tariff_per_kwh": 0.25,
        },
        headers=account["headers"],
    )
    assert response.status_code == 201, response.get_json()
    return application, api, account, {"Authorization": f"Bearer {token['token']}"}


def ingest(api, headers, missing=(), surplus=1.15):
    """Nine weeks of hours up to the period's end; the period itself ``surplus`` times busier."""
    period = period_ending(LAST_DAY, TIMEZONE)
    end = datetime.fromtimestamp(period.end_ts, UTC)
    records, moment = [], end - timedelta(weeks=WEEKS)
    while moment < end:
        if moment not in missing:
            value = load(moment) * (surplus if moment.timestamp() >= period.start_ts else 1.0)
            records.append(
                {
                    "site_id": "plant-1",
                    "meter_id": "main",
                    "timestamp_utc": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "value": round(value, 3),
                }
            )
        moment += timedelta(hours=1)
    response = api.client.post(
        "/api/v1/timeseries/batch", json={"records": records}, headers=headers
    )
    assert response.status_code == 200 and response.get_json()["failed"] == 0
    return period


def analyse_at_period_end(application, period):
    with application.app_context():
        site_pk = db.session.scalar(select(Site.id).where(Site.site_id == "plant-1"))
        analyse_site(site_pk, "manual", now=datetime.fromtimestamp(period.end_ts + 1200, UTC))
        db.session.commit()


def generate(api, account):
    response = api.client.post(
        "/api/v1/reports",
        json={"site_id": "plant-1", "period_end": LAST_DAY.isoformat()},
        headers=account["headers"],
    )
    assert response.status_code == 202, response.get_json()
    report = api.client.get(
        f"/api/v1/reports/{response.get_json()['id']}", headers=account["headers"]
    ).get_json()
    assert report["status"] == "succeeded", report
    pdf = api.client.get(report["pdf_url"], headers=account["headers"]).data
    csv_text = api.client.get(report["csv_url"], headers=account["headers"]).data
    return report, pdf, csv_text.decode("utf-8-sig")


def signed(value):
    text = f"{abs(value):.1f} %"
    return ("+" if value > 0 else "−") + text


def day_rows(csv_text):
    rows = list(csv.reader(io.StringIO(csv_text)))
    header = rows[0]
    return [dict(zip(header, row, strict=True)) for row in rows[1 : rows.index([])]]


def test_the_report_shows_the_apis_figures_for_the_period(world, tmp_path, artifacts):
    application, api, account, token = world
    period = ingest(api, token)
    analyse_at_period_end(application, period)
    kpis = api.client.get("/api/v1/sites/plant-1/kpis", headers=account["headers"]).get_json()
    assert kpis["last_7d_kwh"] > 0 and kpis["deviation_pct_7d"] is not None, kpis
    report, pdf, csv_text = generate(api, account)
    text = pdf_text(pdf, tmp_path)
    first_page_png(pdf, artifacts, "site-report-known-data-page-1")
    assert f"{kpis['last_7d_kwh']:,.1f}" in text
    assert f"€{kpis['last_7d_cost']:,.2f}" in text
    assert signed(kpis["deviation_pct_7d"]) in text
    assert f"{kpis['baseline_7d_kwh']:,.1f}" in text
    assert report["summary"]["kwh"] == kpis["last_7d_kwh"]
    assert report["summary"]["deviation_pct"] == kpis["deviation_pct_7d"]
    # The daily rows equal the readings API's daily series of the same days.
    series = api.client.get(
        "/api/v1/timeseries/series",
        query_string={
            "site_id": "plant-1",
            "resolution": "day",
            "start": datetime.fromtimestamp(period.start_ts, UTC).isoformat(),
            "end": datetime.fromtimestamp(period.end_ts, UTC).isoformat(),
        },
        headers=account["headers"],
    ).get_json()
    rows = day_rows(csv_text)
    assert [row["date"] for row in rows] == [point["ts"][:10] for point in series["points"]]
    assert [float(row["kwh"]) for row in rows] == [
        pytest.approx(point["value"], abs=0.0005) for point in series["points"]
    ]
    assert [float(row["cost"]) for row in rows] == [
        pytest.approx(round(point["value"] * 0.25, 2), abs=0.011) for point in series["points"]
    ]
    assert sum(float(row["kwh"]) for row in rows) == pytest.approx(kpis["last_7d_kwh"], abs=0.01)


def test_a_site_with_gaps_says_so(world, tmp_path):
    application, api, account, token = world
    period = period_ending(LAST_DAY, TIMEZONE)
    tuesday = datetime.fromtimestamp(period.start_ts, UTC) + timedelta(days=1, hours=9)
    missing = {tuesday + timedelta(hours=h) for h in range(5)}
    ingest(api, token, missing=missing)
    analyse_at_period_end(application, period)
    _, pdf, csv_text = generate(api, account)
    text = " ".join(pdf_text(pdf, tmp_path, layout=False).split())
    assert "Data gaps: 5 of 168 hours of this period have no data" in text
    assert "Tue 17 Nov 09:00 – Tue 17 Nov 14:00 (5 h)" in text  # 08:00 UTC is 09:00 in Rome
    tuesday_row = day_rows(csv_text)[1]
    assert (tuesday_row["date"], tuesday_row["hours_with_data"]) == ("2026-11-17", "19")
