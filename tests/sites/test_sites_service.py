"""cei.services.sites: the is_main rule, tariffs and the field rules, without HTTP."""

import pytest

from cei.extensions import db
from cei.models import Organization
from cei.services import sites
from cei.services.errors import Conflict, NotFound


@pytest.fixture
def organization(app, account):
    with app.app_context():
        yield db.session.get(Organization, account["organization"]["id"])


@pytest.mark.parametrize(
    "mains, expected",
    [
        ((), ["a", "b", "c"]),
        (("b",), ["b"]),
        (("a", "c"), ["a", "c"]),
    ],
)
def test_totals_use_main_meters_when_any_else_all(organization, mains, expected):
    site = sites.create_site(organization, "s")
    for meter_id in ("a", "b", "c"):
        sites.add_meter(site, meter_id, is_main=meter_id in mains)
    assert [meter.meter_id for meter in sites.totals_meters(site)] == expected


def test_get_site_is_scoped_to_the_organization(organization):
    sites.create_site(organization, "mine")
    other = Organization(name="Other")
    db.session.add(other)
    db.session.flush()
    assert sites.get_site(organization, "mine").site_id == "mine"
    with pytest.raises(NotFound):
        sites.get_site(other, "mine")
    with pytest.raises(Conflict):
        sites.create_site(organization, "mine")


def test_site_tariff_overrides_the_organizations(organization):
    organization.tariff_per_kwh = 0.25
    organization.currency = "CHF"
    site = sites.create_site(organization, "s", tariff_per_kwh=0.4)
    assert sites.effective_tariff(site) == (0.4, "CHF")
    sites.update_site(site, tariff_per_kwh=None)
    assert sites.effective_tariff(site) == (0.25, "CHF")


def test_timezone_defaults_to_the_organizations(organization):
    organization.timezone = "Europe/Rome"
    assert sites.create_site(organization, "s").timezone == "Europe/Rome"


@pytest.mark.parametrize(
    "schedule",
    [
        {"days": [0, True], "start": "07:00", "end": "19:00"},
        {"days": [0], "start": "07:00", "end": "19:60"},
        {"days": [0], "start": "24:00", "end": "24:00"},
        {"days": 0, "start": "07:00", "end": "19:00"},
        [0, "07:00", "19:00"],
    ],
)
def test_schedule_rules(schedule):
    with pytest.raises(sites.InvalidField) as caught:
        sites.check_schedule(schedule)
    assert caught.value.status == 422


def test_schedule_is_normalised():
    schedule = {"days": [6, 0, 6], "start": "00:00", "end": "24:00"}
    assert sites.check_schedule(schedule) == {"days": [0, 6], "start": "00:00", "end": "24:00"}


def test_timezone_rules():
    assert sites.check_timezone("Europe/Rome") == "Europe/Rome"
    for bad in ("europe/rome", "../etc/passwd", "", None, "Local"):
        with pytest.raises(sites.InvalidField):
            sites.check_timezone(bad)
