"""Tenant isolation matrix: organization A's credentials with organization B's ids.

Every operation of the OpenAPI document whose path takes an id, and every web page that does,
is called by A (admin access token, and an integration token with all scopes) naming what B
holds: the answer is 404 with the error envelope, holds none of B's data, and B's data is the
same afterwards. Ids sent in bodies and query strings never reach another organization.

A new id-taking operation or page fails ``test_every_path_parameter_is_known`` until the
matrix knows which of B's values to put in it.
"""

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from cei import create_app
from cei.extensions import db
from cei.models import Alert, Meter, Site, readings
from cei.models.integration_token import SCOPES
from tests.conftest import FAST_ARGON2, SECRET_LOG_SCANNER, _empty_tables, bearer
from tests.security.conftest import web_login

PASSWORD = "a long enough password"
B_SITE_NAME = "B-secret-plant"
B_ORG_NAME = "B-secret-organization"
B_TOKEN_NAME = "B-secret-token"
B_EMAIL = "b-admin@example.com"
A_SITE, A_METER = "a-plant", "a-main"
B_SITE, B_METER, B_SUB_METER = "b-secret-site", "b-secret-meter", "b-secret-sub"
METHODS = ("get", "post", "put", "patch", "delete")

# Valid bodies, so that a request fails on the lookup and not on validation first.
BODIES = {
    ("patch", "/api/v1/sites/{site_id}"): {"name": "renamed by A"},
    ("post", "/api/v1/sites/{site_id}/meters"): {"meter_id": "planted-by-a"},
    ("patch", "/api/v1/sites/{site_id}/meters/{meter_id}"): {"name": "renamed by A"},
    ("patch", "/api/v1/alerts/{alert_id}"): {"status": "resolved", "note": "closed by A"},
}


def matrix_config(database_url):
    """Rate limits off (many requests from one client), jobs left queued, CSRF off."""
    return {
        "DATABASE_URL": database_url,
        "TESTING": True,
        "SECRET_KEY": "tenant-matrix-secret-key-" + "x" * 32,
        "WTF_CSRF_ENABLED": False,
        "REDIS_URL": None,
        "RATELIMIT_ENABLED": False,
        "ANALYTICS_BACKGROUND": False,
        "JOBS_INLINE": False,
        **FAST_ARGON2,
    }


def call(client, method, path, status, headers, **kwargs):
    response = getattr(client, method)(path, headers=headers, **kwargs)
    assert response.status_code == status, (method, path, response.get_json())
    return response.get_json()


def hourly_records(site_id, meter_id, hours=48, value=10.0):
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return [
        {
            "site_id": site_id,
            "meter_id": meter_id,
            "timestamp_utc": (now - timedelta(hours=hour)).isoformat(),
            "value": value + hour % 5,
        }
        for hour in range(1, hours + 1)
    ]


