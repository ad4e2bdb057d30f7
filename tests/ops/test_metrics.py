"""/metrics: refused to the public, Prometheus text that counts requests, ingestion, jobs
and the work waiting."""

import io

import pytest

from tests.conftest import bearer
from tests.ingest.conftest import hourly
from tests.ops.conftest import (
    METRICS_TOKEN,
    parse_metrics,
    scrape,
    send_batch,
    total,
    value,
)
from tests.security.conftest import STRONG_SECRET

PUBLIC_ADDRESS = {"REMOTE_ADDR": "203.0.113.9"}


def refused(response, status, code):
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.is_json
    body = response.get_json()
    assert body["code"] == code and body["message"] and body["request_id"]
    assert "cei_http_requests" not in response.get_data(as_text=True)
    return response


def test_with_a_token_only_that_bearer_token_may_read(metrics_app, factory_account):
    client = metrics_app.test_client()
    account, _ = factory_account
    missing = refused(client.get("/metrics"), 401, "UNAUTHORIZED")
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    refused(client.get("/metrics", headers=bearer(METRICS_TOKEN + "x")), 401, "UNAUTHORIZED")
    refused(client.get("/metrics", headers=bearer(METRICS_TOKEN[:-1])), 401, "UNAUTHORIZED")
    # A signed-in user's access token is not the metrics token.
    refused(client.get("/metrics", headers=account["headers"]), 401, "UNAUTHORIZED")
    refused(
        client.get("/metrics", headers={"Authorization": f"Basic {METRICS_TOKEN}"}),
        401,
        "UNAUTHORIZED",
    )
    # The right token works from anywhere, through a proxy too.
    ok = client.get(
        "/metrics",
        headers={**bearer(METRICS_TOKEN), "X-Forwarded-For": "198.51.100.7"},
        environ_overrides=PUBLIC_ADDRESS,
    )
    assert ok.status_code == 200
    assert ok.headers["Cache-Control"] == "no-store"
    assert parse_metrics(ok.get_data(as_text=True))


def test_without_a_token_only_direct_loopback_callers_outside_production(make_app, app):
    development = make_app().test_client()
    assert development.get("/metrics").status_code == 200  # the test client is 127.0.0.1
    assert development.get("/metrics", environ_overrides={"REMOTE_ADDR": "::1"}).status_code == 200
    refused(development.get("/metrics", environ_overrides=PUBLIC_ADDRESS), 404, "NOT_FOUND")
    for header in ("X-Forwarded-For", "Forwarded", "X-Real-IP"):
        # A reverse proxy on the same host: its callers are not local.
        through_proxy = development.get("/metrics", headers={header: "203.0.113.9"})
        refused(through_proxy, 404, "NOT_FOUND")
    production = make_app(CEI_ENV="production", SECRET_KEY=STRONG_SECRET).test_client()
    refused(production.get("/metrics"), 404, "NOT_FOUND")


def test_a_short_metrics_token_is_refused_at_start(make_app):
    with pytest.raises(RuntimeError, match="CEI_METRICS_TOKEN"):
        make_app(METRICS_TOKEN="too-short")


def test_requests_are_counted_by_rule_method_and_status(metrics_app, factory_account):
    client = metrics_app.test_client()
    account, _ = factory_account
    before = scrape(client)
    endpoint = "/api/v1/sites/<site_id>"
    labels = {"method": "GET", "endpoint": endpoint, "status": "404"}
    for site_id in ("nowhere-1", "nowhere-2", "nowhere-3"):
        assert client.get(f"/api/v1/sites/{site_id}", headers=account["headers"]).status_code == 404
    client.open("/api/v1/sites", method="BREW")
    client.get("/no/such/page?token=abc")
    after = scrape(client)
    assert value(after, "cei_http_requests_total", **labels) == (
        value(before, "cei_http_requests_total", **labels) + 3
    )
    assert value(after, "cei_http_request_duration_seconds_count", **labels) == (
        value(before, "cei_http_request_duration_seconds_count", **labels) + 3
    )
    unmatched = {"method": "GET", "endpoint": "<unmatched>", "status": "404"}
    assert value(after, "cei_http_requests_total", **unmatched) == (
        value(before, "cei_http_requests_total", **unmatched) + 1
    )
    assert total(after, "cei_http_requests_total", method="other") == (
        total(before, "cei_http_requests_total", method="other") + 1
    )
    text = client.get("/metrics", headers=bearer(METRICS_TOKEN)).get_data(as_text=True)
    # Rules, not raw paths; no request method a caller made up.
    for raw in ("nowhere-1", "/no/such/page", "token=abc", "BREW"):
        assert raw not in text


