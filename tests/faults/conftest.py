"""Fixtures of the fault tests: PostgreSQL and Redis behind fault proxies, apps on them.

The servers themselves are shared (other people, CI): a test never stops them. It puts a
:class:`~tests.faults.proxy.FaultProxy` between the app and the server and cuts that, or
ends its own database's connections with ``pg_terminate_backend`` (what a restart does to
them). Counting what was stored goes straight to the server, past the proxy.
"""

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select, text

from cei.extensions import db
from tests.conftest import ApiHelper, bearer
from tests.faults.proxy import FaultProxy

BATCH = "/api/v1/timeseries/batch"
LOGIN = "/api/v1/auth/login"


def _proxy_for(url, default_port):
    parts = urlsplit(url)
    return FaultProxy(parts.hostname or "127.0.0.1", parts.port or default_port)


@pytest.fixture
def pg_proxy(postgres_url):
    """A fault proxy in front of the test PostgreSQL server."""
    proxy = _proxy_for(postgres_url, 5432)
    yield proxy
    proxy.close()


def through(proxy, database_url):
    """``database_url`` through ``proxy``, unencrypted (so the proxy can see statements)."""
    url = proxy.url_for(database_url)
    return url + ("&" if "?" in url else "?") + "sslmode=disable"


@pytest.fixture
def pg_app(app, make_app, pg_proxy, postgres_url):
    """An app on the emptied test database, reaching PostgreSQL through ``pg_proxy``."""
    return make_app(DATABASE_URL=through(pg_proxy, postgres_url))


@pytest.fixture
def redis_proxy(redis_url):
    """A fault proxy in front of the test Redis server."""
    proxy = _proxy_for(redis_url, 6379)
    yield proxy
    proxy.close()


def hour_start(hours_ago=0):
    """The start of the UTC hour ``hours_ago`` hours before the current one."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return now - timedelta(hours=hours_ago)


def readings(count, site_id="site-1", meter_id="main", value=10.0, keys=None, first_hour=None):
    """``count`` hourly records of one meter ending with the current hour (keys prefixed
    ``keys``, when given)."""
    first = count - 1 if first_hour is None else first_hour
    records = []
    for i in range(count):
        stamp = hour_start(first - i).strftime("%Y-%m-%dT%H:%M:%SZ")
        record = {"site_id": site_id, "meter_id": meter_id, "timestamp_utc": stamp}
        record["value"] = value + i
        if keys:
            record["idempotency_key"] = f"{keys}-{site_id}-{meter_id}-{i}"
        records.append(record)
    return records


class Tenant:
    """An organization (admin + integration token) that sends batches through a client."""

    def __init__(self, client, org="Faulty Plant"):
        self.client = client
        self.api = ApiHelper(client)
        self.account = self.api.signup(org=org, email=f"admin@{org.lower().replace(' ', '-')}.test")
        self.email = self.account["user"]["email"]
        self.password = self.account["password"]
        self.token = self.api.make_token(self.account, scopes=["ingest", "read"])["token"]
        self.headers = bearer(self.token)
        self.organization_id = self.account["user"]["organization_id"]

    def post(self, records, client=None, **body):
        """POST a batch; return the response."""
        return (client or self.client).post(
            BATCH, json={"records": records, **body}, headers=self.headers
        )

    def send(self, records, client=None, **body):
        """POST a batch, expecting 200; return the result."""
        response = self.post(records, client, **body)
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
        return response.get_json()

    def login(self, client=None):
        """Log the admin in; return the response."""
        return (client or self.client).post(
            LOGIN, json={"email": self.email, "password": self.password}
        )


@pytest.fixture
def table_counts(app):
    """Return ``counts()``: ``{table: rows}`` of every table, read past any proxy."""

    def counts():
        with app.app_context():
            return {
                table.name: db.session.scalar(select(func.count()).select_from(table))
                for table in db.metadata.sorted_tables
            }

    return counts


@pytest.fixture
def terminate_backends(app):
    """Return ``terminate()``: end every other connection to the test database, as a
    PostgreSQL restart does; returns how many were ended."""

    def terminate():
        with app.app_context():
            ended = db.session.scalar(
                text(
                    "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) "
                    "FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            db.session.commit()
            return ended

    return terminate
