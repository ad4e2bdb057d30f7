"""Fixtures of the sites tests (shared with the readings tests)."""

from tests.sites import factories

account = factories.account
make_site = factories.make_site
add_readings = factories.add_readings
count_readings = factories.count_readings
