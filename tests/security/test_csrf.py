"""The API takes state changes from a bearer token, or the session cookie plus the CSRF
header (as /docs sends it); never from the cookie alone."""

import re

from tests.conftest import bearer
from tests.security.conftest import csrf_token_from_docs, web_login

TOKENS = "/api/v1/auth/integration-tokens"


def test_cookie_alone_cannot_change_state(client, signed_in):
    response = client.post(TOKENS, json={"name": "sneaky"})
    assert response.status_code == 403
    body = response.get_json()
    assert body["code"] == "CSRF_REQUIRED"
    assert body["request_id"]
    listed = client.get(TOKENS, headers=signed_in["headers"]).get_json()
    assert listed == []


def test_cross_origin_cookie_request_is_refused(client, signed_in):
    response = client.post(
        TOKENS, json={"name": "evil"}, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403
    assert response.get_json()["code"] == "CROSS_ORIGIN"
    # Even with a valid token, another origin cannot use the cookie.
    token = csrf_token_from_docs(client)
    response = client.post(
        TOKENS,
        json={"name": "evil"},
        headers={"Origin": "https://evil.example", "X-CSRFToken": token},
    )
    assert response.status_code == 403
    upload = client.post(
        "/api/v1/timeseries/batch",
        json={"records": []},
        headers={"Origin": "https://evil.example"},
    )
    assert upload.status_code == 403
    assert client.get(TOKENS, headers=signed_in["headers"]).get_json() == []


def test_cookie_with_csrf_header_can_change_state(client, signed_in):
    token = csrf_token_from_docs(client)
    response = client.post(
        TOKENS,
        json={"name": "from docs"},
        headers={"X-CSRFToken": token, "Origin": "http://localhost"},
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["token"].startswith("cei_int_")


def test_wrong_csrf_header_is_refused(client, signed_in):
    response = client.post(TOKENS, json={"name": "x"}, headers={"X-CSRFToken": "forged"})
    assert response.status_code == 403
    assert response.get_json()["code"] == "CSRF_INVALID"


def test_another_sessions_csrf_token_is_refused(app, api):
    first, second = app.test_client(), app.test_client()
    account = api.signup()
    web_login(first, account["user"]["email"], account["password"])
    web_login(second, account["user"]["email"], account["password"])
    token = csrf_token_from_docs(first)
    response = second.post(TOKENS, json={"name": "x"}, headers={"X-CSRFToken": token})
    assert response.status_code == 403


def test_cookie_reads_and_bearer_writes_need_no_csrf_header(client, signed_in):
    assert client.get("/api/v1/auth/me").status_code == 200
    response = client.post(TOKENS, json={"name": "bearer"}, headers=signed_in["headers"])
    assert response.status_code == 201
    # A bearer token from another origin is fine: there is no ambient credential.
    response = client.post(
        TOKENS,
        json={"name": "elsewhere"},
        headers={**bearer(signed_in["access_token"]), "Origin": "https://tools.example"},
    )
    assert response.status_code == 201


def test_docs_try_it_out_sends_the_csrf_header(make_app, serve, browser_page, api):
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        from tests.conftest import _empty_tables

        _empty_tables()
    base = serve(app)
    page = browser_page
    violations = []
    page.on("console", lambda message: violations.append(message.text))
    client = app.test_client()
    account = ApiSignup(client).run()

    page.goto(base + "/login")
    page.fill("#email", account["email"])
    page.fill("#password", account["password"])
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/$"))
    page.goto(base + "/docs")
    page.wait_for_selector("[data-path='/api/v1/auth/integration-tokens']", timeout=20000)
    # Swagger UI's own request interceptor, as "Try it out" runs it, then the request.
    script = """async ([url, withInterceptor]) => {
        let request = {url, method: "POST", headers: {"Content-Type": "application/json"},
                       body: JSON.stringify({name: "tried out"})};
        if (withInterceptor) { request = window.ui.getConfigs().requestInterceptor(request); }
        const response = await fetch(request.url, {method: "POST", headers: request.headers,
                                                   body: request.body});
        return [response.status, Object.keys(request.headers)];
    }"""
    status, headers = page.evaluate(script, [TOKENS, False])
    assert status == 403
    status, headers = page.evaluate(script, [TOKENS, True])
    assert "X-CSRFToken" in headers
    assert status == 201
    # The interceptor gives the token to this origin only.
    headers = page.evaluate(
        """([url]) => Object.keys(window.ui.getConfigs().requestInterceptor(
            {url, headers: {}}).headers)""",
        ["https://elsewhere.example/x"],
    )
    assert headers == []
    assert not [text for text in violations if "Content Security Policy" in text], violations


class ApiSignup:
    """Sign up through the API of ``client``'s app (for the browser test's own app)."""

    def __init__(self, client):
        self.client = client

    def run(self):
        email, password = "swagger@example.com", "try it out in the docs"
        response = self.client.post(
            "/api/v1/auth/signup",
            json={"email": email, "password": password, "organization_name": "Docs"},
        )
        assert response.status_code == 201, response.get_json()
        return {"email": email, "password": password}
