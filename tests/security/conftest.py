"""Helpers of the security tests: sign in through the web form, read the CSRF token."""

import re

import pytest

from tests.conftest import _empty_tables

STRONG_SECRET = "Zq8-" + "k1Lm9Pq2Rs3Tu4Vw5Xy6" * 2
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def web_login(client, email, password):
    """Sign ``client`` in through the login page; return the response."""
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response


def csrf_token_from_docs(client):
    """The session's CSRF token, as the /docs page hands it to Swagger UI."""
    page = client.get("/docs")
    assert page.status_code == 200
    match = CSRF_META.search(page.get_data(as_text=True))
    assert match, "the /docs page carries no csrf-token meta tag"
    return match.group(1)


@pytest.fixture
def fresh_app(make_app):
    """Return a factory of apps (``make_app``'s config) on an emptied database."""

    def factory(**config):
        application = make_app(**config)
        with application.app_context():
            _empty_tables()
        return application

    return factory


@pytest.fixture
def signed_in(client, api):
    """An account (API sign-up) whose browser ``client`` is signed in through the web form."""
    account = api.signup()
    web_login(client, account["user"]["email"], account["password"])
    return account
