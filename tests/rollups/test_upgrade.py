"""``cei init-db`` on a database from before the rollups' migration builds its rollups.

Readings stored before ``0003_rollups`` have no rollup rows, and the reads (summary, series,
KPIs, dashboard) of sites with sub-hourly or several total meters come from the rollups: an
upgrade that only created the empty tables left those sites' history at zero.
"""

import time

from flask_migrate import downgrade, upgrade
from sqlalchemy import event

from cei.extensions import db
from tests.conftest import ApiHelper
from tests.rollups.conftest import HOUR, Plant, iso


def fifteen_minute_records(site_id, meter_ids, first, hours):
    """15-minute readings of ``meter_ids`` (none main: all count in the site total)."""
    records = []
    for number, meter_id in enumerate(meter_ids):
        for index, ts in enumerate(range(first, first + hours * HOUR, 900)):
            records.append(
                {
                    "site_id": site_id,
                    "meter_id": meter_id,
                    "timestamp_utc": iso(ts),
                    "value": 10.0 - 6.75 * number + (index % 7) * 0.125,
                    "unit": "kWh",
                    "interval_minutes": 15,
                }
            )
    return records


def downgrade_to_before_the_rollups(app):
    """Migrate the database down to ``0002``, keeping its rows.

    SQLite: with foreign keys on, Alembic's table rebuilds (drop, re-create) would cascade
    to every child row; its documentation says to turn them off for that.
    """

    def foreign_keys_off(dbapi_connection, record):
        dbapi_connection.execute("PRAGMA foreign_keys=OFF")

    with app.app_context():
        engine = db.engine
        engine.dispose()
        event.listen(engine, "connect", foreign_keys_off)
        try:
            downgrade(revision="0002")
        finally:
            event.remove(engine, "connect", foreign_keys_off)
            engine.dispose()


def test_init_db_builds_the_rollups_of_readings_older_than_them(make_app, tmp_path):
    app = make_app(DATABASE_URL="sqlite:///" + str(tmp_path / "upgraded.sqlite3"))
    with app.app_context():
        upgrade()
    client = app.test_client()
    plant = Plant(app, client, ApiHelper(client))
    # Half-hour local hours (rollup keys are not UTC hours). Two total meters: site rows;
    # a lone sub-hourly meter: meter rows.
    plant.site("site-old", "Asia/Kolkata")
    plant.site("site-lone", "Europe/Rome")
    first = (int(time.time()) // HOUR - 12) * HOUR
    plant.send(fifteen_minute_records("site-old", ["line-1", "line-2"], first, hours=10))
    plant.send(fifteen_minute_records("site-lone", ["main"], first, hours=10))
    reads = {}
    for site_id in ("site-old", "site-lone"):
        window = {"site_id": site_id, "start": iso(first - HOUR), "end": iso(first + 12 * HOUR)}
        reads[site_id] = (
            window,
            plant.read("summary", **window),
            plant.read("series", resolution="hour", **window),
        )
    built_meters, built_sites = plant.check()
    assert built_meters and built_sites
    assert all(summary["total_value"] > 0 for _, summary, _ in reads.values())

    downgrade_to_before_the_rollups(app)  # the database as a version before 0003 left it
    with app.app_context():
        upgrade(revision="0003_rollups")  # what the migration alone gives: empty rollups
    assert plant.stored_rollups() == ({}, {})
    downgrade_to_before_the_rollups(app)

    result = app.test_cli_runner().invoke(args=["init-db"])

    assert result.exit_code == 0, result.output
    assert "rollups rebuilt for 2 site(s)" in result.output, result.output
    assert plant.check() == (built_meters, built_sites)
    for window, summary, series in reads.values():
        assert plant.read("summary", **window) == summary
        assert plant.read("series", resolution="hour", **window) == series


def test_init_db_on_a_current_database_rebuilds_nothing(app):
    result = app.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    assert result.output == "database schema is up to date\n"
