"""Shared fixtures: an app on a clean database, clients, and helpers to make accounts.

The database is SQLite in a temporary folder unless ``CEI_TEST_DATABASE_URL`` names a
PostgreSQL database; Redis is used when ``CEI_TEST_REDIS_URL`` is set. With ``CI=true`` a
configured server that cannot be reached fails the run instead of skipping.
"""

import logging
import os
import re
import traceback

import pytest
from sqlalchemy import create_engine, text

from cei import create_app
from cei.extensions import db

IN_CI = os.environ.get("CI", "").lower() == "true"
TEST_DATABASE_URL = os.environ.get("CEI_TEST_DATABASE_URL")
TEST_REDIS_URL = os.environ.get("CEI_TEST_REDIS_URL")
FAST_ARGON2 = {"ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 1024, "ARGON2_PARALLELISM": 1}


class SecretLogScanner(logging.Handler):
    """Remember every log record that holds an integration token or a known password."""

    TOKEN = re.compile(r"cei_int_[A-Za-z0-9_\-]{16,}")

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.secrets = {"correct horse battery", "a long enough password", "a brand new secret"}
        self.leaks = []
        self.seen = 0

    def remember(self, secret):
        """Also look for ``secret`` (a password a test used)."""
        self.secrets.add(secret)

    def emit(self, record):
        self.seen += 1
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001  (a broken record is still scanned as written)
            text = str(record.msg)
        if record.exc_info and record.exc_info[1] is not None:
            text += "\n" + "".join(traceback.format_exception(*record.exc_info))
        if self.TOKEN.search(text) or any(secret in text for secret in self.secrets):
            self.leaks.append(f"{record.name} {record.levelname}: {text[:300]}")


SECRET_LOG_SCANNER = SecretLogScanner()


@pytest.fixture(scope="session", autouse=True)
def secret_log_scanner():
    """Scan every log record of the whole run; fail at its end if one held a secret."""
    root = logging.getLogger()
    root.addHandler(SECRET_LOG_SCANNER)
    yield SECRET_LOG_SCANNER
    root.removeHandler(SECRET_LOG_SCANNER)
    assert not SECRET_LOG_SCANNER.leaks, "secrets in logs:\n" + "\n".join(
        SECRET_LOG_SCANNER.leaks[:20]
    )


def pytest_collection_modifyitems(items):
    """Mark the tests that need PostgreSQL itself, so a SQLite pass can deselect them."""
    for item in items:
        if "postgres_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


def need_server(what, reason):
    """Fail in CI, skip elsewhere: a test needs a server that is not available."""
    if IN_CI:
        pytest.fail(f"{what} is required in CI: {reason}")
    pytest.skip(f"{what} not available: {reason}")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """The database the suite runs on, with the schema migrated once."""
    if TEST_DATABASE_URL:
        url = TEST_DATABASE_URL
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        try:
            with engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
        except Exception as exc:  # noqa: BLE001
            need_server("PostgreSQL", str(exc).splitlines()[0])
        finally:
            engine.dispose()
    else:
        url = "sqlite:///" + str(tmp_path_factory.mktemp("db") / "cei-test.sqlite3")
    app = create_app({"DATABASE_URL": url, "TESTING": True})
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        db.engine.dispose()
    return url


@pytest.fixture
def is_postgres(database_url):
    """Tell whether the suite runs on PostgreSQL."""
    return database_url.startswith("postgres")


@pytest.fixture
def postgres_url(database_url):
    """The PostgreSQL URL; fails in CI and skips elsewhere when the suite runs on SQLite."""
    if not database_url.startswith("postgres"):
        need_server("PostgreSQL", "set CEI_TEST_DATABASE_URL to a PostgreSQL database")
    return database_url


@pytest.fixture
def redis_url():
    """A reachable Redis URL (flushed), or fail in CI / skip elsewhere."""
    if not TEST_REDIS_URL:
        need_server("Redis", "set CEI_TEST_REDIS_URL")
    import redis

    try:
        client = redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=2)
        client.flushdb()
    except redis.RedisError as exc:
        need_server("Redis", str(exc))
    return TEST_REDIS_URL


