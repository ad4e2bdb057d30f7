"""Security headers on every response (pages, JSON, CSV, errors, static files); Allow on 405."""

import pytest

from cei.headers import CONTENT_SECURITY_POLICY
from tests.ingest.conftest import hourly
from tests.security.conftest import STRONG_SECRET

EXPECTED = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
}


def assert_security_headers(response, production=False):
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (name, response.headers)
    hsts = response.headers.get("Strict-Transport-Security")
    assert (hsts is not None) == production
    if production:
        assert "max-age=31536000" in hsts
    assert "Werkzeug" not in response.headers.get("Server", "")


def test_policy_allows_no_inline_code():
    directives = dict(part.split(" ", 1) for part in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY


def test_every_kind_of_response_has_them(client, api):
    account = api.signup()
    token = api.make_token(account)["token"]
    headers = {"Authorization": f"Bearer {token}"}
    ingest = client.post("/api/v1/timeseries/batch", json={"records": hourly(2)}, headers=headers)
    assert ingest.status_code == 200
    csv = client.get(
        "/api/v1/timeseries/export", query_string={"site_id": "site-22"}, headers=headers
    )
    assert csv.mimetype == "text/csv", csv.get_data(as_text=True)[:300]
    responses = {
        "html page": client.get("/login"),
        "json": client.get("/api/v1/auth/me", headers=account["headers"]),
        "ingest json": ingest,
        "csv": csv,
        "api 404": client.get("/api/v1/no-such-thing"),
        "api 401": client.get("/api/v1/auth/me"),
        "web 404": client.get("/no-such-page"),
        "redirect": client.get("/"),
        "static": client.get("/static/cei.css"),
        "docs": client.get("/docs"),
        "openapi": client.get("/openapi.json"),
    }
    for kind, response in responses.items():
        try:
            assert_security_headers(response)
        except AssertionError as exc:
            raise AssertionError(f"{kind}: {exc}") from exc
        finally:
            response.close()


def test_hsts_in_production_only(make_app):
    client = make_app(CEI_ENV="production", SECRET_KEY=STRONG_SECRET).test_client()
    assert_security_headers(client.get("/login"), production=True)
    assert_security_headers(client.get("/api/v1/health"), production=True)


def test_a_500_has_them_too(make_app):
    app = make_app(PROPAGATE_EXCEPTIONS=False)

    @app.route("/api/v1/boom")
    def boom():
        raise RuntimeError("kaboom")

    response = app.test_client().get("/api/v1/boom")
    assert response.status_code == 500
    assert response.get_json()["code"] == "INTERNAL_ERROR"
    assert "kaboom" not in response.get_data(as_text=True)
    assert_security_headers(response)


@pytest.mark.parametrize(
    "method, path, allowed",
    [
        ("put", "/api/v1/auth/login", {"POST", "OPTIONS"}),
        ("delete", "/api/v1/auth/me", {"GET", "HEAD", "OPTIONS"}),
        ("post", "/settings", {"GET", "HEAD", "OPTIONS"}),
    ],
)
def test_405_names_the_allowed_methods(client, method, path, allowed):
    response = getattr(client, method)(path)
    assert response.status_code == 405
    assert {part.strip() for part in response.headers["Allow"].split(",")} == allowed
    if path.startswith("/api/"):
        assert response.get_json()["code"] == "METHOD_NOT_ALLOWED"
    assert_security_headers(response)
