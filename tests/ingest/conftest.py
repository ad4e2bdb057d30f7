"""Fixtures for ingestion tests: an account with an ingest token, and stored-row queries."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from cei.extensions import db
from cei.models import Meter, Site, ingest_keys, readings
from tests.conftest import bearer

BATCH_URL = "/api/v1/timeseries/batch"
UPLOAD_URL = "/api/v1/timeseries/upload"


def hour_start(hours_ago=0):
    """Return the start of the UTC hour ``hours_ago`` hours before the current one."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return now - timedelta(hours=hours_ago)


def iso(moment):
    """Format an aware datetime as ISO 8601 with ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def hourly(count, site_id="site-22", meter_id="main", start_hours_ago=None, value=10.0, **extra):
    """Return ``count`` hourly kWh records ending with the current hour."""
    start = count - 1 if start_hours_ago is None else start_hours_ago
    return [
        {
            "site_id": site_id,
            "meter_id": meter_id,
            "timestamp_utc": iso(hour_start(start - i)),
            "value": value + i,
            **extra,
        }
        for i in range(count)
    ]


class Ingest:
    """An organization with an ingest token; sends batches and reads back stored rows."""

    def __init__(self, app, client, api, org="Acme Plant"):
        self.app = app
        self.client = client
        self.account = api.signup(org=org)
        self.token = api.make_token(self.account, scopes=["ingest"])["token"]
        self.headers = bearer(self.token)
        self.organization_id = self.account["user"]["organization_id"]

    def send(self, records, expect=200, **body):
        """POST a batch; assert the status; return the JSON body."""
        response = self.client.post(
            BATCH_URL, json={"records": records, **body}, headers=self.headers
        )
        assert response.status_code == expect, response.get_json()
        return response.get_json()

    def upload(self, text, expect=200, filename="readings.csv", **form):
        """POST a CSV upload (``text`` as str or bytes); assert the status; return the JSON."""
        import io

        data = text.encode() if isinstance(text, str) else text
        response = self.client.post(
            UPLOAD_URL,
            data={"file": (io.BytesIO(data), filename), **form},
            headers=self.headers,
            content_type="multipart/form-data",
        )
        assert response.status_code == expect, response.get_json()
        return response.get_json()

    def stored(self, site_id=None, meter_id=None):
        """Return ``{(site_id, meter_id, ts): value}`` of this organization's readings."""
        query = (
            select(Site.site_id, Meter.meter_id, readings.c.ts, readings.c.value)
            .join(Meter, Meter.id == readings.c.meter_pk)
            .join(Site, Site.id == Meter.site_pk)
            .where(Site.organization_id == self.organization_id)
        )
        if site_id is not None:
            query = query.where(Site.site_id == site_id)
        if meter_id is not None:
            query = query.where(Meter.meter_id == meter_id)
        with self.app.app_context():
            rows = db.session.execute(query).all()
            db.session.rollback()
        return {(site, meter, ts): value for site, meter, ts, value in rows}

    def keys(self):
        """Return ``{key: (meter_pk, ts, value)}`` of this organization's idempotency keys."""
        with self.app.app_context():
            rows = db.session.execute(
                select(
                    ingest_keys.c.key, ingest_keys.c.meter_pk, ingest_keys.c.ts, ingest_keys.c.value
                ).where(ingest_keys.c.organization_id == self.organization_id)
            ).all()
            db.session.rollback()
        return {key: (meter_pk, ts, value) for key, meter_pk, ts, value in rows}


@pytest.fixture
def ingest(app, client, api):
    """An :class:`Ingest` helper for a fresh organization."""
    return Ingest(app, client, api)


def epoch(moment):
    """Return epoch seconds of an aware datetime."""
    return int(moment.timestamp())


@pytest.fixture
def shortcuts(app):
    """Whether the app takes ingestion's shortcuts (``CEI_INGEST_SHORTCUTS``; CI runs both)."""
    return app.config["INGEST_SHORTCUTS"]
