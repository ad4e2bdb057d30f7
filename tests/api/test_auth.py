"""Sign-up, login, /auth/me, logout and password change."""

from tests.conftest import bearer


def test_signup_then_me_shows_plan_flags(client, api):
    account = api.signup(email="Ada@Example.com", org="Plant 22")
    assert account["token_type"] == "bearer"
    assert account["expires_in"] == 3600
    assert account["user"]["email"] == "ada@example.com"
    assert account["organization"]["name"] == "Plant 22"

    me = client.get("/api/v1/auth/me", headers=account["headers"]).get_json()
    assert me["email"] == "ada@example.com"
    assert me["role"] == "admin"
    assert me["organization_id"] == account["organization"]["id"]
    flags = {
        "subscription_plan_key": "cei-starter",
        "enable_alerts": True,
        "enable_reports": True,
        "subscription_status": "active",
    }
    for key, value in flags.items():
        assert me[key] == value
        assert me["organization"][key] == value
    assert me["organization"]["currency"] == "EUR"


def test_signup_never_joins_existing_org(api):
    first = api.signup(org="Same Name")
    second = api.signup(org="Same Name")
    assert first["organization"]["id"] != second["organization"]["id"]


def test_duplicate_email_any_case_is_409(client, api):
    api.signup(email="dup@example.com")
    response = client.post(
        "/api/v1/auth/signup",
        json={"email": "DUP@example.com", "password": "another password", "organization_name": "X"},
    )
    assert response.status_code == 409
    body = response.get_json()
    assert body["code"] == "EMAIL_TAKEN"
    assert body["request_id"] == response.headers["X-Request-ID"]


def test_password_rules(client):
    def signup(password):
        return client.post(
            "/api/v1/auth/signup",
            json={"email": "p@example.com", "password": password, "organization_name": "X"},
        )

    assert signup("short").status_code == 422
    assert signup("x" * 129).status_code == 422
    unicode_password = "pässwörd-日本語-🔋"
    assert signup(unicode_password).status_code == 201
    response = client.post(
        "/api/v1/auth/login", json={"email": "p@example.com", "password": unicode_password}
    )
    assert response.status_code == 200


def test_login_by_json_and_by_form(client, api):
    account = api.signup(email="login@example.com")
    by_json = client.post(
        "/api/v1/auth/login", json={"email": "LOGIN@example.com", "password": account["password"]}
    )
    assert by_json.status_code == 200
    by_form = client.post(
        "/api/v1/auth/login",
        data={"username": "login@example.com", "password": account["password"]},
    )
    assert by_form.status_code == 200
    for response in (by_json, by_form):
        token = response.get_json()["access_token"]
        assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 200


def test_wrong_email_and_wrong_password_answer_the_same(client, api):
    api.signup(email="real@example.com")
    wrong_password = client.post(
        "/api/v1/auth/login", json={"email": "real@example.com", "password": "nope nope nope"}
    )
    wrong_email = client.post(
        "/api/v1/auth/login", json={"email": "ghost@example.com", "password": "nope nope nope"}
    )
    assert wrong_password.status_code == wrong_email.status_code == 401
    assert wrong_password.get_json()["message"] == wrong_email.get_json()["message"]
    assert wrong_password.get_json()["code"] == wrong_email.get_json()["code"]


def test_logout_invalidates_earlier_tokens(client, api):
    account = api.signup()
    second = client.post(
        "/api/v1/auth/login",
        json={"email": account["user"]["email"], "password": account["password"]},
    ).get_json()["access_token"]
    assert client.get("/api/v1/auth/me", headers=bearer(second)).status_code == 200

    assert client.post("/api/v1/auth/logout", headers=account["headers"]).status_code == 204
    for token in (account["access_token"], second):
        response = client.get("/api/v1/auth/me", headers=bearer(token))
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_password_change_invalidates_tokens_and_old_password(client, api):
    account = api.signup()
    email = account["user"]["email"]
    response = client.post(
        "/api/v1/auth/password",
        json={"current_password": account["password"], "new_password": "a brand new secret"},
        headers=account["headers"],
    )
    assert response.status_code == 204
    assert client.get("/api/v1/auth/me", headers=account["headers"]).status_code == 401
    old = client.post("/api/v1/auth/login", json={"email": email, "password": account["password"]})
    assert old.status_code == 401
    new = client.post("/api/v1/auth/login", json={"email": email, "password": "a brand new secret"})
    assert new.status_code == 200


def test_wrong_current_password_is_refused(client, api):
    account = api.signup()
    response = client.post(
        "/api/v1/auth/password",
        json={"current_password": "not my password", "new_password": "a brand new secret"},
        headers=account["headers"],
    )
    assert response.status_code == 401
    assert client.get("/api/v1/auth/me", headers=account["headers"]).status_code == 200


def test_expired_and_forged_access_tokens(make_app):
    app = make_app(ACCESS_TOKEN_TTL=-1)
    client = app.test_client()
    response = client.post(
        "/api/v1/auth/signup",
        json={"email": "e@example.com", "password": "long enough pw", "organization_name": "X"},
    )
    token = response.get_json()["access_token"]
    expired = client.get("/api/v1/auth/me", headers=bearer(token))
    assert expired.status_code == 401
    assert expired.get_json()["code"] == "TOKEN_EXPIRED"
    forged = client.get("/api/v1/auth/me", headers=bearer(token[:-4] + "AAAA"))
    assert forged.status_code == 401
    assert forged.get_json()["code"] in {"TOKEN_INVALID", "TOKEN_EXPIRED"}


def test_me_without_credentials(client):
    response = client.get("/api/v1/auth/me")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.get_json()["code"] == "AUTHENTICATION_REQUIRED"


def test_concurrent_signups_with_one_email_give_one_account(make_app, serve):
    import threading

    import requests

    app = make_app()
    base = serve(app)
    statuses = []

    def sign_up():
        response = requests.post(
            base + "/api/v1/auth/signup",
            json={"email": "race@example.com", "password": "long enough", "organization_name": "R"},
            timeout=30,
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=sign_up) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201, 409, 409, 409]


def test_login_attempts_are_rate_limited(make_app):
    client = make_app(LOGIN_RATE_LIMIT="3 per minute").test_client()
    payload = {"email": "nobody@example.com", "password": "guess guess"}
    statuses = [client.post("/api/v1/auth/login", json=payload).status_code for _ in range(3)]
    assert statuses == [401, 401, 401]
    limited = client.post("/api/v1/auth/login", json=payload)
    assert limited.status_code == 429
    body = limited.get_json()
    assert body["code"] == "RATE_LIMITED"
    assert body["request_id"] == limited.headers["X-Request-ID"]
    assert int(limited.headers["Retry-After"]) > 0


def test_rate_limits_are_shared_through_redis(make_app, redis_url):
    config = {"LOGIN_RATE_LIMIT": "2 per minute", "REDIS_URL": redis_url}
    first, second = make_app(**config), make_app(**config)
    payload = {"email": "nobody@example.com", "password": "guess guess"}
    assert first.test_client().post("/api/v1/auth/login", json=payload).status_code == 401
    assert second.test_client().post("/api/v1/auth/login", json=payload).status_code == 401
    assert first.test_client().post("/api/v1/auth/login", json=payload).status_code == 429
