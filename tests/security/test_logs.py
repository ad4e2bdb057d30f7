"""The suite-wide log scan (tests/conftest.py) catches what it looks for."""

import logging

from tests.conftest import SECRET_LOG_SCANNER


def test_the_scanner_sees_records_and_catches_secrets():
    before = len(SECRET_LOG_SCANNER.leaks)
    logger = logging.getLogger("cei.test-scanner")
    logger.warning("token cei_int_%s used", "AbCdEfGhIjKlMnOpQrStUv")
    SECRET_LOG_SCANNER.remember("hunter2 hunter2")
    logger.error("login with %r", "hunter2 hunter2")
    logger.warning("prefix only: cei_int_AbCdEf is fine")
    caught = SECRET_LOG_SCANNER.leaks[before:]
    # Take them back out: these leaks were planted.
    del SECRET_LOG_SCANNER.leaks[before:]
    SECRET_LOG_SCANNER.secrets.discard("hunter2 hunter2")
    assert len(caught) == 2
    assert "cei_int_AbCd" in caught[0]
    assert "hunter2" in caught[1]
    assert SECRET_LOG_SCANNER.seen > 0


def test_sign_up_login_and_tokens_log_no_secrets(client, api, caplog):
    caplog.set_level(logging.DEBUG)
    account = api.signup()
    raw = api.make_token(account)["token"]
    client.post(
        "/api/v1/auth/login", json={"email": "nobody@example.com", "password": "guess guess"}
    )
    client.get("/api/v1/auth/whoami", headers={"Authorization": f"Bearer {raw}x"})
    client.get(f"/api/v1/auth/whoami?access_token={raw}")
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert caplog.records
    assert raw not in text
    assert account["password"] not in text
