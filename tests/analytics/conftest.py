"""Fixtures of the analytics tests: a frozen clock, fake plugins, a factory with known data."""

from datetime import UTC, datetime
from importlib.metadata import EntryPoint

import pytest
from sqlalchemy import insert, select

from cei.extensions import db
from cei.models import Site, readings
from cei.plugins.registry import load_registry
from cei.services.analytics.analyse import analyse_site
from cei.services.analytics.inputs import EXTENSION_KEY
from tests.analytics import fakes
from tests.sites import factories

account = factories.account
make_site = factories.make_site
add_readings = factories.add_readings

HOUR = 3600
# A Monday, 10:20 UTC: the last hour that has ended is 09:00-10:00.
NOW = datetime(2026, 11, 23, 10, 20, tzinfo=UTC)
END = int(NOW.timestamp()) // HOUR * HOUR  # start of the current (open) UTC hour
WEEKS = 9


def use_plugins(app, plugins):
    """Make ``plugins`` the app's registry (in place of the installed entry points).

    The registry is loaded as at start-up, from entry points naming the plugins' classes.
    """
    points = [
        EntryPoint(
            name=plugin.name,
            value=f"{type(plugin).__module__}:{type(plugin).__name__}",
            group=EXTENSION_KEY,
        )
        for plugin in plugins
    ]
    app.extensions[EXTENSION_KEY] = load_registry(entry_points=points)


@pytest.fixture
def plugins(app):
    """Register the standard fake plugins; return the setter for other sets."""
    use_plugins(app, fakes.STANDARD)
    return lambda chosen: use_plugins(app, chosen)


def hourly(value=10.0, hours=WEEKS * 7 * 24, end=END, skip=(), spikes=None):
    """``[(ts, kWh)]`` for the ``hours`` before ``end``; ``skip`` hours out, ``spikes`` set."""
    spikes = spikes or {}
    return [
        (ts, spikes.get(ts, value)) for ts in range(end - hours * HOUR, end, HOUR) if ts not in skip
    ]


@pytest.fixture
def site_pk_of(app, account):
    """Return ``lookup(site_id, owner=account)``: the site's primary key."""

    def lookup(site_id, owner=None):
        owner = owner or account
        with app.app_context():
            return db.session.scalar(
                select(Site.id).where(
                    Site.organization_id == owner["organization"]["id"], Site.site_id == site_id
                )
            )

    return lookup


@pytest.fixture
def factory(make_site, add_readings, site_pk_of, plugins):
    """A UTC site with one main meter and nine weeks of 10 kWh/h; returns ``(ref, site_pk)``."""
    ref = make_site("plant-1", meters=[("main", True, 60)])
    add_readings(ref.meters["main"], hourly())
    return ref, site_pk_of("plant-1")


@pytest.fixture
def frozen_clock(monkeypatch):
    """Analyses that do not say when (jobs) run at ``NOW``."""
    from cei.services.analytics import analyse as analyse_module

    monkeypatch.setattr(analyse_module, "utcnow", lambda: NOW)
    return NOW


@pytest.fixture
def analyse(app):
    """Return ``analyse(site_pk, now=NOW)``: run the analysis and commit, like a job does."""

    def run(site_pk, now=NOW):
        with app.app_context():
            run_row = analyse_site(site_pk, "manual", now=now)
            run_row.status = "succeeded"
            db.session.commit()
            return run_row.id

    return run


@pytest.fixture
def write_readings(app):
    """Return ``write(meter_pk, points, site_pks)``: readings plus due marks, one transaction."""
    from cei.services.analytics import mark_sites_due

    def write(meter_pk, points, site_pks):
        with app.app_context():
            db.session.execute(
                insert(readings), [{"meter_pk": meter_pk, "ts": ts, "value": v} for ts, v in points]
            )
            mark_sites_due(db.session, site_pks)
            db.session.commit()

    return write
