"""Sign-up, login and logout pages, driven in a real browser and with the test client."""

import re

from cei.extensions import db
from cei.models import User


def test_signup_login_logout_in_a_browser(page, live_url, shoot):
    base = live_url
    page.goto(base + "/signup")
    # The password rule is on the page before anything is sent.
    assert "8 to 128 characters" in page.inner_text("form")
    shoot(page, "signup")
    page.fill("#organization_name", "Plant Forty-Two")
    page.fill("#full_name", "Grace Hopper")
    page.fill("#email", "grace@example.com")
    page.fill("#password", "short")
    page.click("button[type=submit]")
    assert "between 8 and 128 characters" in page.inner_text("#password-error")
    assert page.get_attribute("#password", "aria-invalid") == "true"
    page.fill("#password", "a long enough password")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/$"))
    assert "Plant Forty-Two" in page.inner_text("main h1")

    page.click("text=Log out")
    page.wait_for_url(re.compile(r"/login"))
    page.goto(base + "/settings")
    assert page.url.startswith(base + "/login")

    page.fill("#email", "grace@example.com")
    page.fill("#password", "wrong password!")
    page.click("button[type=submit]")
    assert "Invalid email or password" in page.inner_text("main")
    shoot(page, "login-error")

    page.fill("#email", "GRACE@example.com")
    page.fill("#password", "a long enough password")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/settings$"))
    assert "grace@example.com" in page.inner_text("header")
    page.problems.check()

    page.goto(base + "/docs")
    page.wait_for_selector("[data-path='/api/v1/auth/signup']", timeout=20000)


def test_forms_need_a_csrf_token(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    response = client.post(
        "/signup",
        data={
            "organization_name": "X",
            "email": "csrf@example.com",
            "password": "a long enough password",
        },
    )
    assert response.status_code in (400, 422)
    with app.app_context():
        assert db.session.query(User).filter_by(email="csrf@example.com").count() == 0


def test_session_ends_when_password_changes_elsewhere(app, client, api):
    account = api.signup(email="web@example.com")
    response = client.post(
        "/login", data={"email": "web@example.com", "password": account["password"]}
    )
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    # Another device changes the password through the API (no shared cookies).
    app.test_client().post(
        "/api/v1/auth/password",
        json={"current_password": account["password"], "new_password": "changed password!"},
        headers=account["headers"],
    )
    assert client.get("/").status_code == 302


def test_login_redirect_only_to_local_paths(client, api):
    account = api.signup(email="next@example.com")
    response = client.post(
        "/login?next=https://evil.example/",
        data={"email": "next@example.com", "password": account["password"]},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
