"""Web sessions: cookie flags, a new session at login, ends at logout, password change,
idle and absolute timeouts, and "remember me" bounded by the absolute timeout."""

import time

from flask import session
from flask_login import login_user

from cei.extensions import db
from cei.models import User
from tests.conftest import bearer
from tests.security.conftest import STRONG_SECRET, web_login


def session_cookie(response):
    cookies = [value for value in response.headers.getlist("Set-Cookie")]
    matching = [cookie for cookie in cookies if cookie.startswith("session=")]
    assert matching, cookies
    return matching[-1]


def test_cookie_flags_in_production(make_app):
    app = make_app(CEI_ENV="production", SECRET_KEY=STRONG_SECRET)
    client = app.test_client()
    account = client.post(
        "/api/v1/auth/signup",
        json={
            "email": "p@example.com",
            "password": "a long enough password",
            "organization_name": "P",
        },
    )
    assert account.status_code == 201
    cookie = session_cookie(web_login(client, "p@example.com", "a long enough password"))
    flags = {part.strip().split("=")[0].lower(): part for part in cookie.split(";")}
    assert "secure" in flags
    assert "httponly" in flags
    assert flags["samesite"].strip() == "SameSite=Lax"
    # Not "remember me": the cookie ends with the browser.
    assert "expires" not in flags


def test_no_secure_flag_in_development(client, api):
    account = api.signup()
    cookie = session_cookie(web_login(client, account["user"]["email"], account["password"]))
    assert "Secure" not in cookie
    assert "HttpOnly" in cookie


def test_login_starts_a_new_session(client, api):
    account = api.signup()
    with client.session_transaction() as planted:
        planted["csrf_token"] = "planted-by-an-attacker"
        planted["anything"] = "else"
    web_login(client, account["user"]["email"], account["password"])
    with client.session_transaction() as fresh:
        assert "anything" not in fresh
        assert fresh.get("csrf_token") != "planted-by-an-attacker"
        assert fresh["_user_id"] == f"{account['user']['id']}:0"
        assert fresh["login_at"] <= time.time()
    assert client.get("/settings").status_code == 200


def test_logout_ends_earlier_sessions_and_access_tokens(app, api):
    account = api.signup()
    laptop, phone = app.test_client(), app.test_client()
    web_login(laptop, account["user"]["email"], account["password"])
    web_login(phone, account["user"]["email"], account["password"])
    stolen_cookie = laptop.get_cookie("session").value
    assert phone.get("/settings").status_code == 200

    assert laptop.post("/logout").status_code == 302
    assert phone.get("/settings").status_code == 302
    replay = app.test_client()
    replay.set_cookie("session", stolen_cookie)
    assert replay.get("/settings").status_code == 302
    assert replay.get("/api/v1/auth/me").status_code == 401
    revoked = api.client.get("/api/v1/auth/me", headers=account["headers"])
    assert revoked.status_code == 401
    assert revoked.get_json()["code"] == "TOKEN_REVOKED"


def test_password_change_ends_earlier_sessions_and_access_tokens(app, api):
    account = api.signup()
    browser = app.test_client()
    web_login(browser, account["user"]["email"], account["password"])
    other_token = api.client.post(
        "/api/v1/auth/login",
        json={"email": account["user"]["email"], "password": account["password"]},
    ).get_json()["access_token"]
    changed = api.client.post(
        "/api/v1/auth/password",
        json={"current_password": account["password"], "new_password": "a brand new secret"},
        headers=account["headers"],
    )
    assert changed.status_code == 204
    assert browser.get("/settings").status_code == 302
    for token in (account["access_token"], other_token):
        assert api.client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 401


def age_session(client, idle=0, since_login=0):
    with client.session_transaction() as stored:
        now = int(time.time())
        stored["seen_at"] = now - idle
        stored["login_at"] = now - since_login


def test_idle_timeout(make_app, api):
    app = make_app(SESSION_IDLE_TIMEOUT=600)
    client = app.test_client()
    account = type(api)(client).signup()
    web_login(client, account["user"]["email"], account["password"])
    age_session(client, idle=590, since_login=590)
    assert client.get("/settings").status_code == 200
    with client.session_transaction() as stored:
        # The request reset the idle clock.
        assert time.time() - stored["seen_at"] < 5
    age_session(client, idle=601, since_login=601)
    assert client.get("/settings").status_code == 302
    assert client.get("/api/v1/auth/me").status_code == 401
    with client.session_transaction() as stored:
        assert "_user_id" not in stored


def test_absolute_timeout(make_app, api):
    app = make_app(SESSION_IDLE_TIMEOUT=600, SESSION_ABSOLUTE_TIMEOUT=3600)
    client = app.test_client()
    account = type(api)(client).signup()
    web_login(client, account["user"]["email"], account["password"])
    age_session(client, idle=10, since_login=3590)
    assert client.get("/settings").status_code == 200
    age_session(client, idle=10, since_login=3601)
    assert client.get("/settings").status_code == 302


def test_session_without_clocks_is_not_trusted(client, api):
    account = api.signup()
    web_login(client, account["user"]["email"], account["password"])
    with client.session_transaction() as stored:
        del stored["login_at"]
    assert client.get("/settings").status_code == 302


def test_defaults_are_eight_hours_idle_and_seven_days_absolute(app):
    assert app.config["SESSION_IDLE_TIMEOUT"] == 8 * 3600
    assert app.config["SESSION_ABSOLUTE_TIMEOUT"] == 7 * 24 * 3600
    assert app.config["PERMANENT_SESSION_LIFETIME"].total_seconds() == 7 * 24 * 3600


def test_remember_me_is_a_lasting_session_cookie_within_the_absolute_timeout(app, api):
    account = api.signup()
    with app.test_request_context("/login", method="POST"):
        user = db.session.get(User, account["user"]["id"])
        login_user(user, remember=True)
        assert session.permanent
        assert "_remember" not in session
        response = app.make_response("ok")
        app.session_interface.save_session(app, session, response)
        cookie = session_cookie(response)
    assert "Expires=" in cookie
    assert all(
        not value.startswith("remember_token") for value in response.headers.getlist("Set-Cookie")
    )
