"""The read contract on top of the rollups: units, exact Wh, ended intervals, missing
15-minute intervals named, the double-counting warning, local hours off the UTC grid, and
``site_hourly_series`` for the analytics."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from cei.cli import rebuild_rollups
from cei.extensions import db
from cei.models import Site, site_hours
from cei.services import rollups, windows
from tests.rollups.conftest import HOUR, iso

NOW = datetime(2026, 3, 30, 10, 25, 40, tzinfo=UTC)
NOW_HOUR = int(NOW.timestamp()) // HOUR * HOUR


@pytest.fixture
def frozen(monkeypatch):
    """Freeze the read API's clock at ``NOW``."""
    monkeypatch.setattr(windows, "utcnow", lambda: NOW)


def record(meter_id, ts, value, site_id="s", **extra):
    return {"site_id": site_id, "meter_id": meter_id, "timestamp_utc": iso(ts), "value": value}


def test_sums_are_exact_to_the_wh(plant, frozen):
    plant.site("s", "UTC")
    values = [13.032, 15.774, 1.877, 0.1, 0.2]
    assert sum(values) != 30.983  # float addition alone answers 30.982999999999997
    plant.send([record("a", NOW_HOUR - i * HOUR, value) for i, value in enumerate(values)])
    body = plant.read("summary", site_id="s", meter_id="a", window_hours=24)
    assert (body["total_value"], body["unit"]) == (30.983, "kWh")
    assert repr(body["total_value"]) == "30.983"
    # Two meters summed in one site hour, through site_hours.
    plant.send([record("b", NOW_HOUR - 4 * HOUR, 0.1)])
    series = plant.read("series", site_id="s", window_hours=24)
    assert series["unit"] == "kWh"
    assert series["points"][-5]["value"] == 0.3  # 0.2 + 0.1, not 0.30000000000000004


def test_double_counting_warning_until_a_main_meter_is_marked(plant, frozen):
    plant.site("s", "UTC")
    plant.send([record("one", NOW_HOUR - HOUR, 5.0)])
    body = plant.read("summary", site_id="s")
    assert (body["double_counting_risk"], body["double_counting_message"]) == (False, None)
    plant.send([record("two", NOW_HOUR - HOUR, 2.0)])
    body = plant.read("summary", site_id="s")
    assert body["double_counting_risk"] is True
    assert "none is marked main" in body["double_counting_message"]
    assert body["total_value"] == 7.0
    assert plant.read("series", site_id="s")["double_counting_risk"] is True
    # One meter asked for: no site total, no warning.
    assert plant.read("summary", site_id="s", meter_id="two")["double_counting_risk"] is False
    plant.call("PATCH", "/api/v1/sites/s/meters/one", json={"is_main": True})
    body = plant.read("summary", site_id="s")
    assert (body["double_counting_risk"], body["total_value"]) == (False, 5.0)


def test_coverage_names_a_missing_15_minute_interval_and_skips_open_ones(plant, frozen):
    plant.site("s", "UTC")
    hour = NOW_HOUR - 2 * HOUR
    stamps = [hour + q * 900 for q in (0, 1, 3)]  # 15 minutes missing at hour + 30 min
    stamps += [NOW_HOUR - HOUR + q * 900 for q in range(4)] + [NOW_HOUR]  # NOW_HOUR: ended
    plant.send([dict(record("q", ts, 1.0), interval_minutes=15) for ts in stamps])
    body = plant.read("coverage", site_id="s", window_hours=3)
    (meter,) = body["meters"]
    # 10:00-10:15 has ended at 10:25:40, 10:15-10:30 has not: 4 + 4 + 1 expected.
    assert (meter["expected"], meter["received"]) == (9, 8)
    assert meter["missing_intervals"] == [iso(hour + 1800)]
    assert meter["missing_intervals_count"] == 1
    assert meter["missing_hours"] == []  # no hour is without data
    assert meter["coverage_pct"] == round(100 * 8 / 9, 2)
    # Once the hour is gone entirely, the hour is missing too.
    body = plant.read("coverage", site_id="s", start=iso(hour - 2 * HOUR), end=iso(hour + HOUR))
    (meter,) = body["meters"]
    assert meter["missing_hours"] == [iso(hour - 2 * HOUR), iso(hour - HOUR)]
    assert meter["missing_intervals_count"] == 9


@pytest.mark.parametrize(
    "zone, minute", [("Asia/Kolkata", 30), ("Asia/Kathmandu", 15), ("Europe/Rome", 0)]
)
def test_hours_are_site_local_hours(plant, frozen, zone, minute):
    plant.site("s", zone)
    # 15-minute readings from 6 hours ago to 10:15 UTC, 1 kWh each, on the UTC quarters.
    plant.send(
        [
            dict(record("q", NOW_HOUR - 6 * HOUR + i * 900, 1.0), interval_minutes=15)
            for i in range(26)
        ]
        + [record("h", NOW_HOUR - 6 * HOUR + i * HOUR, 10.0) for i in range(6)]
    )
    body = plant.read("series", site_id="s", meter_id="q", window_hours=4)
    stamps = [point["ts"] for point in body["points"]]
    assert len(stamps) == 4
    assert {stamp[14:16] for stamp in stamps} == {f"{minute:02d}"}
    # Local hours that are whole past hours hold 4 quarter hours each.
    assert [point["value"] for point in body["points"][:3]] == [4.0, 4.0, 4.0]
    assert body["from_timestamp"][14:16] == f"{minute:02d}"


def test_site_hourly_series_for_the_analytics(plant, app):
    plant.site("rome", "Europe/Rome")
    zone = ZoneInfo("Europe/Rome")
    day = int(datetime(2026, 3, 29, tzinfo=zone).timestamp())  # 23 hours long
    next_day = int(datetime(2026, 3, 30, tzinfo=zone).timestamp())
    plant.send(
        [
            record("a", ts, 1.5, site_id="rome")
            for ts in range(day, next_day, HOUR)
            if ts != day + 5 * HOUR
        ]
    )
    plant.send([record("b", day + HOUR, 0.25, site_id="rome")])
    with app.app_context():
        site = db.session.scalar(select(Site).where(Site.site_id == "rome"))
        series = rollups.site_hourly_series(site, day, next_day)
        assert db.session.scalar(select(site_hours.c.ts).limit(1)) is not None
    assert [ts for ts, _ in series] == list(range(day, next_day, HOUR))
    assert len(series) == 23
    values = dict(series)
    assert values[day + 5 * HOUR] is None
    assert values[day + HOUR] == 1.75
    assert sum(value for value in values.values() if value is not None) == pytest.approx(
        1.5 * 22 + 0.25
    )


def test_rollups_rebuild_command_by_site_and_org(plant, runner, app):
    plant.site("s", "UTC")
    plant.send([record(meter, NOW_HOUR - HOUR, 1.0) for meter in ("a", "b")])
    stored = plant.stored_rollups()
    with app.app_context():
        db.session.execute(site_hours.delete())
        db.session.commit()
    assert plant.stored_rollups() != stored
    result = runner.invoke(rebuild_rollups, ["--site", "s"])
    assert result.exit_code == 0, result.output
    assert plant.stored_rollups() == stored
    org = str(plant.account["user"]["organization_id"])
    result = runner.invoke(rebuild_rollups, ["--org", org])
    assert (result.exit_code, result.output.strip()) == (0, "rollups rebuilt for 1 site(s)")
    result = runner.invoke(rebuild_rollups, ["--site", "nowhere"])
    assert result.exit_code != 0
    assert "no site 'nowhere'" in result.output
