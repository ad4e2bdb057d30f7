"""Common, breached and easily guessed passwords are refused, saying why."""

import pytest

SIGNUP = "/api/v1/auth/signup"
WEAK = ["password", "12345678", "qwertyuiop", "iloveyou1", "Password1", "aaaaaaaaaaaa"]


@pytest.mark.parametrize("password", WEAK)
def test_signup_refuses_weak_passwords(client, password):
    response = client.post(
        SIGNUP, json={"email": "w@example.com", "password": password, "organization_name": "W"}
    )
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "WEAK_PASSWORD"
    assert body["message"].startswith("This password is too easy to guess.")
    assert body["detail"]["json"]["password"] == [body["message"]]


def test_the_reason_is_specific(client):
    response = client.post(
        SIGNUP, json={"email": "w@example.com", "password": "password", "organization_name": "W"}
    )
    assert "common password" in response.get_json()["message"]


def test_passwords_made_of_the_users_own_details_are_refused(client):
    response = client.post(
        SIGNUP,
        json={
            "email": "margaret.hamilton@example.com",
            "password": "margarethamilton",
            "organization_name": "Apollo",
        },
    )
    assert response.status_code == 422
    assert response.get_json()["code"] == "WEAK_PASSWORD"


def test_strong_passwords_pass(client):
    response = client.post(
        SIGNUP,
        json={
            "email": "s@example.com",
            "password": "violet tractor umbrella 42",
            "organization_name": "S",
        },
    )
    assert response.status_code == 201


def test_password_change_refuses_weak_passwords(client, api):
    account = api.signup()
    response = client.post(
        "/api/v1/auth/password",
        json={"current_password": account["password"], "new_password": "12345678"},
        headers=account["headers"],
    )
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "WEAK_PASSWORD"
    assert body["detail"]["json"]["new_password"] == [body["message"]]
    # Nothing changed: the old password and token still work.
    assert client.get("/api/v1/auth/me", headers=account["headers"]).status_code == 200


def test_web_signup_form_shows_the_reason(client):
    response = client.post(
        "/signup",
        data={"organization_name": "W", "email": "web@example.com", "password": "password"},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "This password is too easy to guess." in page
    assert "common password" in page
    assert (
        client.post("/login", data={"email": "web@example.com", "password": "password"}).status_code
        == 401
    )
