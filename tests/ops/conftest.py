"""Helpers of the operations tests: read /metrics as Prometheus would, send real batches."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import bearer
from tests.ingest.conftest import BATCH_URL

METRICS_TOKEN = "metrics-" + "Kp3xV9qLm2Zr7Tw4" * 2


def parse_metrics(text):
    """``{(sample name, frozenset(labels)): value}`` of a Prometheus text exposition."""
    values = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return values


def value(samples, name, **labels):
    """The value of the sample ``name`` with exactly ``labels`` (0 when absent)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples, name, **labels):
    """The sum of the samples ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, got), v in samples.items() if n == name and wanted <= got)


def scrape(client, token=METRICS_TOKEN):
    """GET /metrics with the metrics token; assert 200 text; return the parsed samples."""
    headers = bearer(token) if token else {}
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/plain"
    return parse_metrics(response.get_data(as_text=True))


@pytest.fixture
def metrics_app(app, make_app):
    """An app (on the emptied database) whose /metrics wants ``METRICS_TOKEN`` and whose jobs
    run inside the request."""
    return make_app(METRICS_TOKEN=METRICS_TOKEN, JOBS_INLINE=True)


@pytest.fixture
def factory_account(metrics_app, api):
    """A signed-up admin of ``metrics_app`` with an ingest token: ``(account, token headers)``."""
    api.client = metrics_app.test_client()
    account = api.signup(org="Ops Test Works")
    token = api.make_token(account, scopes=["ingest", "read"])["token"]
    return account, bearer(token)


def send_batch(client, headers, records, **extra_headers):
    """POST a batch; assert 200; return the answer."""
    response = client.post(
        BATCH_URL, json={"records": records}, headers={**headers, **extra_headers}
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()