class Tenant:
    """One organization made through the API: its admin, tokens and what it holds."""

    def __init__(self, app, client, email, org_name, site_id, meter_id, site_name, token_name):
        self.app = app
        self.client = client
        self.email = email
        SECRET_LOG_SCANNER.remember(PASSWORD)
        body = call(
            client,
            "post",
            "/api/v1/auth/signup",
            201,
            {},
            json={"email": email, "password": PASSWORD, "organization_name": org_name},
        )
        self.org_id = body["organization"]["id"]
        self.headers = bearer(body["access_token"])
        created = call(
            client,
            "post",
            "/api/v1/auth/integration-tokens",
            201,
            self.headers,
            json={"name": token_name, "scopes": list(SCOPES)},
        )
        self.token_id, self.token_prefix = created["id"], created["token"][:16]
        self.token_headers = bearer(created["token"])
        call(
            client,
            "post",
            "/api/v1/sites",
            201,
            self.headers,
            json={"site_id": site_id, "name": site_name, "timezone": "UTC"},
        )
        stored = call(
            client,
            "post",
            "/api/v1/timeseries/batch",
            200,
            self.token_headers,
            json={"records": hourly_records(site_id, meter_id)},
        )
        assert stored["ingested"] == 48, stored
        self.site_id, self.meter_id = site_id, meter_id
        run = call(
            client, "post", "/api/v1/analytics/run", 202, self.headers, json={"site_id": site_id}
        )
        self.run_id = run["run_ids"][0]
        report = call(
            client, "post", "/api/v1/reports", 202, self.headers, json={"site_id": site_id}
        )
        self.report_id = report["id"]
        self.alert_id = self._alert()

    def _alert(self):
        """An open alert on the site (the analytics make them; here one is written directly)."""
        with self.app.app_context():
            site = db.session.scalar(
                select(Site).where(
                    Site.organization_id == self.org_id, Site.site_id == self.site_id
                )
            )
            end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
            alert = Alert(
                organization_id=self.org_id,
                site_pk=site.id,
                meter_id=self.meter_id,
                kind="spike",
                severity="critical",
                dedupe_key=f"spike:{self.meter_id}:1",
                period_start=end - timedelta(hours=2),
                period_end=end - timedelta(hours=1),
                kwh_impact=12.5,
                message=f"Spike on {self.site_id}",
                details={},
            )
            db.session.add(alert)
            db.session.commit()
            alert_id = alert.id
            db.session.remove()
        return alert_id

    def state(self):
        """What the organization holds, read through its own credentials and the database."""
        client, headers = self.client, self.headers
        site = call(client, "get", f"/api/v1/sites/{self.site_id}", 200, headers)
        meters = call(client, "get", f"/api/v1/sites/{self.site_id}/meters", 200, headers)
        alert = call(client, "get", f"/api/v1/alerts/{self.alert_id}", 200, headers)
        report = call(client, "get", f"/api/v1/reports/{self.report_id}", 200, headers)
        run = call(client, "get", f"/api/v1/analytics/runs/{self.run_id}", 200, headers)
        tokens = call(client, "get", "/api/v1/auth/integration-tokens", 200, headers)
        whoami = call(client, "get", "/api/v1/auth/whoami", 200, self.token_headers)
        return {
            "site": site,
            "meters": meters,
            "alert": (alert["status"], alert["notes"]),
            "report": report["id"],
            "run": run["id"],
            "tokens": tokens,
            "token_works": whoami["organization"]["id"] if "organization" in whoami else whoami,
            "readings": self.readings_count(),
        }

    def readings_count(self):
        with self.app.app_context():
            count = db.session.scalar(
                select(func.count())
                .select_from(readings)
                .join(Meter, Meter.id == readings.c.meter_pk)
                .where(Meter.organization_id == self.org_id)
            )
            db.session.remove()
        return count


class World:
    """Organizations A and B on one app; B's values for every path parameter."""

    def __init__(self, app):
        self.app = app
        self.client = app.test_client()
        self.a = Tenant(
            app, self.client, "a-admin@example.com", "A Org", A_SITE, A_METER, "A plant", "a-token"
        )
        self.b = Tenant(
            app, self.client, B_EMAIL, B_ORG_NAME, B_SITE, B_METER, B_SITE_NAME, B_TOKEN_NAME
        )
        call(
            self.client,
            "post",
            f"/api/v1/sites/{B_SITE}/meters",
            201,
            self.b.headers,
            json={"meter_id": B_SUB_METER, "name": "B-secret-sub-meter"},
        )
        self.b_values = {
            "site_id": self.b.site_id,
            "meter_id": self.b.meter_id,
            "run_id": self.b.run_id,
            "report_id": self.b.report_id,
            "alert_id": self.b.alert_id,
            "token_id": self.b.token_id,
        }
        self.spec = self.client.get("/openapi.json").get_json()

    def secrets(self, echoed=()):
        """Strings of B that no answer to A may hold (``echoed``: ids A itself sent)."""
        strings = {B_SITE_NAME, B_ORG_NAME, B_TOKEN_NAME, B_EMAIL, "B-secret-sub-meter"}
        strings |= {B_SITE, B_METER, B_SUB_METER, self.b.token_prefix}
        return strings - set(echoed)


@pytest.fixture(scope="module")
def world(database_url):
    app = create_app(matrix_config(database_url))
    with app.app_context():
        _empty_tables()
        db.session.remove()
    yield World(app)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def id_operations(spec):
    """``(method, path template, path parameter names)`` of the operations whose path has ids."""
    found = []
    for path, item in spec["paths"].items():
        names = re.findall(r"{(\w+)}", path)
        if not names:
            continue
        for method in METHODS:
            if method in item:
                found.append((method, path, names))
    return found


