"""Request-level answers of the ingestion API: envelopes, limits, auth, logging, OpenAPI."""

import json
import logging

from sqlalchemy import func, select

from cei.extensions import db
from cei.models import Site, readings
from tests.conftest import bearer
from tests.ingest.conftest import BATCH_URL, UPLOAD_URL, Ingest, hourly

ENVELOPE = {"code", "message", "request_id"}


def envelope(response, status, code):
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    body = response.get_json()
    assert ENVELOPE <= set(body)
    assert body["code"] == code
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body


def count_rows(app):
    with app.app_context():
        return (
            db.session.scalar(select(func.count()).select_from(readings)),
            db.session.scalar(select(func.count()).select_from(Site)),
        )


def test_success_body_has_every_field(ingest):
    response = ingest.client.post(
        BATCH_URL,
        json={"records": hourly(2), "source": "scada"},
        headers={**ingest.headers, "X-Request-ID": "req-42"},
    )
    body = response.get_json()
    assert response.status_code == 200
    assert set(body) == {
        "ingested",
        "updated",
        "skipped_duplicate",
        "failed",
        "errors",
        "errors_truncated",
        "request_id",
        "duration_ms",
    }
    assert body["request_id"] == "req-42"
    assert body["duration_ms"] >= 0


def test_more_than_fifty_thousand_records_is_413_and_stores_nothing(ingest):
    records = hourly(1) * 50_001
    response = ingest.client.post(BATCH_URL, json={"records": records}, headers=ingest.headers)
    body = envelope(response, 413, "BATCH_TOO_LARGE")
    assert body["detail"] == {"max_records": 50_000, "records": 50_001}
    assert count_rows(ingest.app) == (0, 0)


def test_malformed_json_is_400_envelope(ingest):
    response = ingest.client.post(
        BATCH_URL, data='{"records": [', content_type="application/json", headers=ingest.headers
    )
    envelope(response, 400, "MALFORMED_JSON")


def test_absurdly_nested_json_is_400_not_500(ingest):
    deep = '{"records": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = ingest.client.post(
        BATCH_URL, data=deep, content_type="application/json", headers=ingest.headers
    )
    envelope(response, 400, "MALFORMED_JSON")


def test_request_shape_errors_are_422(ingest):
    for body in ({}, {"records": {}}, {"records": "x"}, [], {"records": None}):
        response = ingest.client.post(BATCH_URL, json=body, headers=ingest.headers)
        envelope(response, 422, "VALIDATION_ERROR")
    for extra in ({"on_conflict": "merge"}, {"source": ["x"]}, {"source": "s" * 201}):
        response = ingest.client.post(
            BATCH_URL, json={"records": hourly(1), **extra}, headers=ingest.headers
        )
        envelope(response, 422, "VALIDATION_ERROR")
    assert count_rows(ingest.app)[0] == 0


def test_an_empty_batch_is_fine(ingest):
    assert ingest.send([])["ingested"] == 0


def test_wrong_content_type_is_415(ingest):
    response = ingest.client.post(
        BATCH_URL, data="records", content_type="text/plain", headers=ingest.headers
    )
    envelope(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    response = ingest.client.post(UPLOAD_URL, json={"records": []}, headers=ingest.headers)
    envelope(response, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_needs_the_ingest_scope(client, api):
    account = api.signup()
    read_only = api.make_token(account, scopes=["read"])["token"]
    response = client.post(BATCH_URL, json={"records": hourly(1)}, headers=bearer(read_only))
    body = envelope(response, 403, "INSUFFICIENT_SCOPE")
    assert body["detail"] == {"needed": "ingest"}
    response = client.post(UPLOAD_URL, data={}, headers=bearer(read_only))
    envelope(response, 403, "INSUFFICIENT_SCOPE")


def test_revoked_unknown_and_missing_tokens_are_401(client, api):
    account = api.signup()
    token = api.make_token(account, scopes=["ingest"])
    client.delete(f"/api/v1/auth/integration-tokens/{token['id']}", headers=account["headers"])
    response = client.post(BATCH_URL, json={"records": hourly(1)}, headers=bearer(token["token"]))
    envelope(response, 401, "TOKEN_REVOKED")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    response = client.post(
        BATCH_URL, json={"records": hourly(1)}, headers=bearer("cei_int_" + "x" * 43)
    )
    envelope(response, 401, "TOKEN_UNKNOWN")
    response = client.post(BATCH_URL, json={"records": hourly(1)})
    assert response.status_code == 401


def test_a_user_access_token_may_ingest(client, api):
    account = api.signup()
    response = client.post(BATCH_URL, json={"records": hourly(3)}, headers=account["headers"])
    assert response.status_code == 200
    assert response.get_json()["ingested"] == 3


def test_ingestion_works_with_redis_unreachable(make_app, api):
    # ``api`` has emptied the database already.
    app = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    client = app.test_client()
    helper = Ingest(app, client, type(api)(client), org="No Redis")
    body = helper.send(hourly(24))
    assert body["ingested"] == 24
    assert len(helper.stored()) == 24


def test_one_log_line_per_batch(ingest, caplog):
    caplog.set_level(logging.INFO, logger="cei.ingest")
    records = hourly(3) + [dict(hourly(1)[0], value="bad")]
    ingest.send(records, source="line 'one' \u2028 ü")
    lines = [record for record in caplog.records if record.name == "cei.ingest"]
    assert len(lines) == 1
    message = lines[0].getMessage()
    assert "\n" not in message
    for part in (
        f"org_id={ingest.organization_id}",
        "token_id=",
        "source=\"line 'one' \\u2028 ü\"",
        "total_records=4",
        "ingested=3",
        "updated=0",
        "skipped_duplicate=0",
        "failed=1",
        "duration_ms=",
    ):
        assert part in message
    fields = lines[0].ingest
    assert fields["total_records"] == 4 and fields["source"] == "line 'one' \u2028 ü"
    assert fields["token_id"] is not None


def test_openapi_documents_both_endpoints(client):
    spec = client.get("/openapi.json").get_json()
    batch = spec["paths"]["/api/v1/timeseries/batch"]["post"]
    upload = spec["paths"]["/api/v1/timeseries/upload"]["post"]
    assert batch["summary"] and upload["summary"]
    assert "application/json" in batch["requestBody"]["content"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    for status in ("200", "401", "403", "413", "422", "503"):
        assert status in batch["responses"]
    record = spec["components"]["schemas"]["BatchRecord"]
    assert {"site_id", "meter_id", "timestamp_utc", "value"} <= set(record["required"])
    text = json.dumps(spec["components"]["schemas"]["UploadError"])
    assert "row 2" in text
