"""API conventions: error envelope, request ids, OpenAPI, health."""

import pytest
from werkzeug.exceptions import HTTPException

ENVELOPE_KEYS = {"code", "message", "request_id"}


def assert_envelope(response, status, code):
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert ENVELOPE_KEYS <= set(body)
    assert body["code"] == code
    assert body["request_id"] == response.headers["X-Request-ID"]
    assert "Traceback" not in response.get_data(as_text=True)
    return body


def test_malformed_json_is_400_envelope(client):
    response = client.post(
        "/api/v1/auth/signup", data='{"email": "x@example.com",', content_type="application/json"
    )
    assert_envelope(response, 400, "MALFORMED_JSON")


def test_unknown_route_and_wrong_method(client):
    assert_envelope(client.get("/api/v1/nope"), 404, "NOT_FOUND")
    assert_envelope(client.delete("/api/v1/auth/signup"), 405, "METHOD_NOT_ALLOWED")


def test_oversized_json_body_is_413(make_app):
    client = make_app(MAX_JSON_BODY=1000).test_client()
    response = client.post(
        "/api/v1/auth/signup", data='{"a": "' + "x" * 2000 + '"}', content_type="application/json"
    )
    assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")


def test_validation_error_has_field_detail(client):
    response = client.post("/api/v1/auth/signup", json={"email": "not-an-email"})
    body = assert_envelope(response, 422, "VALIDATION_ERROR")
    assert "email" in str(body["detail"])
    assert "organization_name" in str(body["detail"])


def test_server_error_is_500_envelope_without_traceback(make_app):
    app = make_app(PROPAGATE_EXCEPTIONS=False)

    @app.get("/api/v1/test-boom")
    def boom():
        raise RuntimeError("secret internals")

    response = app.test_client().get("/api/v1/test-boom")
    body = assert_envelope(response, 500, "INTERNAL_ERROR")
    assert "secret internals" not in response.get_data(as_text=True)
    assert "detail" not in body


def test_request_id_is_echoed_when_sane(client):
    response = client.get("/api/v1/health", headers={"X-Request-ID": "abc-123.DEF"})
    assert response.headers["X-Request-ID"] == "abc-123.DEF"
    evil = client.get("/api/v1/health", headers={"X-Request-ID": "bad id\x00<script>"})
    assert evil.headers["X-Request-ID"] != "bad id\x00<script>"
    assert len(evil.headers["X-Request-ID"]) == 32


def test_every_openapi_operation_has_summary_and_auth_scheme(client):
    spec = client.get("/openapi.json").get_json()
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    public = {"/api/v1/auth/signup", "/api/v1/auth/login", "/api/v1/health", "/api/v1/health/ready"}
    operations = 0
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            operations += 1
            assert operation.get("summary"), f"{method.upper()} {path} has no summary"
            if path not in public:
                assert operation.get("security"), f"{method.upper()} {path} has no auth scheme"
    assert operations >= 9


def test_swagger_ui_is_served_offline(client):
    page = client.get("/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/static/swagger-ui/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
    bundle = client.get("/static/swagger-ui/swagger-ui-bundle.js")
    assert bundle.status_code == 200
    bundle.close()


def test_health_and_ready(client):
    assert client.get("/api/v1/health").get_json()["status"] == "ok"
    ready = client.get("/api/v1/health/ready")
    assert ready.status_code == 200
    assert ready.get_json()["checks"]["database"] == "ok"


def test_ready_is_503_when_redis_is_unreachable(make_app):
    # Port 1 on loopback: nothing listens there.
    client = make_app(REDIS_URL="redis://127.0.0.1:1/0").test_client()
    response = client.get("/api/v1/health/ready")
    assert response.status_code == 503
    assert response.get_json()["checks"]["redis"].startswith("error")
    assert response.headers["Retry-After"]


def test_ready_with_real_redis(make_app, redis_url):
    client = make_app(REDIS_URL=redis_url).test_client()
    response = client.get("/api/v1/health/ready")
    assert response.status_code == 200
    assert response.get_json()["checks"]["redis"] == "ok"


def test_ready_is_503_when_database_is_unreachable(make_app):
    client = make_app(DATABASE_URL="postgresql://nobody@127.0.0.1:1/none").test_client()
    response = client.get("/api/v1/health/ready")
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"].startswith("error")


def test_database_outage_on_an_endpoint_is_503_envelope(make_app):
    client = make_app(DATABASE_URL="postgresql://nobody@127.0.0.1:1/none").test_client()
    response = client.post(
        "/api/v1/auth/login", json={"email": "a@example.com", "password": "whatever123"}
    )
    body = assert_envelope(response, 503, "DATABASE_UNAVAILABLE")
    assert response.headers["Retry-After"]
    assert "nobody" not in body["message"]


def test_production_refuses_weak_secret(make_app):
    with pytest.raises(RuntimeError, match="CEI_SECRET_KEY"):
        make_app(CEI_ENV="production", SECRET_KEY="short")
    key = "k3y-" + "0123456789abcdefghij" * 2
    app = make_app(CEI_ENV="production", SECRET_KEY=key)
    assert app.config["SECRET_KEY"] == key


def test_web_errors_stay_html(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert isinstance(HTTPException, type)
