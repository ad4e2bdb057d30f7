"""Reading many scopes at once (``hour_sums_many``) gives exactly what one scope at a time gives."""

import random

import pytest

from cei.extensions import db
from cei.models import Organization
from cei.services import readings
from cei.services import sites as site_service
from cei.services.windows import Window, last_hours
from tests.readings.conftest import HOUR, NOW, NOW_HOUR, random_points

# (site_id, zone, meters): whole-hour, half-hour and 45-minute zones; a site adding two meters
# without a main one; a main meter beside a 15-minute sub-meter; a lone 15-minute meter.
SITES = [
    ("utc-one", "UTC", [("m", False, 60)]),
    ("rome-two-no-main", "Europe/Rome", [("a", False, 60), ("b", False, 60)]),
    ("kolkata-main", "Asia/Kolkata", [("main", True, 60), ("hvac", False, 15)]),
    ("kathmandu-fifteen", "Asia/Kathmandu", [("q", False, 15)]),
    ("stjohns-mixed", "America/St_Johns", [("x", False, 60), ("y", False, 15)]),
]


@pytest.fixture
def many_sites(frozen_now, make_site, add_readings, app, account):
    """Each of ``SITES`` with random readings (and gaps) over the last 9 days."""
    rng = random.Random(20261128)
    first, end = NOW_HOUR - 9 * 24 * HOUR, NOW_HOUR + HOUR
    for site_id, zone, meters in SITES:
        ref = make_site(site_id, timezone=zone, meters=meters)
        for meter_id, _, interval in meters:
            add_readings(ref.meters[meter_id], random_points(rng, first, end, interval * 60))
    with app.app_context():
        organization = db.session.get(Organization, account["organization"]["id"])
        yield organization


def scopes_of(organization, layouts=True):
    scopes = []
    for site_id, _, _ in SITES:
        site = site_service.get_site(organization, site_id)
        meters = site_service.site_meters(site)
        scopes.append(readings.ReadScope(site, None, site_service.totals_meters(site, meters)))
    if layouts:
        found = readings.site_layouts([scope.site for scope in scopes])
        scopes = [
            readings.ReadScope(scope.site, None, scope.meters, layout=found[scope.site.id])
            for scope in scopes
        ]
    return scopes


WINDOWS = [
    last_hours(24, NOW),
    last_hours(24 * 7, NOW),
    # Edges that cut hours on every grid.
    Window(NOW_HOUR - 50 * HOUR + 600, NOW_HOUR - 3 * HOUR - 1234),
    # Shorter than an hour.
    Window(NOW_HOUR - 2 * HOUR + 60, NOW_HOUR - HOUR - 60),
]


@pytest.mark.parametrize("window", WINDOWS, ids=["24h", "7d", "cut", "short"])
def test_many_scopes_read_what_single_scopes_read(many_sites, window):
    scopes = scopes_of(many_sites)
    many = readings.hour_sums_many(scopes, window)
    assert len(many) == len(SITES) and any(many)
    single_scopes = scopes_of(many_sites, layouts=False)
    for scope, single, sums in zip(scopes, single_scopes, many, strict=True):
        one = readings.hour_sums(readings.layout_of(single), None, window)
        assert sums == one, scope.site.site_id
        if window.seconds >= 24 * HOUR:
            assert sums, scope.site.site_id  # every site has readings in the long windows
        assert readings.summarize(scope, window, sums=sums) == readings.summarize(single, window)
        assert readings.series(scope, window, sums=sums) == readings.series(single, window)
        assert readings.series(scope, window, "day", sums=sums) == readings.series(
            single, window, "day"
        )


def test_many_meter_scopes_read_what_single_meter_scopes_read(many_sites):
    window = WINDOWS[2]
    scopes = [
        readings.ReadScope(scope.site, meter, [meter], layout=scope.layout)
        for scope in scopes_of(many_sites)
        for meter in site_service.site_meters(scope.site)
    ]
    many = readings.hour_sums_many(scopes, window)
    for scope, sums in zip(scopes, many, strict=True):
        assert sums == readings.hour_sums(scope.layout, scope.meter, window)
        assert readings.summarize(scope, window, sums=sums)["points"] == sum(
            count for _, count in sums.values()
        )


def test_no_scopes_read_nothing(many_sites):
    assert readings.hour_sums_many([], WINDOWS[0]) == []
