"""Fixtures for API fuzzing: one served app per module, an admin account and its credentials."""

import pytest

from cei import create_app
from cei.extensions import db
from cei.models import User
from cei.services import accounts
from tests.conftest import FAST_ARGON2, LiveServer, _empty_tables, bearer

PASSWORD = "a long enough password"


def fuzz_config(database_url):
    """The config of the fuzzed app: the test database, rate limits off, jobs left queued."""
    return {
        "DATABASE_URL": database_url,
        "TESTING": True,
        "SECRET_KEY": "fuzz-test-secret-key-" + "x" * 32,
        "WTF_CSRF_ENABLED": True,
        "REDIS_URL": None,
        # Rate limits have their own tests (tests/security); here they would turn most
        # requests into 429s before the view is reached.
        "RATELIMIT_ENABLED": False,
        "ANALYTICS_BACKGROUND": False,
        "JOBS_INLINE": False,
        "PROPAGATE_EXCEPTIONS": False,
        **FAST_ARGON2,
    }


class FuzzTarget:
    """The served app and the credentials of its admin."""

    def __init__(self, app, url):
        self.app = app
        self.url = url
        client = app.test_client()
        response = client.post(
            "/api/v1/auth/signup",
            json={"email": "fuzz@example.com", "password": PASSWORD, "organization_name": "Fuzz"},
        )
        assert response.status_code == 201, response.get_json()
        self.user_id = response.get_json()["user"]["id"]
        created = client.post(
            "/api/v1/auth/integration-tokens",
            json={"name": "fuzz", "scopes": ["ingest", "read"]},
            headers=bearer(response.get_json()["access_token"]),
        )
        assert created.status_code == 201, created.get_json()
        self.integration_token = created.get_json()["token"]

        self.calls = 0

    def user_headers(self):
        """A fresh access token of the admin (a fuzzed logout ends the earlier ones)."""
        with self.app.app_context():
            token, _ = accounts.issue_access_token(db.session.get(User, self.user_id))
            db.session.remove()
        return bearer(token)

    def next_credentials(self):
        """The admin's access token and the integration token, in turn."""
        self.calls += 1
        return self.user_headers() if self.calls % 2 else bearer(self.integration_token)


@pytest.fixture(scope="module")
def fuzz_target(database_url):
    """The module's app on the emptied test database, served on 127.0.0.1."""
    app = create_app(fuzz_config(database_url))
    with app.app_context():
        _empty_tables()
    server = LiveServer(app)
    yield FuzzTarget(app, server.url)
    server.close()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