def operation_ids():
    """The id-taking operations, read at collection from a throw-away app's document."""
    app = create_app(
        {
            "DATABASE_URL": "sqlite://",
            "TESTING": True,
            "SECRET_KEY": "x" * 40,
            "REDIS_URL": None,
            "ANALYTICS_BACKGROUND": False,
        }
    )
    return [
        (method, path)
        for method, path, _ in id_operations(app.test_client().get("/openapi.json").get_json())
    ]


OPERATIONS = operation_ids()


def assert_no_b_data(world, response, echoed=()):
    text = response.get_data(as_text=True)
    for secret in world.secrets(echoed):
        assert secret not in text, f"B's {secret!r} in the answer to A: {text[:400]}"


def assert_not_found_envelope(response, context):
    assert response.status_code == 404, (context, response.status_code, response.get_data()[:400])
    body = response.get_json()
    assert body is not None, (context, "not JSON", response.get_data()[:200])
    assert body["code"] == "NOT_FOUND" and body["message"] and body["request_id"], (context, body)


def test_every_path_parameter_is_known(world):
    """Each id in a path (API or web) maps to one of B's values; a new one fails here."""
    unknown = {
        (method.upper(), path, name)
        for method, path, names in id_operations(world.spec)
        for name in names
        if name not in world.b_values
    }
    for rule in world.app.url_map.iter_rules():
        if rule.endpoint.startswith("web."):
            unknown |= {
                ("WEB", rule.rule, name)
                for name in rule.arguments
                if name not in world.b_values and name != "kind"
            }
    assert not unknown, f"path parameters the tenant matrix cannot fill with B's ids: {unknown}"
    assert len(OPERATIONS) == len(id_operations(world.spec)) >= 15


@pytest.mark.parametrize("credential", ["access", "integration"])
@pytest.mark.parametrize(
    ("method", "template"), OPERATIONS, ids=[f"{m.upper()} {p}" for m, p in OPERATIONS]
)
def test_another_organizations_ids_are_not_found(world, method, template, credential):
    names = re.findall(r"{(\w+)}", template)
    missing = [name for name in names if name not in world.b_values]
    assert not missing, f"{method.upper()} {template}: no B value for {missing}"
    path = template.format(**{name: world.b_values[name] for name in names})
    headers = world.a.headers if credential == "access" else world.a.token_headers
    before = world.b.state() if method != "get" else None
    kwargs = {}
    if (method, template) in BODIES:
        kwargs["json"] = BODIES[(method, template)]
    elif method in ("post", "put", "patch"):
        body = world.spec["paths"][template][method].get("requestBody")
        assert not (body and body.get("required")), f"{method.upper()} {template}: add a body"
    response = getattr(world.client, method)(path, headers=headers, **kwargs)
    echoed = [str(world.b_values[name]) for name in names]
    assert_no_b_data(world, response, echoed)
    if credential == "integration" and response.status_code == 403:
        # Users-only and admin operations refuse machines before any lookup.
        assert response.get_json()["code"] == "TOKEN_NOT_ALLOWED", response.get_json()
    else:
        assert_not_found_envelope(response, f"{method.upper()} {path} ({credential})")
    if before is not None:
        assert world.b.state() == before, f"{method.upper()} {path} changed B's data"


def test_own_site_with_another_organizations_meter_is_not_found(world):
    for method in ("get", "patch", "delete"):
        kwargs = {"json": {"name": "renamed by A"}} if method == "patch" else {}
        response = getattr(world.client, method)(
            f"/api/v1/sites/{A_SITE}/meters/{B_METER}", headers=world.a.headers, **kwargs
        )
        assert_not_found_envelope(response, method)
        assert_no_b_data(world, response, [B_METER])


def site_query_operations(spec):
    return [
        path
        for path, item in spec["paths"].items()
        if "get" in item
        and any(
            p["name"] == "site_id" and p["in"] == "query" for p in item["get"].get("parameters", [])
        )
    ]


