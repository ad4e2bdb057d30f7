"""Rate limits: login and sign-up per address and per account, token creation, ingestion
per token, wrong bearer tokens per address; in Redis, per process when Redis is down."""

import pytest

from tests.conftest import ApiHelper, bearer
from tests.ingest.conftest import hourly

LOGIN = "/api/v1/auth/login"
SIGNUP = "/api/v1/auth/signup"
TOKENS = "/api/v1/auth/integration-tokens"
BATCH = "/api/v1/timeseries/batch"
DEAD_REDIS = "redis://127.0.0.1:1/0"


def from_address(address):
    return {"environ_base": {"REMOTE_ADDR": address}}


def assert_rate_limited(response):
    assert response.status_code == 429, response.get_data(as_text=True)[:300]
    retry_after = int(response.headers["Retry-After"])
    assert 0 < retry_after <= 3600
    if response.mimetype == "application/json":
        body = response.get_json()
        assert body["code"] in {"RATE_LIMITED", "TOO_MANY_BAD_TOKENS"}
        assert body["request_id"]
        assert 0 < body["detail"]["retry_after"] <= 3600
    return response


def failed_login(client, email, address="10.0.0.1"):
    return client.post(
        LOGIN, json={"email": email, "password": "not the password"}, **from_address(address)
    )


def test_login_per_account_across_addresses(fresh_app):
    app = fresh_app(LOGIN_RATE_LIMIT="100 per minute", LOGIN_ACCOUNT_RATE_LIMIT="5 per minute")
    client = app.test_client()
    account = ApiHelper(client).signup(email="victim@example.com")
    statuses = [
        failed_login(client, "Victim@Example.com ", f"10.0.0.{n % 5}").status_code for n in range(8)
    ]
    assert statuses == [401] * 5 + [429] * 3
    assert_rate_limited(failed_login(client, "victim@example.com", "10.9.9.9"))
    # The right password is refused too while the account is limited; other accounts are not.
    right = client.post(
        LOGIN, json={"email": account["user"]["email"], "password": account["password"]}
    )
    assert_rate_limited(right)
    assert failed_login(client, "someone.else@example.com").status_code == 401


def test_successful_logins_do_not_count_against_the_account(fresh_app):
    app = fresh_app(LOGIN_RATE_LIMIT="100 per minute", LOGIN_ACCOUNT_RATE_LIMIT="3 per minute")
    client = app.test_client()
    account = ApiHelper(client).signup()
    payload = {"email": account["user"]["email"], "password": account["password"]}
    assert [client.post(LOGIN, json=payload).status_code for _ in range(6)] == [200] * 6


def test_login_per_address_across_accounts(fresh_app):
    app = fresh_app(LOGIN_RATE_LIMIT="4 per minute")
    client = app.test_client()
    statuses = [failed_login(client, f"user{n}@example.com").status_code for n in range(6)]
    assert statuses == [401] * 4 + [429] * 2
    # Another address is not affected.
    assert failed_login(client, "user0@example.com", "10.0.0.2").status_code == 401


def test_web_login_shares_the_account_limit(fresh_app):
    app = fresh_app(LOGIN_RATE_LIMIT="100 per minute", LOGIN_ACCOUNT_RATE_LIMIT="3 per minute")
    client = app.test_client()
    for _ in range(2):
        assert failed_login(client, "web@example.com").status_code == 401
    page = client.post("/login", data={"email": "web@example.com", "password": "nope nope"})
    assert page.status_code == 401
    assert_rate_limited(client.post("/login", data={"email": "web@example.com", "password": "x"}))
    assert client.get("/login").status_code == 200


def test_signup_per_account_and_per_address(fresh_app):
    app = fresh_app(SIGNUP_RATE_LIMIT="3 per minute", SIGNUP_ACCOUNT_RATE_LIMIT="2 per hour")
    client = app.test_client()

    def signup(email, address):
        return client.post(
            SIGNUP,
            json={"email": email, "password": "x", "organization_name": "X"},
            **from_address(address),
        )

    assert signup("same@example.com", "10.0.1.1").status_code == 422
    assert signup("same@example.com", "10.0.1.2").status_code == 422
    assert_rate_limited(signup("same@example.com", "10.0.1.3"))
    assert signup("other@example.com", "10.0.2.1").status_code == 422
    assert signup("third@example.com", "10.0.2.1").status_code == 422
    assert signup("fourth@example.com", "10.0.2.1").status_code == 422
    assert_rate_limited(signup("fifth@example.com", "10.0.2.1"))


def test_token_creation_per_organization(fresh_app):
    app = fresh_app(TOKEN_CREATE_RATE_LIMIT="3 per hour")
    client = app.test_client()
    helper = ApiHelper(client)
    first, second = helper.signup(), helper.signup()
    for n in range(3):
        helper.make_token(first, name=f"t{n}")
    response = client.post(TOKENS, json={"name": "one more"}, headers=first["headers"])
    assert_rate_limited(response)
    assert len(client.get(TOKENS, headers=first["headers"]).get_json()) == 3
    helper.make_token(second)


def test_ingestion_per_token(fresh_app):
    app = fresh_app(INGEST_RATE_LIMIT="3 per minute")
    client = app.test_client()
    helper = ApiHelper(client)
    account = helper.signup()
    first, second = helper.make_token(account, name="a"), helper.make_token(account, name="b")
    for _ in range(3):
        response = client.post(BATCH, json={"records": hourly(1)}, headers=bearer(first["token"]))
        assert response.status_code == 200
    assert_rate_limited(
        client.post(BATCH, json={"records": hourly(1)}, headers=bearer(first["token"]))
    )
    response = client.post(BATCH, json={"records": hourly(1)}, headers=bearer(second["token"]))
    assert response.status_code == 200


