"""Prometheus metrics: what CEI counts, and the text ``/metrics`` answers.

Labels never name a tenant (no organization, site or token): only endpoints (URL rules),
methods, statuses, inputs, outcomes and job kinds, so every label has a few known values.

Several processes (gunicorn workers): set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory
the processes share before they start; each writes its values there and ``/metrics`` adds
them up (prometheus_client's multiprocess mode; ``cei.gunicorn_config`` empties the directory
at start and drops the files of dead workers).
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import time

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

# No ``*_created`` series beside each counter and histogram: they double the text for a
# timestamp Prometheus does not need (it sees counter resets itself).
disable_created_metrics()

# The classic text format (what generate_latest writes), understood by every Prometheus.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"

KNOWN_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
UNMATCHED_ENDPOINT = "<unmatched>"  # no URL rule matched (404, or refused before routing)
INGEST_OUTCOMES = ("ingested", "updated", "skipped_duplicate", "failed")

# Seconds; requests from a few ms (reads) to tens of seconds (large uploads, reports).
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
JOB_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)

http_requests = Counter(
    "cei_http_requests",
    "HTTP requests answered, by method, endpoint (URL rule) and status",
    ["method", "endpoint", "status"],
)
http_request_duration = Histogram(
    "cei_http_request_duration_seconds",
    "Time to answer an HTTP request (until the response is ready), seconds",
    ["method", "endpoint", "status"],
    buckets=REQUEST_BUCKETS,
)
ingest_batches = Counter(
    "cei_ingest_batches",
    "Batches and CSV uploads stored (committed), by input (batch, upload)",
    ["input"],
)
ingest_records = Counter(
    "cei_ingest_records",
    "Records of stored batches, by input and outcome "
    "(ingested, updated, skipped_duplicate, failed)",
    ["input", "outcome"],
)
ingest_duration = Histogram(
    "cei_ingest_batch_duration_seconds",
    "Time ingestion spent on one batch or upload (the duration_ms it answers), seconds",
    ["input"],
    buckets=REQUEST_BUCKETS,
)
jobs = Counter(
    "cei_jobs",
    "Jobs that ran, by job (analysis, report) and outcome (succeeded, failed, skipped)",
    ["job", "outcome"],
)
job_duration = Histogram(
    "cei_job_duration_seconds",
    "Time a job took, by job and outcome (succeeded, failed), seconds",
    ["job", "outcome"],
    buckets=JOB_BUCKETS,
)


PROXY_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


def is_loopback(address):
    """Tell whether ``address`` (an IP address string) is this host's loopback interface."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


def _bearer(authorization):
    scheme, _, value = (authorization or "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def scrape_refusal(token, production, authorization, remote_addr, header_names):
    """Who may read the metrics: None when the caller may, else the refusal's status.

    With a ``token``: only a caller sending ``Authorization: Bearer <token>`` (compared in
    constant time), from anywhere; else 401. Without one: outside ``production``, only a
    caller on the loopback interface whose request came through no proxy (none of
    :data:`PROXY_HEADERS`: a reverse proxy on the same host would make every visitor look
    local); else 404, as if there were nothing here.
    """
    if token:
        presented = _bearer(authorization).encode("utf-8", "surrogatepass")
        return None if hmac.compare_digest(presented, token.encode("utf-8")) else 401
    names = {name.lower() for name in header_names}
    through_proxy = any(name.lower() in names for name in PROXY_HEADERS)
    if production or through_proxy or not is_loopback(remote_addr):
        return 404
    return None


REFUSALS = {
    401: ("UNAUTHORIZED", "Send 'Authorization: Bearer <CEI_METRICS_TOKEN>'"),
    404: ("NOT_FOUND", "Not found"),
}


def method_label(method):
    """The request method, or ``other`` (a label must not take any string a caller sends)."""
    return method if method in KNOWN_METHODS else "other"


def count_request(method, endpoint, status, seconds):
    """Count one answered HTTP request."""
    labels = (method_label(method), endpoint or UNMATCHED_ENDPOINT, str(status))
    http_requests.labels(*labels).inc()
    http_request_duration.labels(*labels).observe(seconds)


def count_ingest(input_kind, result):
    """Count a committed batch or upload (``input_kind``: ``batch`` or ``upload``)."""
    ingest_batches.labels(input_kind).inc()
    for outcome in INGEST_OUTCOMES:
        value = getattr(result, outcome)
        if value:
            ingest_records.labels(input_kind, outcome).inc(value)
    ingest_duration.labels(input_kind).observe(result.duration_ms / 1000)


def count_job(job, outcome, seconds=None):
    """Count a job that ended with ``outcome``; ``seconds`` it took (None when skipped)."""
    jobs.labels(job, outcome).inc()
    if seconds is not None:
        job_duration.labels(job, outcome).observe(seconds)


def counted_job(job, function, *args):
    """Run ``function(*args)``, which returns an outcome, and count it as a ``job``.

    An exception escaping ``function`` counts as ``failed`` (and is raised again).
    """
    started = time.perf_counter()
    outcome = "failed"
    try:
        outcome = function(*args)
        return outcome
    finally:
        seconds = None if outcome == "skipped" else time.perf_counter() - started
        count_job(job, outcome, seconds)


def gauge(name, documentation, values, label=None):
    """A gauge family for a scrape: ``values`` is a number, or ``{label value: number}``."""
    if label is None:
        family = GaugeMetricFamily(name, documentation, value=values)
    else:
        family = GaugeMetricFamily(name, documentation, labels=[label])
        for key, value in sorted(values.items()):
            family.add_metric([key], value)
    return family


class _Families:
    """A collector made of the registry's metrics and families computed for this scrape."""

    def __init__(self, registry, families):
        self.registry = registry
        self.families = families

    def collect(self):
        yield from self.registry.collect()
        yield from self.families


def exposition(families=()):
    """The metrics in Prometheus' text format, with the extra gauge ``families``."""
    registry = REGISTRY
    if os.environ.get(MULTIPROCESS_ENV):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return generate_latest(_Families(registry, list(families)))
