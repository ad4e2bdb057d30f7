"""PostgreSQL restarted between requests, down, and lost in the middle of a batch."""

import time

import pytest

from cei.tasks.dispatcher import Dispatcher
from cei.tasks.queues import InlineJobQueue
from tests.faults.conftest import LOGIN, Tenant, readings, through

pytestmark = pytest.mark.postgres

SUMMARY = "/api/v1/timeseries/summary"


def test_a_restart_between_requests_costs_no_request(
    pg_app, pg_proxy, terminate_backends, table_counts
):
    client = pg_app.test_client()
    tenant = Tenant(client)
    assert tenant.send(readings(24))["ingested"] == 24
    dispatcher = Dispatcher(pg_app, InlineJobQueue(pg_app))
    dispatcher.tick()

    # The server ends every connection (a restart): the pooled ones are dead.
    assert terminate_backends() >= 1
    assert tenant.send(readings(24, site_id="site-2"))["ingested"] == 24
    assert tenant.login().status_code == 200
    summary = client.get(SUMMARY, query_string={"site_id": "site-2"}, headers=tenant.headers)
    assert summary.status_code == 200 and summary.get_json()["points"] == 24
    terminate_backends()
    assert dispatcher.tick()["due"] == 1  # a long-lived process gets through it as well

    # The same through the network: every connection reset, the server back at once.
    connections = pg_proxy.accepted
    pg_proxy.cut()
    pg_proxy.restore()
    assert tenant.send(readings(24, site_id="site-3"))["ingested"] == 24
    assert pg_proxy.accepted > connections, "the request had to open a new connection"
    assert table_counts()["readings"] == 72


def assert_unavailable(response, retry_after=5):
    assert response.status_code == 503, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["code"] == "DATABASE_UNAVAILABLE"
    assert body["request_id"] == response.headers["X-Request-ID"]
    assert response.headers["Retry-After"] == str(retry_after)
    assert "Traceback" not in response.get_data(as_text=True)


def test_down_answers_503_json_with_retry_after_and_writes_nothing(pg_app, pg_proxy, table_counts):
    client = pg_app.test_client()
    tenant = Tenant(client)
    assert tenant.send(readings(24))["ingested"] == 24
    before = table_counts()

    pg_proxy.cut()
    assert_unavailable(tenant.post(readings(24, site_id="site-2")))
    assert_unavailable(tenant.login())
    assert_unavailable(
        client.get(SUMMARY, query_string={"site_id": "site-1"}, headers=tenant.headers)
    )
    assert_unavailable(
        client.post(
            "/api/v1/auth/integration-tokens",
            json={"name": "another"},
            headers=tenant.account["headers"],
        )
    )
    assert_unavailable(
        client.post("/api/v1/analytics/run", json={"site_id": "site-1"}, headers=tenant.headers)
    )
    ready = client.get("/api/v1/health/ready")
    assert ready.status_code == 503 and ready.get_json()["checks"]["database"].startswith("error")
    assert table_counts() == before

    pg_proxy.restore()
    assert tenant.send(readings(24, site_id="site-2"))["ingested"] == 24
    assert client.get("/api/v1/health/ready").status_code == 200


def test_retry_after_follows_the_configuration(make_app, app, pg_proxy, postgres_url):
    down = make_app(DATABASE_URL=through(pg_proxy, postgres_url), DATABASE_RETRY_AFTER=2)
    pg_proxy.cut()
    response = down.test_client().post(LOGIN, json={"email": "a@b.example", "password": "x"})
    assert_unavailable(response, retry_after=2)


def test_a_server_gone_silent_answers_503_after_the_connect_timeout(
    make_app, app, pg_proxy, postgres_url
):
    silent = make_app(DATABASE_URL=through(pg_proxy, postgres_url), DATABASE_CONNECT_TIMEOUT=2)
    client = silent.test_client()
    tenant = Tenant(client)
    # A host gone: nothing refuses the connections, nothing answers them.
    pg_proxy.stall()
    began = time.monotonic()
    assert_unavailable(tenant.post(readings(24)))
    assert time.monotonic() - began < 6, "the request waited on the silent server"
    pg_proxy.restore()
    assert tenant.send(readings(24))["ingested"] == 24


def test_connection_lost_mid_batch_leaves_nothing_half_written(pg_app, pg_proxy, table_counts):
    tenant = Tenant(pg_app.test_client())
    before = table_counts()
    batch = readings(48, site_id="new-site", keys="k")
    # The site, its meter and the readings are written; the connection goes before the
    # idempotency keys reach the server.
    pg_proxy.cut_when(b"INSERT INTO ingest_keys", forward_first=False)

    assert_unavailable(tenant.post(batch))
    assert pg_proxy.tripped.is_set()
    assert table_counts() == before, "the transaction was rolled back as a whole"

    pg_proxy.restore()
    result = tenant.send(batch)
    assert (result["ingested"], result["skipped_duplicate"], result["failed"]) == (48, 0, 0)
    after = table_counts()
    for table, added in {"sites": 1, "meters": 1, "readings": 48, "ingest_keys": 48}.items():
        assert after[table] == before[table] + added, table


def test_a_commit_whose_answer_is_lost_then_a_retry_stores_each_reading_once(
    pg_app, pg_proxy, table_counts
):
    tenant = Tenant(pg_app.test_client())
    before = table_counts()
    batch = readings(48, site_id="new-site", keys="k")
    # The server commits the batch; the app never hears so and answers 503. (The NUL ends
    # the statement's text: the staging table's "ON COMMIT DELETE ROWS" does not count.)
    pg_proxy.cut_when(b"COMMIT\x00", forward_first=True, after=b"ingest_stage_readings")

    assert_unavailable(tenant.post(batch))
    assert pg_proxy.tripped.is_set()
    committed = table_counts()
    assert committed["readings"] == before["readings"] + 48, "all of it, never a part"
    assert committed["ingest_keys"] == before["ingest_keys"] + 48

    pg_proxy.restore()
    retry = tenant.send(batch)
    assert (retry["ingested"], retry["skipped_duplicate"], retry["failed"]) == (0, 48, 0)
    assert table_counts() == committed
