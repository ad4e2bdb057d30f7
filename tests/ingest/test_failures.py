"""Failures and races: the database failing mid-batch, and identical batches sent at once."""

import threading
from datetime import timedelta

import pytest
import requests
from sqlalchemy import event

from cei.extensions import db
from tests.conftest import bearer
from tests.ingest.conftest import BATCH_URL, Ingest, hour_start, hourly, iso


class Fault:
    """Whether the planted database fault is armed, and how often it fired."""

    def __init__(self):
        self.armed = True
        self.fired = 0

    def trip(self, statement):
        """Tell whether ``statement`` should fail now."""
        if self.armed and statement.startswith("INSERT INTO ingest_keys"):
            self.fired += 1
            return True
        return False


@pytest.fixture
def key_insert_fault(ingest, is_postgres, monkeypatch):
    """Make the driver fail the idempotency-key insert: the batch's write after the readings."""
    fault = Fault()
    if is_postgres:
        import psycopg

        original = psycopg.Cursor.execute

        def execute(self, query, *args, **kwargs):
            if fault.trip(str(query)):
                raise psycopg.OperationalError("server closed the connection unexpectedly")
            return original(self, query, *args, **kwargs)

        monkeypatch.setattr(psycopg.Cursor, "execute", execute)
        yield fault
        return

    import sqlite3

    with ingest.app.app_context():
        engine = db.engine

    def before(connection, cursor, statement, parameters, context, executemany):
        if fault.trip(statement):
            raise sqlite3.OperationalError("disk I/O error")

    event.listen(engine, "before_cursor_execute", before)
    yield fault
    event.remove(engine, "before_cursor_execute", before)


def keyed(count):
    records = hourly(count)
    for record in records:
        record["idempotency_key"] = "k-" + record["timestamp_utc"]
    return records


def test_database_failing_mid_batch_commits_nothing(ingest, key_insert_fault):
    response = ingest.client.post(BATCH_URL, json={"records": keyed(24)}, headers=ingest.headers)
    assert key_insert_fault.fired == 1
    assert response.status_code == 503
    body = response.get_json()
    assert body["code"] == "DATABASE_UNAVAILABLE"
    assert int(response.headers["Retry-After"]) > 0
    assert "Traceback" not in response.get_data(as_text=True)
    assert ingest.stored() == {}  # the readings inserted before the failure were rolled back
    assert ingest.keys() == {}


def test_a_retry_after_the_failure_stores_each_reading_once(ingest, key_insert_fault):
    records = keyed(24)
    first = ingest.client.post(BATCH_URL, json={"records": records}, headers=ingest.headers)
    assert first.status_code == 503
    key_insert_fault.armed = False
    retry = ingest.send(records)
    assert (retry["ingested"], retry["skipped_duplicate"], retry["failed"]) == (24, 0, 0)
    again = ingest.send(records)
    assert (again["ingested"], again["skipped_duplicate"]) == (0, 24)
    assert len(ingest.stored()) == 24
    assert len(ingest.keys()) == 24


def send_concurrently(base_url, token, records, clients=4):
    """POST the same batch from ``clients`` threads released at the same instant."""
    results = [None] * clients
    barrier = threading.Barrier(clients)

    def post(slot):
        with requests.Session() as session:
            barrier.wait()
            response = session.post(
                base_url + BATCH_URL,
                json={"records": records},
                headers=bearer(token),
                timeout=120,
            )
            results[slot] = (response.status_code, response.json())

    workers = [threading.Thread(target=post, args=(slot,)) for slot in range(clients)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=180)
    return results


def big_batch(count=5000):
    """``count`` quarter-hourly readings with idempotency keys, ending about now."""
    first = hour_start(count // 4 + 1)
    return [
        {
            "site_id": "site-22",
            "meter_id": "main",
            "timestamp_utc": iso(first + timedelta(minutes=15 * i)),
            "value": float(i % 97),
            "idempotency_key": f"race-{i}",
        }
        for i in range(count)
    ]


def check_race(ingest, results, count):
    assert [status for status, _ in results] == [200] * len(results), results
    assert sum(body["ingested"] for _, body in results) == count
    assert sum(body["skipped_duplicate"] for _, body in results) == count * (len(results) - 1)
    assert all(body["failed"] == 0 for _, body in results)
    assert len(ingest.stored()) == count
    assert len(ingest.keys()) == count


def test_identical_batches_at_once_on_postgres(postgres_url, app, client, api, serve):
    ingest = Ingest(app, client, api)
    records = big_batch()
    results = send_concurrently(serve(app), ingest.token, records)
    check_race(ingest, results, len(records))


def test_identical_batches_at_once_on_the_suite_database(app, client, api, serve):
    ingest = Ingest(app, client, api)
    records = big_batch(500)
    check_race(ingest, send_concurrently(serve(app), ingest.token, records), len(records))


def test_identical_batches_at_once_for_a_known_meter_on_postgres(
    postgres_url, app, client, api, serve
):
    # The meter exists, so no batch waits on another creating it: all of them find nothing
    # stored, insert at once, and all but one fall back to ON CONFLICT DO NOTHING.
    ingest = Ingest(app, client, api)
    earlier = {**big_batch(1)[0], "timestamp_utc": iso(hour_start(5000)), "idempotency_key": "x"}
    assert ingest.send([earlier])["ingested"] == 1
    records = big_batch()
    results = send_concurrently(serve(app), ingest.token, records)
    assert [status for status, _ in results] == [200] * len(results), results
    assert sum(body["ingested"] for _, body in results) == len(records)
    assert sum(body["skipped_duplicate"] for _, body in results) == len(records) * 3
    assert all(body["failed"] == 0 for _, body in results)
    assert len(ingest.stored()) == len(records) + 1
    assert len(ingest.keys()) == len(records) + 1
