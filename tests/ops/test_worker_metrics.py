"""With Redis: queue depth on the web /metrics, and a real RQ worker's job metrics on the
worker's own /metrics (``cei worker --metrics-port``)."""

import requests
from rq import Queue, SimpleWorker

from cei.tasks.metrics_server import start_metrics_server
from cei.tasks.queues import QUEUE_NAME, redis_connection
from tests.conftest import bearer
from tests.ingest.conftest import hourly
from tests.ops.conftest import METRICS_TOKEN, parse_metrics, scrape, send_batch, value


def run_worker(app, redis_url):
    """A real RQ worker (as ``cei worker`` runs it) in burst mode on the analytics queue."""
    connection = redis_connection(redis_url)
    try:
        worker = SimpleWorker([Queue(QUEUE_NAME, connection=connection)], connection=connection)
        with app.app_context():
            worker.work(burst=True, logging_level="WARNING")
    finally:
        connection.close()


def test_queue_depth_and_the_workers_job_metrics(make_app, app, api, redis_url):
    rq_app = make_app(METRICS_TOKEN=METRICS_TOKEN, REDIS_URL=redis_url)
    client = rq_app.test_client()
    api.client = client
    account = api.signup()
    send_batch(client, bearer(api.make_token(account)["token"]), hourly(48, site_id="rq-site"))
    response = client.post(
        "/api/v1/analytics/run", json={"site_id": "rq-site"}, headers=account["headers"]
    )
    assert response.status_code == 202
    waiting = scrape(client)
    assert value(waiting, "cei_rq_up") == 1
    assert value(waiting, "cei_rq_queue_jobs", queue="analytics") == 1
    assert value(waiting, "cei_rq_queue_jobs", queue="reports") == 0
    assert value(waiting, "cei_analysis_runs_pending", status="queued") == 1

    server = start_metrics_server("127.0.0.1", 0, METRICS_TOKEN, production=True)
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        refused = requests.get(url + "/metrics", timeout=10)
        assert refused.status_code == 401 and refused.json()["code"] == "UNAUTHORIZED"
        assert refused.headers["WWW-Authenticate"] == "Bearer"
        elsewhere = requests.get(url + "/other", headers=bearer(METRICS_TOKEN), timeout=10)
        assert elsewhere.status_code == 404
        before = parse_metrics(
            requests.get(url + "/metrics", headers=bearer(METRICS_TOKEN), timeout=10).text
        )
        run_worker(rq_app, redis_url)
        answer = requests.get(url + "/metrics", headers=bearer(METRICS_TOKEN), timeout=10)
    finally:
        server.shutdown()
        server.server_close()
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    after = parse_metrics(answer.text)
    succeeded = {"job": "analysis", "outcome": "succeeded"}
    assert value(after, "cei_jobs_total", **succeeded) == (
        value(before, "cei_jobs_total", **succeeded) + 1
    )
    assert value(after, "cei_job_duration_seconds_count", **succeeded) == (
        value(before, "cei_job_duration_seconds_count", **succeeded) + 1
    )
    done = scrape(client)
    assert value(done, "cei_rq_queue_jobs", queue="analytics") == 0
    assert value(done, "cei_analysis_runs_pending", status="queued") == 0