def test_a_real_batch_moves_the_ingest_counters(metrics_app, factory_account):
    client = metrics_app.test_client()
    account, headers = factory_account
    records = hourly(24, site_id="ops-site-1", meter_id="main")
    send_batch(client, headers, records)  # stored once: the re-send below is duplicates
    before = scrape(client)
    bad = dict(records[0], value="not a number")
    fresh = hourly(6, site_id="ops-site-1", meter_id="second")
    answer = send_batch(client, headers, records[:10] + fresh + [bad])
    assert (answer["ingested"], answer["skipped_duplicate"], answer["failed"]) == (6, 10, 1)
    after = scrape(client)

    def grew(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("cei_ingest_batches_total", input="batch") == 1
    assert grew("cei_ingest_records_total", input="batch", outcome="ingested") == 6
    assert grew("cei_ingest_records_total", input="batch", outcome="skipped_duplicate") == 10
    assert grew("cei_ingest_records_total", input="batch", outcome="failed") == 1
    assert grew("cei_ingest_records_total", input="batch", outcome="updated") == 0
    assert grew("cei_ingest_batch_duration_seconds_count", input="batch") == 1
    assert grew("cei_ingest_batch_duration_seconds_sum", input="batch") > 0
    assert (
        grew(
            "cei_http_requests_total",
            method="POST",
            endpoint="/api/v1/timeseries/batch",
            status="200",
        )
        == 1
    )
    # The site has new data waiting for its analysis (no background work in tests).
    assert value(after, "cei_analysis_due_sites") == 1
    assert value(after, "cei_database_up") == 1
    # No tenant in any label, and their names nowhere.
    text = client.get("/metrics", headers=bearer(METRICS_TOKEN)).get_data(as_text=True)
    assert "Ops Test Works" not in text and "ops-site-1" not in text
    allowed = {"method", "endpoint", "status", "input", "outcome", "job", "queue", "le"}
    for name, labels in after:
        if name.startswith("cei_"):
            assert {key for key, _ in labels} <= allowed, (name, labels)


def test_a_csv_upload_counts_as_an_upload(metrics_app, factory_account):
    client = metrics_app.test_client()
    _, headers = factory_account
    before = scrape(client)
    rows = "\n".join(
        f"{record['timestamp_utc']},{record['value']}" for record in hourly(5, site_id="s")
    )
    response = client.post(
        "/api/v1/timeseries/upload",
        data={
            "file": (io.BytesIO(f"timestamp,value\n{rows}\n".encode()), "a.csv"),
            "site_id": "ops-site-2",
            "meter_id": "main",
        },
        headers=headers,
    )
    assert response.status_code == 200, response.get_json()
    after = scrape(client)
    upload = {"input": "upload", "outcome": "ingested"}
    assert value(after, "cei_ingest_records_total", **upload) == (
        value(before, "cei_ingest_records_total", **upload) + 5
    )


def test_an_analysis_run_is_counted_with_its_duration(metrics_app, factory_account):
    client = metrics_app.test_client()
    account, headers = factory_account
    send_batch(client, headers, hourly(72, site_id="ops-site-3", meter_id="main"))
    before = scrape(client)
    response = client.post(
        "/api/v1/analytics/run", json={"site_id": "ops-site-3"}, headers=account["headers"]
    )
    assert response.status_code == 202, response.get_json()
    (run,) = response.get_json()["runs"]
    assert run["status"] == "succeeded", run
    after = scrape(client)
    succeeded = {"job": "analysis", "outcome": "succeeded"}
    assert value(after, "cei_jobs_total", **succeeded) == (
        value(before, "cei_jobs_total", **succeeded) + 1
    )
    assert value(after, "cei_job_duration_seconds_count", **succeeded) == (
        value(before, "cei_job_duration_seconds_count", **succeeded) + 1
    )
    assert value(after, "cei_job_duration_seconds_sum", **succeeded) > value(
        before, "cei_job_duration_seconds_sum", **succeeded
    )
    assert value(after, "cei_analysis_runs_pending", status="queued") == 0


def test_a_failing_analysis_is_counted_as_failed(metrics_app, factory_account, monkeypatch):
    client = metrics_app.test_client()
    account, headers = factory_account
    send_batch(client, headers, hourly(3, site_id="ops-site-4", meter_id="main"))

    def broken_analysis(*args, **kwargs):
        raise RuntimeError("the analysis broke")

    # The analysis is not what is tested here: how the job's end is counted is.
    monkeypatch.setattr("cei.tasks.analytics.analyse_site", broken_analysis)
    before = scrape(client)
    response = client.post(
        "/api/v1/analytics/run", json={"site_id": "ops-site-4"}, headers=account["headers"]
    )
    (run,) = response.get_json()["runs"]
    assert run["status"] == "failed" and "the analysis broke" in run["error"]
    after = scrape(client)
    failed = {"job": "analysis", "outcome": "failed"}
    assert value(after, "cei_jobs_total", **failed) == value(before, "cei_jobs_total", **failed) + 1
    assert value(after, "cei_job_duration_seconds_count", **failed) == (
        value(before, "cei_job_duration_seconds_count", **failed) + 1
    )


def test_queued_work_shows_as_queue_depth(make_app, app, api):
    """Without Redis: the runs waiting in the database."""
    queued_app = make_app(METRICS_TOKEN=METRICS_TOKEN)  # jobs stay queued (no background)
    client = queued_app.test_client()
    api.client = client
    account = api.signup()
    token = bearer(api.make_token(account)["token"])
    for number in (1, 2):
        send_batch(client, token, hourly(2, site_id=f"queued-{number}"))
    response = client.post("/api/v1/analytics/run", json={}, headers=account["headers"])
    assert response.status_code == 202
    samples = scrape(client)
    assert value(samples, "cei_analysis_runs_pending", status="queued") == 2
    assert value(samples, "cei_analysis_runs_pending", status="running") == 0
    assert value(samples, "cei_reports_pending", status="queued") == 0
    assert ("cei_rq_up", frozenset()) not in samples  # no Redis configured


def test_redis_down_still_answers(make_app, app):
    down = make_app(METRICS_TOKEN=METRICS_TOKEN, REDIS_URL="redis://127.0.0.1:1/0")
    samples = scrape(down.test_client())
    assert value(samples, "cei_rq_up") == 0
    assert value(samples, "cei_database_up") == 1


def test_a_report_job_is_counted(metrics_app, factory_account):
    client = metrics_app.test_client()
    account, headers = factory_account
    send_batch(client, headers, hourly(48, site_id="ops-site-5", meter_id="main"))
    before = scrape(client)
    response = client.post(
        "/api/v1/reports", json={"site_id": "ops-site-5"}, headers=account["headers"]
    )
    assert response.status_code == 202, response.get_json()
    shown = client.get(f"/api/v1/reports/{response.get_json()['id']}", headers=account["headers"])
    assert shown.get_json()["status"] == "succeeded", shown.get_json()
    after = scrape(client)
    succeeded = {"job": "report", "outcome": "succeeded"}
    assert value(after, "cei_jobs_total", **succeeded) == (
        value(before, "cei_jobs_total", **succeeded) + 1
    )
    assert value(after, "cei_job_duration_seconds_count", **succeeded) == (
        value(before, "cei_job_duration_seconds_count", **succeeded) + 1
    )
    assert value(after, "cei_reports_pending", status="queued") == 0
