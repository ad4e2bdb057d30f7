"""Integration tokens: create, list, revoke, hashing, scopes and tenancy."""

from sqlalchemy import String, Text, inspect, select

from cei.extensions import db
from tests.conftest import bearer

TOKENS = "/api/v1/auth/integration-tokens"


def test_create_list_revoke(client, api):
    admin = api.signup()
    created = api.make_token(admin, name="line 1")
    assert created["token"].startswith("cei_int_")
    assert len(created["token"]) >= len("cei_int_") + 43  # 256 bits, url-safe base64
    assert created["scopes"] == ["ingest", "read"]
    assert created["is_active"] is True
    assert created["last_used_at"] is None

    listed = client.get(TOKENS, headers=admin["headers"]).get_json()
    assert [row["id"] for row in listed] == [created["id"]]
    assert "token" not in listed[0] and "token_hash" not in listed[0]
    assert created["token"].startswith(listed[0]["prefix"])
    assert len(listed[0]["prefix"]) < 20

    url = f"{TOKENS}/{created['id']}"
    assert client.delete(url, headers=admin["headers"]).status_code == 204
    assert client.delete(url, headers=admin["headers"]).status_code == 204  # idempotent
    listed = client.get(TOKENS, headers=admin["headers"]).get_json()
    assert listed[0]["is_active"] is False
    assert listed[0]["revoked_at"] is not None


def test_database_holds_only_the_hash(app, client, api):
    admin = api.signup()
    raw = api.make_token(admin)["token"]
    client.get("/api/v1/health/ready", headers=bearer(raw))
    secret_part = raw[len("cei_int_") :]
    with app.app_context():
        inspector = inspect(db.engine)
        with db.engine.connect() as connection:
            for table_name in inspector.get_table_names():
                table = db.metadata.tables.get(table_name)
                if table is None:
                    continue
                text_columns = [
                    column for column in table.columns if isinstance(column.type, String | Text)
                ]
                for column in text_columns:
                    for (value,) in connection.execute(select(column)):
                        if value:
                            assert secret_part not in value, f"{table_name}.{column.name}"


def test_revoked_token_is_refused_on_the_very_next_request(client, api):
    admin = api.signup()
    created = api.make_token(admin)
    headers = bearer(created["token"])
    assert client.get("/api/v1/health/ready", headers=headers).status_code == 200
    whoami = client.get("/api/v1/auth/whoami", headers=headers)
    assert whoami.status_code == 200
    client.delete(f"{TOKENS}/{created['id']}", headers=admin["headers"])
    response = client.get("/api/v1/auth/whoami", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.get_json()["code"] == "TOKEN_REVOKED"


def test_unknown_token_is_401(client):
    response = client.get("/api/v1/auth/whoami", headers=bearer("cei_int_" + "x" * 43))
    assert response.status_code == 401
    assert response.get_json()["code"] == "TOKEN_UNKNOWN"


def test_whoami_reports_token_and_updates_last_used(client, api):
    admin = api.signup()
    created = api.make_token(admin, scopes=["read"])
    body = client.get("/api/v1/auth/whoami", headers=bearer(created["token"])).get_json()
    assert body["kind"] == "integration_token"
    assert body["organization_id"] == admin["organization"]["id"]
    assert body["scopes"] == ["read"]
    listed = client.get(TOKENS, headers=admin["headers"]).get_json()
    assert listed[0]["last_used_at"] is not None


def test_other_org_cannot_list_revoke_or_use_tokens(client, api):
    org_a = api.signup(org="A")
    org_b = api.signup(org="B")
    token_b = api.make_token(org_b)
    assert client.get(TOKENS, headers=org_a["headers"]).get_json() == []
    response = client.delete(f"{TOKENS}/{token_b['id']}", headers=org_a["headers"])
    assert response.status_code == 404
    assert response.get_json()["code"] == "NOT_FOUND"
    # B's token still works and acts for B only.
    body = client.get("/api/v1/auth/whoami", headers=bearer(token_b["token"])).get_json()
    assert body["organization_id"] == org_b["organization"]["id"]


def test_a_token_cannot_manage_tokens(client, api):
    admin = api.signup()
    headers = bearer(api.make_token(admin)["token"])
    create = client.post(TOKENS, json={"name": "sneaky"}, headers=headers)
    assert create.status_code == 403
    assert create.get_json()["code"] == "TOKEN_NOT_ALLOWED"
    assert client.get(TOKENS, headers=headers).status_code == 403
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 403


def test_unknown_scope_is_rejected(client, api):
    admin = api.signup()
    response = client.post(
        TOKENS, json={"name": "x", "scopes": ["admin"]}, headers=admin["headers"]
    )
    assert response.status_code == 422
    assert response.get_json()["code"] == "VALIDATION_ERROR"


def test_members_cannot_manage_tokens(app, client, api):
    from cei.models import User

    admin = api.signup()
    with app.app_context():
        user = db.session.get(User, admin["user"]["id"])
        user.role = "member"
        db.session.commit()
    response = client.get(TOKENS, headers=admin["headers"])
    assert response.status_code == 403
    assert response.get_json()["code"] == "ADMIN_REQUIRED"
