"""Two overlapping batches in opposite key order: both succeed, no deadlock reaches a client."""

import threading
import time

import pytest
import requests
from sqlalchemy import insert, text

from cei.extensions import db
from cei.models import Meter, Site
from tests.conftest import bearer
from tests.faults.conftest import BATCH, Tenant, hour_start

pytestmark = pytest.mark.postgres

SITES, METERS, HOURS = 8, 40, 12


def records(sites, meters, value=1.0):
    """Hourly readings of ``meters`` of ``sites`` over ``HOURS`` hours, in key order."""
    return [
        {
            "site_id": f"site-{site:02d}",
            "meter_id": f"meter-{meter:03d}",
            "timestamp_utc": hour_start(hour).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "value": value + hour,
        }
        for site in sites
        for meter in meters
        for hour in reversed(range(HOURS))
    ]


def send_both(url, tokens, first, second, **body):
    """POST two batches (one per token) released at the same instant; return
    ``[(status, json)]``."""
    barrier = threading.Barrier(2)
    results = [None, None]

    def post(slot, records):
        with requests.Session() as session:
            barrier.wait()
            response = session.post(
                url + BATCH,
                json={"records": records, **body},
                headers=bearer(tokens[slot]),
                timeout=60,
            )
            results[slot] = (response.status_code, response.json())

    threads = [
        threading.Thread(target=post, args=(slot, records))
        for slot, records in enumerate((first, second))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    return results


def keys(batch):
    return {(record["site_id"], record["meter_id"], record["timestamp_utc"]) for record in batch}


def test_opposite_orders_at_once_both_succeed(app, client, serve, table_counts):
    tenant = Tenant(client)
    # Two factories, two tokens (one token's "last used" update would queue them).
    tokens = [tenant.token, tenant.api.make_token(tenant.account, name="line-2")["token"]]
    url = serve(app)
    every_site = range(SITES + 1)
    rounds = [
        # New sites, created by both batches at once (overlapping, not equal, sets).
        ("sites", records(range(SITES), [0]), records(range(1, SITES + 1), [0]), {}),
        # New meters of those sites.
        ("meters", records(every_site, range(1, METERS)), None, {}),
        # The same readings with new values, replaced by both at once.
        ("update", records(every_site, range(METERS), value=5.0), None, {"on_conflict": "update"}),
    ]
    stored = set()
    for name, first, second, body in rounds:
        second = list(reversed(second or first))
        results = send_both(url, tokens, first, second, **body)
        assert [status for status, _ in results] == [200, 200], (name, results)
        bodies = [payload for _, payload in results]
        assert all(payload["failed"] == 0 for payload in bodies), (name, bodies)
        written = sum(payload["ingested"] + payload["updated"] for payload in bodies)
        skipped = sum(payload["skipped_duplicate"] for payload in bodies)
        assert written + skipped == len(first) + len(second), name
        new = keys(first) | keys(second)
        assert written >= len(new - stored) if name != "update" else written >= len(new), name
        stored |= new
    counts = table_counts()
    assert (counts["sites"], counts["meters"], counts["readings"]) == (
        SITES + 1,
        (SITES + 1) * METERS,
        len(stored),
    )


class Gate:
    """A transaction of the test that holds one row the batches will need, until released.

    Holding the row of the middle key makes both batches stop there after writing the keys
    before it in their own order: released, they would each need a row the other holds
    if they took rows in opposite orders (a deadlock), and take turns if in the same one.
    """

    def __init__(self, app, table, **row):
        with app.app_context():
            self.engine = db.engine
        self.connection = self.engine.connect()
        self.pid = self.connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        # Should this transaction end up in a deadlock, the app's side detects it first.
        self.connection.exec_driver_sql("SET deadlock_timeout = '20s'")
        self.table = table
        self.hold(**row)

    def hold(self, **row):
        """Insert ``row`` (uncommitted: whoever inserts the same key waits)."""
        self.connection.execute(insert(self.table).values(**row))

    def wait_for(self, waiters, timeout=30):
        """Return once ``waiters`` other backends wait for locks."""
        deadline = time.monotonic() + timeout
        while self.waiting() < waiters:
            assert time.monotonic() < deadline, "the batches never reached the held row"
            time.sleep(0.02)

    def waiting(self):
        """How many other backends of the database wait for a lock."""
        with self.engine.connect() as probe:
            return probe.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND pid <> :pid"
                ),
                {"pid": self.pid},
            ).scalar()

    def release_when_waited_on(self, waiters=2, timeout=30):
        """Roll the held rows back once ``waiters`` backends wait for locks."""
        self.wait_for(waiters, timeout)
        self.release()

    def release(self):
        """Roll the held rows back."""
        self.connection.rollback()
        self.connection.close()