def test_wrong_bearer_tokens_are_slowed_per_address(client, api):
    account = api.signup()
    token = api.make_token(account)["token"]
    statuses = []
    for n in range(40):
        response = client.get(
            "/api/v1/auth/whoami",
            headers=bearer(f"cei_int_wrong{n:04d}wrong{n:04d}wrong"),
            **from_address("10.6.6.6"),
        )
        statuses.append(response.status_code)
    # The default allows 30 wrong tokens a minute, then refuses before looking.
    assert statuses == [401] * 30 + [429] * 10
    assert_rate_limited(response)
    refused = client.get("/api/v1/auth/whoami", headers=bearer(token), **from_address("10.6.6.6"))
    assert_rate_limited(refused)
    # Other addresses carry on.
    assert client.get("/api/v1/auth/whoami", headers=bearer(token)).status_code == 200
    garbage = client.get("/api/v1/auth/whoami", headers={"Authorization": "Basic eDp5"})
    assert garbage.status_code == 401


def test_limits_hold_per_process_when_redis_is_down(fresh_app):
    app = fresh_app(
        REDIS_URL=DEAD_REDIS, LOGIN_RATE_LIMIT="3 per minute", BAD_TOKEN_RATE_LIMIT="2 per minute"
    )
    assert app.config["RATELIMIT_STORAGE_URI"] == DEAD_REDIS
    client = app.test_client()
    statuses = [failed_login(client, f"u{n}@example.com").status_code for n in range(5)]
    assert statuses == [401] * 3 + [429] * 2
    assert_rate_limited(failed_login(client, "u9@example.com"))
    wrong = [
        client.get("/api/v1/auth/whoami", headers=bearer("nope")).status_code for _ in range(4)
    ]
    assert wrong == [401, 401, 429, 429]


@pytest.mark.redis
def test_limits_live_in_redis(fresh_app, redis_url):
    import redis

    config = {"REDIS_URL": redis_url, "LOGIN_RATE_LIMIT": "3 per minute"}
    client = fresh_app(**config).test_client()
    statuses = [failed_login(client, "shared@example.com").status_code for _ in range(3)]
    assert statuses == [401] * 3
    # A new process (a new app, its in-memory state empty) still sees the count.
    client = fresh_app(**config).test_client()
    assert_rate_limited(failed_login(client, "shared@example.com"))
    keys = [key.decode() for key in redis.Redis.from_url(redis_url).keys("*")]
    assert any(key.startswith("LIMITS:cei-limits") or "cei-limits" in key for key in keys), keys
    # Counters are keyed by digests: no address in Redis.
    assert not any("shared@example.com" in key for key in keys)
    # Memory storage starts over with a new process: the count above was Redis's.
    memory = fresh_app(LOGIN_RATE_LIMIT="3 per minute").test_client()
    assert failed_login(memory, "shared@example.com").status_code == 401


def test_behind_a_trusted_proxy_limits_count_the_forwarded_address(fresh_app):
    app = fresh_app(TRUSTED_PROXIES=1, LOGIN_RATE_LIMIT="2 per minute")
    client = app.test_client()

    def attempt(forwarded_for):
        return client.post(
            LOGIN,
            json={"email": "p@example.com", "password": "not the password"},
            headers={"X-Forwarded-For": forwarded_for},
        )

    assert [attempt("203.0.113.7").status_code for _ in range(3)] == [401, 401, 429]
    assert attempt("198.51.100.9").status_code == 401


def test_each_app_keeps_its_own_limit_settings(fresh_app):
    """The limiter is one object for the process; its settings are each app's own."""
    off = fresh_app(RATELIMIT_ENABLED=False, LOGIN_RATE_LIMIT="2 per minute")
    on = fresh_app(LOGIN_RATE_LIMIT="2 per minute")
    assert on.config["RATELIMIT_ENABLED"] is True  # not inherited from the app before it
    on_client = on.test_client()
    statuses = [failed_login(on_client, "on@example.com").status_code for _ in range(3)]
    assert statuses == [401, 401, 429]
    # The earlier app still has no limits, and the later one did not turn them on for it.
    off_client = off.test_client()
    statuses = [failed_login(off_client, "off@example.com").status_code for _ in range(4)]
    assert statuses == [401] * 4
    wrong = [
        off_client.get("/api/v1/auth/whoami", headers=bearer("nope")).status_code
        for _ in range(40)
    ]
    assert set(wrong) == {401}
    # A third app with limits on starts its own in-memory counts.
    third = fresh_app(LOGIN_RATE_LIMIT="2 per minute").test_client()
    assert failed_login(third, "on@example.com").status_code == 401
    assert_rate_limited(failed_login(on_client, "on@example.com"))


@pytest.mark.redis
def test_an_app_keeps_its_storage_when_later_apps_use_another(fresh_app, redis_url):
    config = {"REDIS_URL": redis_url, "LOGIN_RATE_LIMIT": "3 per minute"}
    in_redis = fresh_app(**config)
    fresh_app(LOGIN_RATE_LIMIT="3 per minute")  # in memory
    fresh_app(RATELIMIT_ENABLED=False)
    client = in_redis.test_client()
    statuses = [failed_login(client, "kept@example.com", "10.7.7.7").status_code for _ in range(3)]
    assert statuses == [401] * 3
    # The counts went to Redis, where an app made afterwards finds them.
    later = fresh_app(**config).test_client()
    assert_rate_limited(failed_login(later, "kept@example.com", "10.7.7.7"))
