"""Fixtures for the factory client: the real app on a real HTTP server, accounts, a proxy.

The client runs as a subprocess (``sys.executable client/factory_client.py``) against CEI
served by waitress on 127.0.0.1, exactly as a factory machine would talk to it.
"""

import csv
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

CLIENT = Path(__file__).resolve().parents[2] / "client" / "factory_client.py"
SITE, METER = "site-22", "main-meter"


@dataclass
class LiveServer:
    """CEI served over HTTP on 127.0.0.1."""

    url: str

    def get(self, path, token, **params):
        """GET an API path with a bearer token; return the response."""
        return requests.get(self.url + path, params=params, headers=bearer(token), timeout=10)


def bearer(token):
    """Authorization header for a bearer token."""
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def live_server(app, serve):
    """Serve ``app`` with waitress on a free port of 127.0.0.1 for the test."""
    return LiveServer(serve(app))


@dataclass
class Account:
    """An organization's admin (user access token) and its integration token."""

    access_token: str
    integration_token: str
    token_id: int
    server: LiveServer = field(repr=False)

    def new_integration_token(self, name="factory-2"):
        """Create another integration token; return the raw token."""
        body = create_integration_token(self.server, self.access_token, name)
        return body["token"]

    def revoke(self, token_id=None):
        """Revoke an integration token (the account's own by default)."""
        response = requests.delete(
            f"{self.server.url}/api/v1/auth/integration-tokens/{token_id or self.token_id}",
            headers=bearer(self.access_token),
            timeout=10,
        )
        assert response.status_code == 204, response.text

    def series(self, site_id, meter_id, window_hours=24):
        """Return the hourly points of a meter over the last ``window_hours``."""
        response = self.server.get(
            "/api/v1/timeseries/series",
            self.access_token,
            site_id=site_id,
            meter_id=meter_id,
            window_hours=window_hours,
            resolution="hour",
        )
        assert response.status_code == 200, response.text
        return response.json()["points"]

    def export_rows(self, site_id, window_hours):
        """Return the exported CSV rows (without header) of a site over a window."""
        response = self.server.get(
            "/api/v1/timeseries/export",
            self.access_token,
            site_id=site_id,
            window_hours=window_hours,
        )
        assert response.status_code == 200, response.text
        lines = response.text.splitlines()
        assert lines[0].split(",")[:4] == ["timestamp_utc", "site_id", "meter_id", "value"]
        return [line.split(",") for line in lines[1:] if line]

    def upload(self, path, **form):
        """Send a CSV file through ``POST /api/v1/timeseries/upload``; return the result."""
        with open(path, "rb") as handle:
            response = requests.post(
                f"{self.server.url}/api/v1/timeseries/upload",
                files={"file": (Path(path).name, handle, "text/csv")},
                data=form,
                headers=bearer(self.integration_token),
                timeout=30,
            )
        assert response.status_code == 200, response.text
        return response.json()