def sites_of(app, organization_id):
    with app.app_context():
        return dict(
            db.session.execute(
                text("SELECT site_id, id FROM sites WHERE organization_id = :org"),
                {"org": organization_id},
            ).all()
        )


def in_turns(url, tokens, records, gate, **body):
    """Send ``records`` and their reverse at once, stopped at ``gate``; return the results."""
    results = []
    sender = threading.Thread(
        target=lambda: results.extend(
            send_both(url, tokens, records, list(reversed(records)), **body)
        )
    )
    sender.start()
    gate.release_when_waited_on()
    sender.join(timeout=90)
    return results


def assert_no_deadlock(results, caplog):
    assert [status for status, _ in results] == [200, 200], results
    assert all(payload["failed"] == 0 for _, payload in results), results
    retried = [r for r in caplog.records if "deadlock" in r.getMessage().lower()]
    assert retried == [], "the batches deadlocked (the server retried one of them)"


def test_new_sites_and_meters_in_opposite_orders_take_turns(
    app, client, serve, table_counts, caplog
):
    tenant = Tenant(client)
    tokens = [tenant.token, tenant.api.make_token(tenant.account, name="line-2")["token"]]
    url = serve(app)
    middle = SITES // 2
    batch = records(range(SITES), [0])
    held = f"site-{middle:02d}"
    gate = Gate(
        app, Site.__table__, organization_id=tenant.organization_id, site_id=held, name=held
    )
    assert_no_deadlock(in_turns(url, tokens, batch, gate), caplog)

    site_pk = sites_of(app, tenant.organization_id)[held]
    batch = records(range(SITES), range(1, METERS))
    held = f"meter-{METERS // 2:03d}"
    gate = Gate(
        app,
        Meter.__table__,
        site_pk=site_pk,
        organization_id=tenant.organization_id,
        meter_id=held,
        name=held,
    )
    assert_no_deadlock(in_turns(url, tokens, batch, gate), caplog)
    counts = table_counts()
    assert (counts["sites"], counts["meters"]) == (SITES, SITES * METERS)


def test_a_deadlock_the_server_meets_is_retried_not_answered(
    app, client, serve, table_counts, caplog
):
    tenant = Tenant(client)
    assert tenant.send(records([0], [0]))["ingested"] == HOURS
    site_pk = sites_of(app, tenant.organization_id)["site-00"]
    url = serve(app)
    batch = records([0], range(1, METERS))
    first, last = "meter-001", f"meter-{METERS - 1:03d}"
    meter = {"site_pk": site_pk, "organization_id": tenant.organization_id}
    # The test's transaction holds the batch's last new meter: the batch creates the
    # others, then waits. Then the test asks for the batch's first one: a cycle, which
    # PostgreSQL breaks by ending the batch's transaction (its side looks first).
    gate = Gate(app, Meter.__table__, meter_id=last, name=last, **meter)
    results = []
    sender = threading.Thread(
        target=lambda: results.append(
            requests.post(url + BATCH, json={"records": batch}, headers=tenant.headers, timeout=60)
        )
    )
    sender.start()
    gate.wait_for(1)
    gate.hold(meter_id=first, name=first, **meter)  # waits until the batch is ended
    gate.release()
    sender.join(timeout=60)

    (response,) = results
    assert response.status_code == 200, response.text
    assert (response.json()["ingested"], response.json()["failed"]) == (len(batch), 0)
    retried = [r.getMessage() for r in caplog.records if r.name == "cei.transactions"]
    assert len(retried) == 1 and retried[0].startswith("deadlock ended the transaction")
    assert table_counts()["meters"] == METERS
