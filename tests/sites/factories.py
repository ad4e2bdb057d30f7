"""Fixtures shared by the sites and readings tests: accounts, sites with meters, readings.

Readings go straight into the ``readings`` table (and the rollups, as ingestion does), so
these tests do not depend on the ingestion endpoint.
"""

from dataclasses import dataclass, field

import pytest
from sqlalchemy import func, insert, select

from cei.extensions import db
from cei.models import Meter, Organization, readings
from cei.services import rollups, sites


@dataclass
class SiteRef:
    """A site made for a test: its external id and ``{meter_id: meter primary key}``."""

    site_id: str
    meters: dict = field(default_factory=dict)


@pytest.fixture
def account(api):
    """A signed-up admin (sign-up JSON with ready-made ``headers``)."""
    return api.signup()


@pytest.fixture
def make_site(app, account):
    """Return ``factory(site_id, timezone, meters=[(meter_id, is_main, interval_minutes)])``."""

    def factory(site_id="plant-1", timezone="UTC", meters=(("main", False, 60),), owner=None):
        owner = owner or account
        with app.app_context():
            organization = db.session.get(Organization, owner["organization"]["id"])
            site = sites.create_site(organization, site_id, timezone=timezone)
            ref = SiteRef(site.site_id)
            for meter_id, is_main, interval in meters:
                # Rows made the way ingestion makes them, so any id ingestion accepts works.
                meter = Meter(
                    site_pk=site.id,
                    organization_id=organization.id,
                    meter_id=meter_id,
                    name=meter_id,
                    is_main=is_main,
                    interval_minutes=interval,
                )
                db.session.add(meter)
                db.session.flush()
                ref.meters[meter_id] = meter.id
            db.session.commit()
        return ref

    return factory


@pytest.fixture
def add_readings(app):
    """Return ``insert(meter_pk, [(ts, kWh), ...])`` writing rows into ``readings``."""

    def insert_rows(meter_pk, points):
        rows = [{"meter_pk": meter_pk, "ts": ts, "value": value} for ts, value in points]
        if not rows:
            return
        with app.app_context():
            db.session.execute(insert(readings), rows)
            changed = [(meter_pk, ts, value, None) for ts, value in points]
            rollups.apply_changed_readings(db.session.connection(), changed)
            db.session.commit()

    return insert_rows


@pytest.fixture
def count_readings(app):
    """Return ``count(meter_pks)``: how many readings those meters have."""

    def count(meter_pks):
        with app.app_context():
            return db.session.scalar(
                select(func.count()).select_from(readings).where(readings.c.meter_pk.in_(meter_pks))
            )

    return count
