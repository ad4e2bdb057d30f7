"""The request guards of cei.http and the rules they apply (cei.text, cei.jsonio)."""

import json

import pytest
from sqlalchemy import text

from cei.extensions import db
from cei.jsonio import MAX_JSON_DEPTH, NestedTooDeeply, loads, nested_too_deeply, unstorable_text
from cei.models.types import MAX_INTEGER
from cei.services import accounts
from cei.text import NUL_MESSAGE, text_problem
from tests.conftest import bearer

SIGNUP = "/api/v1/auth/signup"


def nested(depth, leaf=None):
    """A JSON document of ``depth`` nested arrays around ``leaf``."""
    document = leaf
    for _ in range(depth):
        document = [document] if document is not None else []
    return document


@pytest.mark.parametrize(
    ("value", "refused"),
    [
        ("plain", False),
        ("Zürich – 東京 🚀", False),
        ("tab\tand\nnewline", False),
        ("nul\x00", True),
        ("\x00", True),
        ("lone \ud800", True),
        ("lone \udfff low", True),
        ("ünïcode and \x00", True),
    ],
)
def test_text_rule(value, refused):
    assert (text_problem(value) is not None) is refused


def test_unstorable_text_is_found_in_reading_order():
    document = {"a": "fine", "b": [{"c": "x\x00"}, "y\ud800"], "d": "z\x00"}
    path, message = unstorable_text(document)
    assert path == ("b", 0, "c")
    assert "NUL" in message
    assert unstorable_text({"ok": ["a", {"b": 1.5, "c": None}]}) is None


def test_unstorable_text_checks_keys():
    path, message = unstorable_text({"fine": {"ba\x00d": 1}})
    assert path == ("fine", "ba\\x00d")
    assert "field name" in message


def test_unstorable_text_walks_without_recursing():
    # Deeper than the interpreter's recursion limit (request bodies never get this deep).
    assert unstorable_text(nested(3000, "a\x00")) == ((0,) * 3000, NUL_MESSAGE)


def test_nesting_depth_is_bounded():
    assert not nested_too_deeply(nested(MAX_JSON_DEPTH))
    assert not nested_too_deeply({"a": nested(MAX_JSON_DEPTH - 1), "b": 1})
    assert nested_too_deeply(nested(MAX_JSON_DEPTH + 1))
    assert nested_too_deeply([1, {"a": [2, nested(MAX_JSON_DEPTH - 1)]}])
    # Far deeper than the interpreter's recursion limit: still an answer, not an exception.
    assert nested_too_deeply(nested(100_000))
    assert not nested_too_deeply("text") and not nested_too_deeply(None)


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1000, 1100, 5000])
def test_loads_refuses_deep_documents(depth):
    with pytest.raises(NestedTooDeeply):
        loads("[" * depth + "]" * depth)
    # The standard library fallback (orjson refuses NaN) is bounded alike.
    with pytest.raises(NestedTooDeeply):
        loads("[NaN, " + "[" * depth + "]" * depth + "]")
    assert loads("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH) == nested(MAX_JSON_DEPTH)


def test_json_nesting_limit_over_http(client):
    body = {"email": "a@example.com", "password": "x" * 10, "organization_name": "A"}
    at_limit = json.dumps({**body, "extra": nested(MAX_JSON_DEPTH - 1)})
    over = json.dumps({**body, "extra": nested(MAX_JSON_DEPTH)})
    response = client.post(SIGNUP, data=at_limit, content_type="application/json")
    # Within the limit the schema decides (an unknown field), not the depth guard.
    assert response.status_code == 422
    assert "extra" in response.get_json()["detail"]["json"]
    response = client.post(SIGNUP, data=over, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["code"] == "MALFORMED_JSON"


def test_blank_json_body_is_a_validation_error(client):
    response = client.post(SIGNUP, data="", content_type="application/json")
    assert response.status_code == 422
    assert "email" in response.get_json()["detail"]["json"]


def test_lone_surrogate_escape_in_login_is_refused_without_a_token(client):
    response = client.post(
        "/api/v1/auth/login",
        data='{"email": "a\\ud800@example.com", "password": "whatever"}',
        content_type="application/json",
    )
    assert response.status_code == 422
    assert response.get_json()["detail"] == {
        "json": {"email": ["Must be valid Unicode text (no unpaired surrogates)"]}
    }


def test_form_login_with_nul_is_refused(client):
    response = client.post(
        "/api/v1/auth/login", data={"username": "a@example.com", "password": "pass\x00word"}
    )
    assert response.status_code == 422
    assert response.get_json()["detail"] == {
        "form": {"password": ["Must not contain NUL characters"]}
    }


def test_web_pages_answer_400_not_500(client):
    response = client.get("/login?next=%2F%00")
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    response = client.post("/signup", data={"email": "a@example.com", "organization_name": "\x00"})
    assert response.status_code == 400


def test_id_converter_bounds_and_documents_ids(client, api):
    admin = api.signup()
    tokens = "/api/v1/auth/integration-tokens"
    largest = client.delete(f"{tokens}/{MAX_INTEGER}", headers=admin["headers"])
    assert largest.get_json()["message"] == "Integration token not found"
    for too_big in (MAX_INTEGER + 1, 2**63, 10**40):
        response = client.delete(f"{tokens}/{too_big}", headers=admin["headers"])
        assert response.status_code == 404
        assert response.get_json()["code"] == "NOT_FOUND"
    created = api.make_token(admin)
    assert client.delete(f"{tokens}/{created['id']}", headers=admin["headers"]).status_code == 204
    spec = client.get("/openapi.json").get_json()
    parameter = spec["paths"][tokens + "/{token_id}"]["parameters"][0]
    assert parameter["schema"]["maximum"] == MAX_INTEGER


def test_database_refusing_a_value_is_a_422_not_a_500(make_app, postgres_url):
    app = make_app(PROPAGATE_EXCEPTIONS=False)

    def overflow():
        db.session.execute(text("SELECT CAST(:value AS integer)"), {"value": "99999999999"})
        return "unreachable"

    app.add_url_rule("/api/v1/test-overflow", "api_overflow", overflow)
    app.add_url_rule("/test-overflow", "web_overflow", overflow)
    client = app.test_client()
    response = client.get("/api/v1/test-overflow")
    assert response.status_code == 422
    assert response.get_json()["code"] == "VALIDATION_ERROR"
    assert client.get("/test-overflow").status_code == 400


@pytest.mark.parametrize(
    "payload",
    [{"u": 2**70, "v": 0}, {"u": [1], "v": 0}, {"u": {"id": 1}, "v": 0}, {"u": True, "v": 0}, [1]],
)
def test_signed_access_tokens_of_odd_shape_are_refused(app, client, api, payload):
    api.signup()
    with app.test_request_context():
        token = accounts._serializer().dumps(payload)
    response = client.get("/api/v1/auth/whoami", headers=bearer(token))
    assert response.status_code == 401
    assert response.get_json()["code"] == "TOKEN_REVOKED"
