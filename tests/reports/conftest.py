"""Fixtures of the report tests: an app context, and where test artifacts go."""

import os
from datetime import date
from pathlib import Path

import pytest

from cei.extensions import db
from cei.models import Organization
from cei.services.reports import build, periods
from cei.services.reports.content import SiteInputs
from tests.reports import samples
from tests.sites import factories

account = factories.account
add_readings = factories.add_readings

ARTIFACTS = Path(os.environ.get("CEI_TEST_ARTIFACTS", "test-artifacts"))


@pytest.fixture
def app_context(app):
    """Run the test inside the app's context."""
    with app.app_context():
        yield app


@pytest.fixture
def artifacts():
    """The folder for test artifacts: ``CEI_TEST_ARTIFACTS``, default ./test-artifacts."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def fake_analytics(monkeypatch):
    """Analytics inputs from the sample load (10 % above baseline), whatever the site."""

    def site_inputs(site, organization, period):
        actual, expected = samples.hourly(
            period, period.timezone, samples.working_load, expected=lambda t: 18.0
        )
        quality = {"state": "ready", "method": "Sample baseline.", "cv_rmse_pct": 9.0}
        return SiteInputs(actual, expected, quality, [samples.OPPORTUNITY]), samples.Factors()

    monkeypatch.setattr(build, "site_inputs", site_inputs)
    monkeypatch.setattr(periods, "local_today", lambda timezone, now=None: date(2026, 11, 23))


def create_site(app, account, site_id="plant-1", name="Plant One", timezone="UTC"):
    from cei.services import sites

    with app.app_context():
        organization = db.session.get(Organization, account["organization"]["id"])
        sites.create_site(organization, site_id, name=name, timezone=timezone)
        db.session.commit()
