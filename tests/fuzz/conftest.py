"""Fixtures for API fuzzing: one served app per module with an organization worth probing.

The organization has a site with two meters and two days of readings, a queued analysis
run, a queued report and a spare integration token, so that fuzzed requests naming them
reach the code behind the lookups (see ``FuzzTarget.aim``).
"""

from datetime import UTC, datetime, timedelta

import pytest
from schemathesis.core.parameters import ParameterLocation

from cei import create_app
from cei.extensions import db
from cei.models import User
from cei.services import accounts
from tests.conftest import FAST_ARGON2, LiveServer, _empty_tables, bearer

PASSWORD = "a long enough password"
SITE_ID, METER_ID = "site-1", "main"


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
    """The served app, its admin's credentials and the ids of what the organization holds."""

    def __init__(self, app, url):
        self.app = app
        self.url = url
        self.calls = 0
        self.client = app.test_client()
        account = self._call(
            "post",
            "/api/v1/auth/signup",
            201,
            json={"email": "fuzz@example.com", "password": PASSWORD, "organization_name": "Fuzz"},
        )
        self.user_id = account["user"]["id"]
        self.headers = bearer(account["access_token"])
        self.integration_token = self._token("fuzz")["token"]
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        records = [
            {
                "site_id": SITE_ID,
                "meter_id": METER_ID,
                "timestamp_utc": (now - timedelta(hours=hours)).isoformat(),
                "value": 10.0 + hours % 7,
            }
            for hours in range(1, 49)
        ]
        stored = self._call("post", "/api/v1/timeseries/batch", 200, json={"records": records})
        assert stored["ingested"] == len(records), stored
        self._call("post", f"/api/v1/sites/{SITE_ID}/meters", 201, json={"meter_id": "sub-1"})
        run = self._call("post", "/api/v1/analytics/run", 202, json={"site_id": SITE_ID})
        report = self._call("post", "/api/v1/reports", 202, json={"site_id": SITE_ID})
        self.existing = {
            "site_id": SITE_ID,
            "meter_id": METER_ID,
            "token_id": self._token("spare")["id"],
            "run_id": run["run_ids"][0],
            "report_id": report["id"],
        }

    def _call(self, method, path, status, **kwargs):
        response = getattr(self.client, method)(
            path, headers=getattr(self, "headers", {}), **kwargs
        )
        assert response.status_code == status, (path, response.get_json())
        return response.get_json()

    def _token(self, name):
        return self._call(
            "post",
            "/api/v1/auth/integration-tokens",
            201,
            json={"name": name, "scopes": ["ingest", "read"]},
        )

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

    def aim(self, case):
        """Point every other schema-valid request at what exists (ids drawn at random miss).

        Only path parameters generated as valid are replaced (by valid ones), and never for
        DELETE, which would remove what the next requests are aimed at.
        """
        meta = case.meta
        path = meta.components.get(ParameterLocation.PATH) if meta is not None else None
        if path is None or not path.mode.is_positive or case.method.upper() == "DELETE":
            return
        if self.calls % 4 < 2:
            for name in case.path_parameters or {}:
                if name in self.existing:
                    case.path_parameters[name] = self.existing[name]


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
