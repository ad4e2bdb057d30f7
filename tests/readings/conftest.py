"""Fixtures of the read API tests: a frozen clock and a site with random readings and gaps."""

import random
from datetime import UTC, datetime

import pytest

from cei.services import windows
from tests.sites import factories

# The shared fixtures, under their fixture names.
account = factories.account
make_site = factories.make_site
add_readings = factories.add_readings
count_readings = factories.count_readings

# Monday after the Europe/Rome spring-forward day (Sunday 2026-03-29, a 23-hour day).
NOW = datetime(2026, 3, 30, 10, 25, 40, tzinfo=UTC)
NOW_TS = int(NOW.timestamp())
NOW_HOUR = NOW_TS // 3600 * 3600
HOUR = 3600
OUTAGE_HOURS = {NOW_HOUR // HOUR - n for n in (10, 38, 39, 40)}


@pytest.fixture
def frozen_now(monkeypatch):
    """Freeze the read API's clock at ``NOW``."""
    monkeypatch.setattr(windows, "utcnow", lambda: NOW)
    return NOW


def random_points(rng, first, end, step, gap_rate=0.15):
    """Readings every ``step`` seconds in ``[first, end)``, some missing, random kWh."""
    return [
        (ts, round(rng.uniform(0.0, 50.0), 3))
        for ts in range(first, end, step)
        if rng.random() >= gap_rate
    ]


@pytest.fixture
def plant(frozen_now, make_site, add_readings):
    """A Europe/Rome site: main meter, a sub-meter, a 15-minute meter; 100 h of data to now.

    Returns ``(site, data)`` with ``data = {meter_id: [(ts, kWh), ...]}``; the current, open
    hour has readings too, and four hours (``OUTAGE_HOURS``) have none at all.
    """
    site = make_site(
        "plant-1",
        timezone="Europe/Rome",
        meters=[("main", True, 60), ("line-1", False, 60), ("hvac", False, 15)],
    )
    rng = random.Random(20260330)
    first, end = NOW_HOUR - 99 * HOUR, NOW_HOUR + HOUR
    data = {
        "main": random_points(rng, first, end, HOUR),
        "line-1": random_points(rng, first, end, HOUR),
        "hvac": random_points(rng, first, end, 900),
    }
    for meter_id, points in data.items():
        # A plant-wide outage: whole hours without data for every meter.
        points[:] = [(ts, value) for ts, value in points if ts // HOUR not in OUTAGE_HOURS]
        add_readings(site.meters[meter_id], points)
    return site, data


@pytest.fixture
def read(client, account):
    """Return ``read(endpoint, headers=None, **params)`` calling ``/api/v1/timeseries/...``."""

    def call(endpoint, headers=None, **params):
        return client.get(
            f"/api/v1/timeseries/{endpoint}",
            query_string=params,
            headers=headers or account["headers"],
        )

    return call
