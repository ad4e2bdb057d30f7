"""Fixtures of the rollup tests: a plant organization that ingests through the API, and the
rollups recomputed in plain Python from the stored readings, to compare with the tables."""

from collections import defaultdict
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from cei.extensions import db
from cei.models import Meter, Site, meter_hours, readings, site_hours
from tests.conftest import bearer

HOUR = 3600


def iso(ts):
    """Epoch seconds as ISO 8601 UTC with Z."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def mwh(kwh):
    """A reading in whole milliwatt-hours (the documented rounding)."""
    return int(kwh * 1_000_000 + 0.5)


def wh_kwh(total_mwh):
    """A sum of milliwatt-hours as kWh rounded to the Wh."""
    return ((total_mwh + 500) // 1000) / 1000


def local_hour(ts, zone):
    """The UTC epoch second at which the site-local hour holding ``ts`` starts (zoneinfo)."""
    local = datetime.fromtimestamp(ts, zone)
    return int(local.replace(minute=0, second=0, microsecond=0).timestamp())


class Plant:
    """An organization with an admin and an ingest token, driven through the HTTP API."""

    def __init__(self, app, client, api):
        self.app, self.client = app, client
        self.account = api.signup(org="Rollup Plant")
        self.admin = self.account["headers"]
        self.ingest_headers = bearer(api.make_token(self.account, scopes=["ingest"])["token"])

    def call(self, method, url, expect=200, **kwargs):
        """Call the API as the admin; assert the status; return the JSON (or None)."""
        response = self.client.open(url, method=method, headers=self.admin, **kwargs)
        assert response.status_code == expect, response.get_data(as_text=True)
        return response.get_json() if response.data else None

    def site(self, site_id, timezone):
        """Create a site in ``timezone``."""
        return self.call(
            "POST", "/api/v1/sites", 201, json={"site_id": site_id, "timezone": timezone}
        )

    def send(self, records, on_conflict="reject"):
        """Send a batch; assert nothing failed; return the result."""
        response = self.client.post(
            "/api/v1/timeseries/batch",
            json={"records": records, "on_conflict": on_conflict},
            headers=self.ingest_headers,
        )
        body = response.get_json()
        assert response.status_code == 200, body
        assert body["failed"] == 0, body["errors"][:3]
        return body

    def read(self, endpoint, **params):
        """GET a read endpoint as the admin; assert 200; return the JSON."""
        return self.call("GET", f"/api/v1/timeseries/{endpoint}", query_string=params)

    def stored_rollups(self):
        """Return ``({(meter_pk, ts): (mWh, n)}, {(site_pk, ts): (mWh, n)})`` as stored."""
        with self.app.app_context():
            meters = {
                (pk, ts): (energy, count)
                for pk, ts, energy, count in db.session.execute(select(meter_hours)).all()
            }
            sites = {
                (pk, ts): (energy, count)
                for pk, ts, energy, count in db.session.execute(select(site_hours)).all()
            }
        return meters, sites

    def expected_rollups(self):
        """Recompute both tables from the readings, with zoneinfo local hours."""
        from zoneinfo import ZoneInfo

        with self.app.app_context():
            zones = {
                pk: ZoneInfo(tz) for pk, tz in db.session.execute(select(Site.id, Site.timezone))
            }
            meters = db.session.execute(
                select(Meter.id, Meter.site_pk, Meter.is_main, Meter.interval_minutes)
            ).all()
            rows = db.session.execute(select(readings)).all()
        by_meter = defaultdict(list)
        for pk, ts, value in rows:
            by_meter[pk].append((ts, value))
        site_meters = defaultdict(list)
        for meter in meters:
            site_meters[meter.site_pk].append(meter)
        meter_rows, site_rows = defaultdict(lambda: [0, 0]), defaultdict(lambda: [0, 0])
        for site_pk, members in site_meters.items():
            zone = zones[site_pk]
            mains = [meter for meter in members if meter.is_main]
            totals = {meter.id for meter in (mains or members)}
            for meter in members:
                for ts, value in by_meter[meter.id]:
                    hour = local_hour(ts, zone)
                    if meter.interval_minutes < 60 and totals == {meter.id}:
                        row = meter_rows[meter.id, hour]
                        row[0] += mwh(value)
                        row[1] += 1
                    if len(totals) > 1 and meter.id in totals:
                        row = site_rows[site_pk, hour]
                        row[0] += mwh(value)
                        row[1] += 1
        return (
            {key: tuple(row) for key, row in meter_rows.items()},
            {key: tuple(row) for key, row in site_rows.items()},
        )

    def check(self):
        """Assert the stored rollups are exactly the ones recomputed from the readings."""
        stored_meters, stored_sites = self.stored_rollups()
        expected_meters, expected_sites = self.expected_rollups()
        assert stored_meters == expected_meters
        assert stored_sites == expected_sites
        return stored_meters, stored_sites

    def raw_total(self, site_id, start, end, meter_id=None):
        """``{local hour start: mWh}`` of a site total (or one meter) from its readings."""
        from zoneinfo import ZoneInfo

        with self.app.app_context():
            site = db.session.scalar(select(Site).where(Site.site_id == site_id))
            members = db.session.scalars(select(Meter).where(Meter.site_pk == site.id)).all()
            if meter_id is not None:
                chosen = [meter for meter in members if meter.meter_id == meter_id]
            else:
                chosen = [meter for meter in members if meter.is_main] or list(members)
            rows = db.session.execute(
                select(readings.c.ts, readings.c.value).where(
                    readings.c.meter_pk.in_([meter.id for meter in chosen]),
                    readings.c.ts >= start,
                    readings.c.ts < end,
                )
            ).all()
            zone = ZoneInfo(site.timezone)
        sums = defaultdict(int)
        for ts, value in rows:
            sums[local_hour(ts, zone)] += mwh(value)
        return dict(sums), zone


@pytest.fixture
def plant(app, client, api):
    """An organization driven through the API (admin + ingest token)."""
    return Plant(app, client, api)


@pytest.fixture
def runner(app):
    """A CLI runner bound to the test app."""
    return app.test_cli_runner()
