"""No input causes a 500: hostile values sent to every operation of the OpenAPI document.

The operations, their path and query parameters and the string fields of their bodies are read
from ``/openapi.json``, so a new operation or field is covered without editing this file (an
operation with a body needs a valid baseline in ``BASELINES``; a test says when one is missing).
Each case sends a valid baseline request with one value made hostile and expects a precise 4xx
envelope and an unchanged database. The baselines themselves are checked to succeed, so each
refusal is the hostile value's doing. Values inside batch records and CSV rows fail their
record alone (200, counted in ``failed``), as the ingestion contract says.
"""

import copy
import json
from datetime import UTC, datetime, timedelta
from io import BytesIO
from urllib.parse import quote, urlencode

import pytest
from sqlalchemy import select

from cei import create_app
from cei.extensions import db
from cei.jsonio import MAX_JSON_DEPTH
from tests.conftest import FAST_ARGON2, _empty_tables, bearer

ENVELOPE_KEYS = {"code", "message", "request_id"}
PASSWORD = "correct horse battery"
EMAIL = "owner@example.com"
SITE, METER = "site-1", "meter-1"
BAD_UTF8_MARK = "@@not-utf-8@@"
DEEP_NESTING = 1000

# Hostile values of text; each refused by the rule in cei.text.
TEXT_CLASSES = {"nul": "a\x00b", "surrogate": "a\ud800b"}


def _config(database_url):
    return {
        "DATABASE_URL": database_url,
        "TESTING": True,
        "PROPAGATE_EXCEPTIONS": False,
        "SECRET_KEY": "test-secret-key-" + "x" * 32,
        "WTF_CSRF_ENABLED": False,
        "ANALYTICS_BACKGROUND": False,
        # High limits rather than RATELIMIT_ENABLED=False: the hostile requests still go
        # through the limiter (which reads their bodies for the per-account limits).
        "LOGIN_RATE_LIMIT": "100000 per minute",
        "SIGNUP_RATE_LIMIT": "100000 per minute",
        "REDIS_URL": None,
        **FAST_ARGON2,
    }


def _spec():
    app = create_app(_config("sqlite://"))
    return app.test_client().get("/openapi.json").get_json()


SPEC = _spec()


def _recent_hour():
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    return hour.strftime("%Y-%m-%dT%H:%M:%SZ")


SCHEDULE = {"days": [0, 1, 2], "start": "07:00", "end": "19:00"}
# A valid body per operation and media type; hostile cases change one value of it.
BASELINES = {
    ("post", "/api/v1/auth/signup", "application/json"): {
        "email": "newcomer@example.com",
        "password": PASSWORD,
        "organization_name": "Newcomer Plant",
        "full_name": "Ada Newcomer",
    },
    ("post", "/api/v1/auth/login", "application/json"): {"email": EMAIL, "password": PASSWORD},
    ("post", "/api/v1/auth/login", "application/x-www-form-urlencoded"): {
        "username": EMAIL,
        "password": PASSWORD,
    },
    ("post", "/api/v1/auth/password", "application/json"): {
        "current_password": PASSWORD,
        "new_password": "another horse battery",
    },
    ("post", "/api/v1/auth/integration-tokens", "application/json"): {
        "name": "line 2",
        "scopes": ["read"],
    },
    ("post", "/api/v1/sites", "application/json"): {
        "site_id": "site-2",
        "name": "Plant 2",
        "timezone": "Europe/Rome",
        "location": "Turin",
        "schedule": SCHEDULE,
        "tariff_per_kwh": 0.25,
    },
    ("patch", "/api/v1/sites/{site_id}", "application/json"): {
        "name": "Plant 1 renamed",
        "timezone": "Europe/Rome",
        "location": "Milan",
        "schedule": SCHEDULE,
    },
    ("post", "/api/v1/sites/{site_id}/meters", "application/json"): {
        "meter_id": "meter-2",
        "name": "Line 2",
        "is_main": False,
        "interval_minutes": 15,
    },
    ("patch", "/api/v1/sites/{site_id}/meters/{meter_id}", "application/json"): {
        "name": "Main meter",
        "is_main": True,
        "interval_minutes": 30,
    },
    ("post", "/api/v1/timeseries/batch", "application/json"): {
        "records": [
            {
                "site_id": SITE,
                "meter_id": METER,
                "timestamp_utc": _recent_hour(),
                "value": 1.5,
                "unit": "kWh",
                "idempotency_key": "reading-1",
                "interval_minutes": 60,
            }
        ],
        "source": "hostile-input-test",
        "on_conflict": "reject",
    },
    ("post", "/api/v1/analytics/run", "application/json"): {"site_id": SITE},
    ("patch", "/api/v1/alerts/{alert_id}", "application/json"): {
        "status": "ack",
        "note": "Checked the compressor",
    },
    ("patch", "/api/v1/organization/settings", "application/json"): {
        "currency": "EUR",
        "tariff_per_kwh": 0.22,
        "emission_factor_kg_per_kwh": 0.25,
        "deviation_warning_pct": 12.0,
        "deviation_critical_pct": 35.0,
    },
    ("post", "/api/v1/reports", "application/json"): {"site_id": SITE, "period_end": "2026-01-04"},
    ("post", "/api/v1/timeseries/upload", "multipart/form-data"): {
        "site_id": SITE,
        "meter_id": METER,
        "unit": "kWh",
        "on_conflict": "reject",
        "source": "hostile-input-test",
    },
}
# Valid path and query parameter values (the world below makes them exist).
PATH_VALUES = {"site_id": SITE, "meter_id": METER}
QUERY_VALUES = {
    "site_id": SITE,
    "meter_id": METER,
    "start": "2026-01-01T00:00:00Z",
    "end": "2026-01-02T00:00:00Z",
    "resolution": "hour",
    "window_hours": "24",
    "status": "open",
    "severity": "warning",
    "kind": "spike",
    "limit": "10",
    "offset": "0",
    "horizon_hours": "24",
}
# Where one name means different things: analysis runs are queued/running/…, not open.
QUERY_VALUES_BY_PATH = {("/api/v1/analytics/runs", "status"): "queued"}
# Per-record fields of a batch: a bad value fails its record (200, counted in `failed`).
RECORD_FIELDS = ("records",)


