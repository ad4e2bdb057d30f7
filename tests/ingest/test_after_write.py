"""The hook after each write: the readings actually changed, with their previous values."""

import pytest
from sqlalchemy import select

from cei.extensions import db
from cei.models import Site
from cei.services.ingest import pipeline
from cei.services.ingest.store import ChangedRow, Row, store_for
from tests.ingest.conftest import epoch, hour_start, hourly


@pytest.fixture
def changes(monkeypatch):
    """Every ``(changed rows, changed site pks)`` handed to ``Ingestion._after_write``."""
    calls = []

    def record(self, changed_rows):
        calls.append((sorted(changed_rows), set(self.changed_site_pks)))

    monkeypatch.setattr(pipeline.Ingestion, "_after_write", record)
    return calls


def site_pk(app, site_id):
    with app.app_context():
        return db.session.scalar(select(Site.id).where(Site.site_id == site_id))


def test_new_replaced_and_unchanged_readings(ingest, changes):
    ingest.send(hourly(3, value=1.0))
    ((rows, sites),) = changes
    assert [(row.ts, row.kwh, row.previous_kwh) for row in rows] == [
        (epoch(hour_start(2 - i)), 1.0 + i, None) for i in range(3)
    ]
    assert sites == {site_pk(ingest.app, "site-22")}
    meter_pk = rows[0].meter_pk
    changes.clear()
    ingest.send(hourly(3, value=1.0))  # a replay changes nothing: no call
    assert changes == []
    corrected = hourly(3, value=1.0)
    corrected[1]["value"] = 7.0
    corrected.append(hourly(1, site_id="site-23")[0])
    ingest.send(corrected, on_conflict="update")
    ((rows, sites),) = changes
    assert ChangedRow(meter_pk, epoch(hour_start(1)), 7.0, 2.0) in rows
    assert len(rows) == 2 and sum(row.previous_kwh is None for row in rows) == 1
    assert sites == {site_pk(ingest.app, "site-22"), site_pk(ingest.app, "site-23")}


def test_rejected_conflicts_are_not_changes(ingest, changes):
    ingest.send(hourly(2))
    changes.clear()
    body = ingest.send([dict(hourly(2)[0], value=99.0)])
    assert body["failed"] == 1
    assert changes == []


def test_upload_chunks_each_report_their_changes(ingest, changes):
    text = "site_id,meter_id,timestamp_utc,value\n" + "".join(
        f"s,m,{hour_start(i).strftime('%Y-%m-%dT%H:%M:%SZ')},{i}\n" for i in range(1, 4)
    )
    ingest.upload(text)
    ((rows, _),) = changes
    assert sorted(row.kwh for row in rows) == [1.0, 2.0, 3.0]


def test_postgres_store_returns_what_it_replaced_and_inserted(postgres_url, app, monkeypatch):
    with app.app_context():
        store = store_for(db.session.connection())
        first = store.write_readings([Row(9, 100, 1.0), Row(9, 200, 2.0)])
        assert sorted(first.inserted) == [(9, 100, 1.0), (9, 200, 2.0)]
        outcome = store.write_readings([Row(9, 200, 5.0), Row(9, 300, 3.0)], replace=True)
        assert outcome.inserted == [(9, 300, 3.0)]
        assert outcome.replaced == [ChangedRow(9, 200, 5.0, 2.0)]
        # As if another transaction had stored (9, 100) and (9, 300) after the lookup: the
        # plain insert fails on the key, and the tolerant one reports what it inserted.
        monkeypatch.setattr(type(store), "_compare", lambda self, rows: (list(rows), {}))
        blind = store.write_readings([Row(9, 100, 1.0), Row(9, 300, 8.0), Row(9, 400, 4.0)])
        assert blind.inserted == [(9, 400, 4.0)]
        assert {slot: tuple(d) for slot, d in blind.differing.items()} == {(9, 300): (3.0, 8.0)}
        db.session.rollback()