def _empty_tables():
    tables = [table.name for table in db.metadata.sorted_tables]
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    else:
        for name in reversed(tables):
            db.session.execute(text(f"DELETE FROM {name}"))
    db.session.commit()


@pytest.fixture
def make_app(database_url, tmp_path):
    """Return a factory of apps on the (emptied) test database."""
    created = []

    def factory(**overrides):
        config = {
            "DATABASE_URL": database_url,
            "TESTING": True,
            "SECRET_KEY": "test-secret-key-" + "x" * 32,
            "WTF_CSRF_ENABLED": False,
            "REDIS_URL": None,
            "ANALYTICS_BACKGROUND": False,
            **FAST_ARGON2,
            **overrides,
        }
        app = create_app(config)
        app.instance_path = str(tmp_path / "instance")
        created.append(app)
        return app

    yield factory
    for app in created:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(make_app):
    """A CEI app on a clean, empty database."""
    application = make_app()
    with application.app_context():
        _empty_tables()
    return application


@pytest.fixture
def client(app):
    """Flask test client."""
    return app.test_client()


class ApiHelper:
    """Sign up users and call the API with their tokens."""

    def __init__(self, client):
        self.client = client
        self.count = 0

    def signup(self, email=None, password="correct horse battery", org="Acme Plant"):
        """Create an organization + admin; return the sign-up response JSON."""
        self.count += 1
        email = email or f"admin{self.count}@example.com"
        SECRET_LOG_SCANNER.remember(password)
        response = self.client.post(
            "/api/v1/auth/signup",
            json={"email": email, "password": password, "organization_name": org},
        )
        assert response.status_code == 201, response.get_json()
        body = response.get_json()
        body["password"] = password
        body["headers"] = bearer(body["access_token"])
        return body

    def make_token(self, account, scopes=None, name="factory"):
        """Create an integration token for ``account``; return the creation response JSON."""
        payload = {"name": name}
        if scopes is not None:
            payload["scopes"] = scopes
        response = self.client.post(
            "/api/v1/auth/integration-tokens", json=payload, headers=account["headers"]
        )
        assert response.status_code == 201, response.get_json()
        return response.get_json()


def bearer(token):
    """Authorization header for a bearer token."""
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api(client):
    """An :class:`ApiHelper` bound to the test client."""
    return ApiHelper(client)


class LiveServer:
    """A real HTTP server (waitress) serving an app on 127.0.0.1 in a background thread.

    The loop polls in short slices and stops between two of them; sockets are closed only
    after it has stopped (closing them under a select() raises EBADF in the loop thread).
    """

    def __init__(self, application, threads=8):
        import threading

        from waitress import create_server

        self.server = create_server(application, host="127.0.0.1", port=0, threads=threads)
        self.url = f"http://127.0.0.1:{self.server.effective_port}"
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="waitress", daemon=True)
        self.thread.start()

    def _loop(self):
        from waitress import wasyncore

        while not self.stopping.is_set():
            wasyncore.loop(timeout=0.05, map=self.server._map, count=1)

    def close(self):
        """Stop serving and release the sockets."""
        from waitress import wasyncore

        self.stopping.set()
        self.thread.join(timeout=5)
        self.server.task_dispatcher.shutdown()
        wasyncore.close_all(self.server._map)


@pytest.fixture
def serve():
    """Return a function that serves an app over real HTTP and gives its base URL."""
    servers = []

    def start(application):
        server = LiveServer(application)
        servers.append(server)
        return server.url

    yield start
    for server in servers:
        server.close()


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def browser_page(tmp_path):
    """A Playwright page in Debian's headless Chromium."""
    if not os.path.exists(CHROMIUM):
        need_server("Chromium", f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        context = browser.new_context()
        page = context.new_page()
        page.set_default_timeout(15000)
        yield page
        context.close()
        browser.close()