def _resolve(schema):
    while "$ref" in schema:
        schema = SPEC["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _string_paths(schema, path=()):
    """Yield the path (keys, 0 for list items) of every string field a body schema holds."""
    schema = _resolve(schema)
    for combined in ("allOf", "anyOf", "oneOf"):
        for part in schema.get(combined, ()):
            yield from _string_paths(part, path)
    kind = schema.get("type")
    if kind == "string" and schema.get("format") != "binary":
        yield path
    elif kind == "array":
        yield from _string_paths(schema.get("items", {}), (*path, 0))
    for name, field_schema in schema.get("properties", {}).items():
        yield from _string_paths(field_schema, (*path, name))


def _operations():
    for path, item in SPEC["paths"].items():
        shared = item.get("parameters", [])
        for method, operation in item.items():
            if method == "parameters":
                continue
            yield method, path, shared + operation.get("parameters", []), operation


def _bodies():
    for method, path, _, operation in _operations():
        for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
            yield method, path, media_type, content["schema"]


def _id(*parts):
    return " ".join(str(part) for part in parts)


def _body_cases():
    for method, path, media_type, schema in _bodies():
        where = "json" if media_type == "application/json" else "form"
        classes = ["nul", "surrogate", "invalid_utf8"] if where == "json" else ["nul"]
        for field in sorted(set(_string_paths(schema)), key=str):
            for hostile in classes:
                yield pytest.param(
                    method,
                    path,
                    media_type,
                    field,
                    hostile,
                    id=_id(method, path, media_type, "/".join(map(str, field)), hostile),
                )


def _param_cases():
    for method, path, parameters, _ in _operations():
        for parameter in parameters:
            kind = parameter.get("schema", {}).get("type")
            if kind == "string":
                hostiles = ["nul", "invalid_utf8"]
            elif kind == "integer" and parameter["in"] == "path":
                hostiles = ["int32_overflow", "int64_overflow", "huge_number"]
            else:
                continue
            for hostile in hostiles:
                yield pytest.param(
                    method,
                    path,
                    parameter["in"],
                    parameter["name"],
                    hostile,
                    id=_id(method, path, parameter["in"], parameter["name"], hostile),
                )


def _json_operations():
    for method, path, media_type, _ in _bodies():
        if media_type == "application/json":
            for depth in (MAX_JSON_DEPTH + 1, DEEP_NESTING):
                yield pytest.param(method, path, depth, id=_id(method, path, depth))


def _csv_cases():
    """Every record field as a CSV column (uploads go through the batch's checks)."""
    record = _resolve({"$ref": "#/components/schemas/BatchRecord"})
    for column, schema in record["properties"].items():
        hostiles = ["nul", "invalid_utf8"]
        if schema.get("type") in {"integer", "number"}:
            # str.isdigit() is true for "²" while int() refuses it.
            hostiles.append("superscript_digit")
        for hostile in hostiles:
            yield pytest.param(column, hostile, id=_id(column, hostile))


class World:
    """One organization with a site, a meter and a token, and a client to attack it with."""

    def __init__(self, app):
        self.app = app
        self.client = app.test_client()
        response = self.client.post(
            "/api/v1/auth/signup",
            json={"email": EMAIL, "password": PASSWORD, "organization_name": "Target Plant"},
        )
        assert response.status_code == 201, response.get_json()
        self.headers = bearer(response.get_json()["access_token"])
        for url, body in (
            ("/api/v1/sites", {"site_id": SITE}),
            (f"/api/v1/sites/{SITE}/meters", {"meter_id": METER}),
            ("/api/v1/auth/integration-tokens", {"name": "line 1"}),
        ):
            response = self.client.post(url, json=body, headers=self.headers)
            assert response.status_code == 201, response.get_json()
        self.path_values = {
            **PATH_VALUES,
            "token_id": str(response.get_json()["id"]),
            "alert_id": str(self._make_alert()),
            "run_id": str(self._queue_run()),
            "report_id": str(self._report(response.get_json()["id"])),
        }

    def _queue_run(self):
        """A queued analysis run of the site; return its id."""
        response = self.client.post(
            "/api/v1/analytics/run", json={"site_id": SITE}, headers=self.headers
        )
        assert response.status_code == 202, response.get_json()
        return response.get_json()["run_ids"][0]

    def _make_alert(self):
        """An open alert on the site, as an analysis would raise it; return its id."""
        import pandas as pd

        from cei.models import Alert, Site
        from cei.plugins.base import Finding
        from cei.services.analytics.alerts import record_findings
        from cei.services.analytics.factors import site_factors

        with self.app.app_context():
            site = db.session.scalars(select(Site).where(Site.site_id == SITE)).one()
            start = pd.Timestamp(_recent_hour())
            finding = Finding(
                kind="spike",
                severity="warning",
                key="spike:hostile-input",
                period_start=start,
                period_end=start + pd.Timedelta(hours=1),
                message="A planted spike",
                kwh_impact=5.0,
            )
            record_findings(site, [("spikes", finding)], site_factors(site))
            db.session.commit()
            return db.session.scalars(select(Alert.id)).one()

    def _report(self, token_id):
        """A generated report of the organization (its files stand-ins), for report paths."""
        from cei.models import IntegrationToken, Report

        with self.app.app_context():
            organization_id = db.session.get(IntegrationToken, token_id).organization_id
            report = Report(
                organization_id=organization_id,
                kind="portfolio",
                period_first=datetime(2026, 1, 1).date(),
                period_last=datetime(2026, 1, 7).date(),
                timezone="UTC",
                status="succeeded",
                pdf=b"%PDF-1.7 stand-in",
                csv=b"section\r\n",
            )
            db.session.add(report)
            db.session.commit()
            return report.id

    def snapshot(self):
        """Every row of every table, to tell that a request stored nothing."""
        with self.app.app_context():
            return {
                table.name: sorted(map(repr, db.session.execute(select(table)).all()))
                for table in db.metadata.sorted_tables
            }

    def url(self, path, path_values=None, query=""):
        values = {**self.path_values, **(path_values or {})}
        for name, value in values.items():
            path = path.replace("{" + name + "}", value)
        return path + ("?" + query if query else "")

    def send(self, method, url, media_type=None, body=None, raw=None):
        """Send ``body`` (a dict) or ``raw`` bytes as ``media_type``."""
        if media_type == "multipart/form-data":
            body = {**body, "file": (BytesIO(_csv()), "readings.csv")}
        if media_type is None:
            return self.client.open(url, method=method.upper(), headers=self.headers)
        if media_type == "application/json" and raw is None:
            raw = json.dumps(body).encode()
        return self.client.open(
            url,
            method=method.upper(),
            headers=self.headers,
            data=raw if raw is not None else body,
            content_type=media_type,
        )


def _csv():
    return f"timestamp_utc,value\n{_recent_hour()},2.5\n".encode()


CSV_ROW = {
    "site_id": SITE,
    "meter_id": METER,
    "timestamp_utc": _recent_hour(),
    "value": "2.5",
    "unit": "kWh",
    "idempotency_key": "row-1",
    "interval_minutes": "60",
}
HOSTILE_CELLS = {
    "nul": b"a\x00b",
    "invalid_utf8": b"a\xffb",
    "superscript_digit": "\u00b2".encode(),
}


def _make_world(database_url):
    app = create_app(_config(database_url))
    with app.app_context():
        _empty_tables()
    return World(app)


@pytest.fixture(scope="module")
def world(database_url):
    """The world the hostile cases attack; each case checks its own before/after."""
    world = _make_world(database_url)
    yield world
    with world.app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def fresh_world(database_url):
    """A world for one test that changes it (the baselines succeed)."""
    world = _make_world(database_url)
    yield world
    with world.app.app_context():
        db.session.remove()
        db.engine.dispose()


def assert_envelope(response, statuses, code=None):
    """Check a 4xx answer in the JSON error envelope; return its body."""
    text = response.get_data(as_text=True)
    assert response.status_code in statuses, f"{response.status_code}: {text[:300]}"
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert ENVELOPE_KEYS <= set(body)
    assert body["request_id"] == response.headers["X-Request-ID"]
    if code is not None:
        assert body["code"] == code
    return body


def _set(document, path, value):
    target = document
    for key in path[:-1]:
        target = target[key]
    if isinstance(target, list) and path[-1] >= len(target):
        target.append(value)
    else:
        target[path[-1]] = value


def _detail_at(detail, location, path):
    """The error messages ``detail`` gives for ``path`` under ``location``, or None."""
    node = detail.get(location) if isinstance(detail, dict) else None
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(str(key), node.get(key))
    return node


def _baseline(method, path, media_type):
    return copy.deepcopy(BASELINES[(method, path, media_type)])


def _query(method, path, parameters, name=None, value=None):
    """A valid query for the operation, with ``name`` set to ``value`` (raw, URL-encoded)."""
    names = [p["name"] for p in parameters if p["in"] == "query"]
    values = {
        n: QUERY_VALUES_BY_PATH.get((path, n), QUERY_VALUES[n])
        for n in names
        if n != "window_hours"
    }
    if name == "window_hours":
        values.pop("start", None)
        values.pop("end", None)
    if name is not None:
        values.pop(name, None)
    query = urlencode(values)
    if name is not None:
        query += f"&{name}={value}"
    return query


def _parameters(method, path):
    for op_method, op_path, parameters, _ in _operations():
        if (op_method, op_path) == (method, path):
            return parameters
    raise AssertionError(f"{method} {path} not in the OpenAPI document")


def test_every_body_has_a_baseline():
    missing = [
        (method, path, media_type)
        for method, path, media_type, _ in _bodies()
        if (method, path, media_type) not in BASELINES
    ]
    assert not missing, f"add a valid body to BASELINES for {missing}"


@pytest.mark.parametrize(
    ("method", "path", "media_type"), [key for key in BASELINES], ids=lambda part: str(part)
)
def test_baseline_succeeds(fresh_world, method, path, media_type):
    parameters = _parameters(method, path)
    url = fresh_world.url(path, query=_query(method, path, parameters))
    response = fresh_world.send(method, url, media_type, _baseline(method, path, media_type))
    assert response.status_code in {200, 201, 202, 204}, response.get_data(as_text=True)[:300]
    if path.startswith("/api/v1/timeseries/"):
        result = response.get_json()
        assert result["failed"] == 0 and result["ingested"] == 1, result


def test_baseline_parameters_succeed(world):
    for method, path, parameters, _ in _operations():
        if method != "get":
            continue
        url = world.url(path, query=_query(method, path, parameters))
        response = world.send(method, url)
        assert response.status_code == 200, (url, response.get_data(as_text=True)[:300])


@pytest.mark.parametrize(("method", "path", "media_type", "field", "hostile"), list(_body_cases()))
def test_hostile_body_field_is_refused(world, method, path, media_type, field, hostile):
    body = _baseline(method, path, media_type)
    if hostile == "invalid_utf8":
        _set(body, field, f"a{BAD_UTF8_MARK}b")
        raw = json.dumps(body, ensure_ascii=False).encode().replace(BAD_UTF8_MARK.encode(), b"\xff")
    else:
        _set(body, field, TEXT_CLASSES[hostile])
        raw = json.dumps(body).encode() if media_type == "application/json" else None
    parameters = _parameters(method, path)
    url = world.url(path, query=_query(method, path, parameters))
    before = world.snapshot()

    response = world.send(method, url, media_type, body, raw=raw)

    if hostile == "invalid_utf8":
        assert_envelope(response, {400}, "MALFORMED_JSON")
    elif field[0] in RECORD_FIELDS:
        # A bad record fails alone, by the ingestion contract: 200 with its error.
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        result = response.get_json()
        assert (result["failed"], result["ingested"], result["updated"]) == (1, 0, 0), result
        assert result["errors"][0]["code"].startswith("INVALID_"), result
    else:
        body = assert_envelope(response, {422}, "VALIDATION_ERROR")
        where = "json" if media_type == "application/json" else "form"
        named = _detail_at(body.get("detail"), where, field) or _detail_at(
            {where: body.get("detail")}, where, field
        )
        assert named, f"the error does not name {field}: {body}"
    assert world.snapshot() == before


@pytest.mark.parametrize(("method", "path", "depth"), list(_json_operations()))
def test_deeply_nested_json_under_an_ignored_key_is_refused(world, method, path, depth):
    body = json.dumps(_baseline(method, path, "application/json"))
    deep = "[" * depth + "]" * depth
    raw = (body[:-1] + f', "ignored": {deep}' + "}").encode()
    url = world.url(path, query=_query(method, path, _parameters(method, path)))
    before = world.snapshot()

    response = world.send(method, url, "application/json", raw=raw)

    assert_envelope(response, {400}, "MALFORMED_JSON")
    assert world.snapshot() == before


HOSTILE_PARAMETERS = {
    "nul": quote("a\x00b", safe=""),
    "invalid_utf8": "a%FFb",
    "int32_overflow": str(2**31),
    "int64_overflow": str(2**63),
    "huge_number": "9" * 5000,
}


@pytest.mark.parametrize(("method", "path", "where", "name", "hostile"), list(_param_cases()))
def test_hostile_parameter_is_refused(world, method, path, where, name, hostile):
    parameters = _parameters(method, path)
    value = HOSTILE_PARAMETERS[hostile]
    if where == "path":
        url = world.url(path, {name: value}, query=_query(method, path, parameters))
    else:
        url = world.url(path, query=_query(method, path, parameters, name, value))
    media_type = next(
        (m for (m_, p, m) in BASELINES if (m_, p) == (method, path) and m == "application/json"),
        None,
    )
    body = _baseline(method, path, media_type) if media_type else None
    before = world.snapshot()

    response = world.send(method, url, media_type, body)

    if hostile == "nul":
        body = assert_envelope(response, {422}, "VALIDATION_ERROR")
        assert body["detail"][where][name], body
    elif hostile == "invalid_utf8":
        # Undecodable bytes arrive as U+FFFD: a value no site, meter or time has.
        assert_envelope(response, {404, 422})
    else:
        assert_envelope(response, {404}, "NOT_FOUND")
    assert world.snapshot() == before


def test_the_cases_cover_what_the_issue_names():
    body_cases = {(p.values[1], p.values[3], p.values[4]) for p in _body_cases()}
    assert ("/api/v1/auth/login", ("email",), "surrogate") in body_cases
    assert ("/api/v1/auth/login", ("password",), "surrogate") in body_cases
    assert ("/api/v1/auth/signup", ("email",), "nul") in body_cases
    assert ("/api/v1/sites", ("name",), "surrogate") in body_cases
    assert ("/api/v1/sites/{site_id}/meters", ("name",), "nul") in body_cases
    assert ("/api/v1/auth/integration-tokens", ("name",), "surrogate") in body_cases
    assert ("/api/v1/auth/integration-tokens", ("scopes", 0), "nul") in body_cases
    assert ("/api/v1/sites", ("schedule", "start"), "nul") in body_cases
    assert ("/api/v1/timeseries/batch", ("records", 0, "site_id"), "invalid_utf8") in body_cases
    param_cases = {(p.values[1], p.values[2], p.values[3], p.values[4]) for p in _param_cases()}
    assert ("/api/v1/sites/{site_id}/meters/{meter_id}", "path", "meter_id", "nul") in param_cases
    assert ("/api/v1/timeseries/summary", "query", "site_id", "nul") in param_cases
    assert (
        "/api/v1/auth/integration-tokens/{token_id}",
        "path",
        "token_id",
        "int64_overflow",
    ) in param_cases


@pytest.mark.parametrize(("column", "hostile"), list(_csv_cases()))
def test_hostile_csv_cell_fails_its_row(world, column, hostile):
    cells = {name: value.encode() for name, value in CSV_ROW.items()}
    cells[column] = HOSTILE_CELLS[hostile]
    csv = b",".join(name.encode() for name in cells) + b"\n" + b",".join(cells.values()) + b"\n"
    before = world.snapshot()

    response = world.client.post(
        "/api/v1/timeseries/upload",
        data={"file": (BytesIO(csv), "readings.csv")},
        headers=world.headers,
        content_type="multipart/form-data",
    )

    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    result = response.get_json()
    assert (result["failed"], result["ingested"], result["updated"]) == (1, 0, 0), result
    assert result["errors"][0]["code"].startswith("INVALID_"), result
    assert world.snapshot() == before


def test_csv_cases_cover_every_record_field():
    columns = {p.values[0] for p in _csv_cases()}
    assert set(CSV_ROW) == columns