def create_integration_token(server, access_token, name):
    """Create an integration token through the API; return the creation response body."""
    response = requests.post(
        f"{server.url}/api/v1/auth/integration-tokens",
        json={"name": name, "scopes": ["ingest", "read"]},
        headers=bearer(access_token),
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()


def sign_up(server, email, organization_name):
    """Sign up through HTTP and create an integration token; return the :class:`Account`."""
    response = requests.post(
        f"{server.url}/api/v1/auth/signup",
        json={
            "email": email,
            "password": "correct horse battery staple",
            "organization_name": organization_name,
        },
        timeout=10,
    )
    assert response.status_code == 201, response.text
    access_token = response.json()["access_token"]
    token = create_integration_token(server, access_token, "factory client")
    assert token["token"].startswith("cei_int_")
    return Account(access_token, token["token"], token["id"], server)


@pytest.fixture
def account(live_server):
    """The organization the client sends for (signed up through HTTP), with its token."""
    return sign_up(live_server, "energy.manager@factory.example", "Factory 22")


@pytest.fixture
def second_account(live_server):
    """Another organization on the same server, to compare the client with the upload."""
    return sign_up(live_server, "energy.manager@twin-factory.example", "Twin factory")


@dataclass
class ClientRun:
    """What one run of the factory client did."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def summary(self):
        """The first stdout line: ``Ingested: X, Skipped duplicates: Y, Failed: Z``."""
        return self.stdout.splitlines()[0] if self.stdout else ""

    @property
    def output(self):
        """Everything the run printed."""
        return self.stdout + self.stderr


@pytest.fixture
def spool_dir(tmp_path):
    """The spool directory the client runs of a test share."""
    return tmp_path / "spool"


@pytest.fixture
def run_client(live_server, account, spool_dir, tmp_path):
    """Return a function that runs the factory client as a subprocess and waits for it.

    By default it talks to the live server with the account's integration token, and
    retries little and fast so failing deliveries take milliseconds.
    """

    def run(*args, base_url=None, token=None, env=None, timeout=60):
        variables = {
            "CEI_BASE_URL": base_url or live_server.url,
            "CEI_INT_TOKEN": token or account.integration_token,
            "CEI_CLIENT_SPOOL_DIR": str(spool_dir),
            "CEI_CLIENT_RETRIES": "2",
            "CEI_CLIENT_BACKOFF": "0.01",
            "CEI_CLIENT_TIMEOUT": "10",
            **(env or {}),
        }
        return run_factory_client(*args, env=variables, cwd=tmp_path, timeout=timeout)

    return run


def run_factory_client(*args, env, cwd, timeout=60):
    """Run client/factory_client.py with only ``env`` as CEI settings; return a ClientRun."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("CEI_")}
    environment.update(NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    environment.update(env)
    completed = subprocess.run(
        [sys.executable, str(CLIENT), *map(str, args)],
        env=environment,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return ClientRun(completed.returncode, completed.stdout, completed.stderr)


class FaultProxy:
    """An HTTP proxy on 127.0.0.1 in front of the live server that can fail the first POSTs.

    ``fail_posts`` POSTs are answered according to ``mode`` before POSTs are forwarded:
    ``"503"`` answers 503 with ``Retry-After: 0`` without forwarding; ``"drop"`` forwards
    the POST (so the server stores it) and then closes the connection without an answer,
    as a response lost on the network. ``max_records`` answers 413 to batches holding more
    records, like a server with a smaller batch limit.
    """

    def __init__(self, upstream, fail_posts=0, mode="503", max_records=None):
        self.upstream = urlsplit(upstream)
        self.fail_posts = fail_posts
        self.mode = mode
        self.max_records = max_records
        self.batch_sizes = []
        self.posts = 0
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _handler_class(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):
                pass

            def do_GET(self):
                self.answer(*self.forward(self.read_body()))

            def do_DELETE(self):
                self.answer(*self.forward(self.read_body()))

            def do_POST(self):
                body = self.read_body()
                with proxy.lock:
                    proxy.posts += 1
                    failing = proxy.posts <= proxy.fail_posts
                    records = len(json.loads(body or b"{}").get("records", []))
                    proxy.batch_sizes.append(records)
                if proxy.max_records is not None and records > proxy.max_records:
                    self.answer(
                        413,
                        b'{"code":"BATCH_TOO_LARGE","message":"injected batch limit"}',
                        {"Content-Type": "application/json"},
                    )
                    return
                if failing and proxy.mode == "503":
                    self.answer(
                        503,
                        b'{"code":"INJECTED_OUTAGE","message":"injected by the test proxy"}',
                        {"Retry-After": "0", "Content-Type": "application/json"},
                    )
                    return
                status, payload, headers = self.forward(body)
                if failing:  # "drop": the server stored the batch, the client never hears
                    self.close_connection = True
                    return
                self.answer(status, payload, headers)

            def read_body(self):
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def forward(self, body):
                """Send the request upstream; return (status, body, headers to pass on)."""
                connection = http.client.HTTPConnection(
                    proxy.upstream.hostname, proxy.upstream.port, timeout=30
                )
                try:
                    headers = {
                        key: value
                        for key, value in self.headers.items()
                        if key.lower() not in ("host", "connection", "content-length")
                    }
                    connection.request(self.command, self.path, body=body or None, headers=headers)
                    upstream = connection.getresponse()
                    payload = upstream.read()
                    passed = {
                        key: value
                        for key, value in upstream.getheaders()
                        if key.lower() not in ("connection", "transfer-encoding", "content-length")
                    }
                    return upstream.status, payload, passed
                finally:
                    connection.close()

            def answer(self, status, payload, headers):
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def fault_proxy(live_server):
    """Return a factory of :class:`FaultProxy` in front of the live server, closed at teardown."""
    proxies = []

    def make(fail_posts=0, mode="503", max_records=None):
        proxy = FaultProxy(live_server.url, fail_posts, mode, max_records).__enter__()
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.__exit__(None, None, None)


@pytest.fixture
def unused_port():
    """A port on 127.0.0.1 where nothing listens (a server that is down)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def clear_of_hour_boundary(margin_seconds=20):
    """Wait until the current hour has at least ``margin_seconds`` left.

    Ramp mode and recent-row filters depend on the current hour; two runs that straddle an
    hour boundary would see different hours.
    """
    now = datetime.now(UTC)
    next_hour = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    left = (next_hour - now).total_seconds()
    if left < margin_seconds:
        time.sleep(left + 1)


def current_hour():
    """The start of the current UTC hour."""
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def iso(moment):
    """ISO 8601 with Z, as factories write it."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def stored(account, site_id, meter_id, window_hours=24):
    """Return {hour: value} of the non-empty hourly points the API reports."""
    points = account.series(site_id, meter_id, window_hours)
    assert len(points) == window_hours
    return {
        datetime.fromisoformat(point["ts"]).astimezone(UTC): point["value"]
        for point in points
        if point["value"] is not None
    }


def ramp_values(hours):
    """What ramp mode sends for ``hours``: base 100 + the UTC hour of day of each hour."""
    now = current_hour()
    hours_sent = [now - timedelta(hours=i) for i in range(hours)]
    return {moment: 100.0 + moment.hour for moment in hours_sent}


def write_csv(path, header, rows, delimiter=","):
    """Write a CSV file and return its path."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def spooled(spool_dir):
    """Return the records of every spooled batch, oldest file first."""
    files = sorted(spool_dir.glob("batch-*.json")) if spool_dir.exists() else []
    return [json.loads(path.read_text())["records"] for path in files]


def summary(ingested, skipped, failed, updated=None, spool=0):
    """The client's summary line (``updated`` shown when given, ``spool`` when not 0)."""
    line = f"Ingested: {ingested}, Skipped duplicates: {skipped}, Failed: {failed}"
    if updated is not None:
        line += f", Updated: {updated}"
    if spool:
        line += f", Spooled: {spool}"
    return line
