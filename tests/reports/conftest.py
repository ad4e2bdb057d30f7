"""Fixtures of the report tests: an app context, and where test artifacts go."""

import os
from pathlib import Path

import pytest

from tests.sites import factories

account = factories.account
make_site = factories.make_site
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