@pytest.mark.parametrize("credential", ["access", "integration"])
def test_site_ids_in_queries_never_show_another_organization(world, credential):
    headers = world.a.headers if credential == "access" else world.a.token_headers
    filtered = site_query_operations(world.spec)
    # The reports list takes no site_id: one sent is ignored, and the list stays A's.
    paths = filtered + ["/api/v1/reports"]
    assert {"/api/v1/alerts", "/api/v1/analytics/runs", "/api/v1/timeseries/summary"} <= set(paths)
    for path in paths:
        for query in (
            {"site_id": B_SITE},
            {"site_id": B_SITE, "meter_id": B_METER},
            {"site_id": A_SITE, "meter_id": B_METER},
        ):
            response = world.client.get(path, headers=headers, query_string=query)
            assert_no_b_data(world, response, [value for value in query.values()])
            context = (path, query, credential)
            if response.status_code == 404:
                assert_not_found_envelope(response, context)
                continue
            assert response.status_code in (200, 422), (context, response.get_json())
            body = response.get_json()
            if response.status_code == 200 and body is not None:
                items = body if isinstance(body, list) else body.get("items")
                if items is not None:
                    if query["site_id"] == B_SITE and path in filtered:
                        assert items == [], context
                    assert all(item.get("site_id") != B_SITE for item in items), context
                    b_ids = {world.b.report_id, world.b.run_id, world.b.alert_id}
                    assert all(item.get("id") not in b_ids for item in items), context


@pytest.mark.parametrize("path", ["/api/v1/analytics/run", "/api/v1/reports"])
def test_site_ids_in_bodies_are_not_found(world, path):
    before = world.b.state()
    response = world.client.post(path, headers=world.a.headers, json={"site_id": B_SITE})
    assert_not_found_envelope(response, path)
    assert_no_b_data(world, response, [B_SITE])
    assert world.b.state() == before


def test_web_pages_with_another_organizations_ids_are_not_found(world):
    browser = world.app.test_client()
    web_login(browser, world.a.email, PASSWORD)
    seen = 0
    for rule in world.app.url_map.iter_rules():
        if not rule.endpoint.startswith("web.") or not rule.arguments:
            continue
        for kind in ("pdf", "csv") if "kind" in rule.arguments else (None,):
            values = {name: world.b_values[name] for name in rule.arguments if name != "kind"}
            if kind:
                values["kind"] = kind
            with world.app.test_request_context():
                from flask import url_for

                path = url_for(rule.endpoint, **values)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                before = world.b.state() if method != "GET" else None
                data = {"status": "resolved", "note": "by A", "is_main": "1", "name": "by A"}
                response = browser.open(
                    path, method=method, data=data if method == "POST" else None
                )
                assert response.status_code == 404, (method, path, response.status_code)
                assert_no_b_data(world, response, [str(v) for v in values.values()])
                if before is not None:
                    assert world.b.state() == before, f"{method} {path} changed B's data"
                seen += 1
    assert seen >= 10


def test_a_batch_naming_another_organizations_site_stores_into_the_callers_own(client, api, app):
    """Ingestion scopes site ids to the caller: B's site id makes (or feeds) A's own site."""
    b = api.signup(org=B_ORG_NAME)
    call(
        client,
        "post",
        "/api/v1/sites",
        201,
        b["headers"],
        json={"site_id": B_SITE, "name": B_SITE_NAME, "timezone": "UTC"},
    )
    call(
        client,
        "post",
        "/api/v1/timeseries/batch",
        200,
        b["headers"],
        json={"records": hourly_records(B_SITE, B_METER, hours=5)},
    )
    a = api.signup(org="A Org")
    records = hourly_records(B_SITE, B_METER, hours=3, value=99.0)
    stored = call(
        client, "post", "/api/v1/timeseries/batch", 200, a["headers"], json={"records": records}
    )
    assert stored["ingested"] == 3, stored
    with app.app_context():
        per_org = dict(
            db.session.execute(
                select(Meter.organization_id, func.count())
                .select_from(readings)
                .join(Meter, Meter.id == readings.c.meter_pk)
                .group_by(Meter.organization_id)
            ).all()
        )
        a_site = db.session.scalar(
            select(Site).where(
                Site.organization_id == a["organization"]["id"], Site.site_id == B_SITE
            )
        )
        assert a_site is not None and a_site.name != B_SITE_NAME
    assert per_org == {b["organization"]["id"]: 5, a["organization"]["id"]: 3}
    b_site = call(client, "get", f"/api/v1/sites/{B_SITE}", 200, b["headers"])
    assert b_site["name"] == B_SITE_NAME
    summary = call(
        client,
        "get",
        "/api/v1/timeseries/summary",
        200,
        b["headers"],
        query_string={"site_id": B_SITE, "window_hours": 24},
    )
    assert "99" not in str(summary.get("max", "")), summary
