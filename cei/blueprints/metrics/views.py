"""``GET /metrics``: the Prometheus text, for the operator's scraper only.

Who may read it:

- with ``METRICS_TOKEN`` set: a caller sending ``Authorization: Bearer <METRICS_TOKEN>``
  (compared in constant time), from anywhere; anyone else gets 401;
- without it: outside production, a caller on the loopback interface whose request came
  through no proxy (no ``X-Forwarded-For``, ``Forwarded`` or ``X-Real-IP``: a reverse proxy
  on the same host would make every visitor look local); anyone else gets 404, as if the
  endpoint did not exist. In production without a token nobody may.

Errors are JSON (``{code, message, request_id}``). The text names no tenant.
"""

import hmac
import ipaddress

from flask import Blueprint, Response, current_app, g, jsonify, request

from cei import metrics
from cei.services.backlog import pending_work
from cei.tasks.queues import QUEUE_NAME as ANALYTICS_QUEUE
from cei.tasks.queues import rq_queue_lengths
from cei.tasks.reports import QUEUE_NAME as REPORTS_QUEUE

bp = Blueprint("metrics", __name__)

PROXY_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


def _refusal(status, code, message, headers=None):
    body = jsonify(code=code, message=message, request_id=g.get("request_id", "-"))
    return body, status, {"Cache-Control": "no-store", **(headers or {})}


def _is_loopback(address):
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


def _presented_token():
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def refusal():
    """The answer for a caller that may not read the metrics, or None when it may."""
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        presented = _presented_token().encode("utf-8", "surrogatepass")
        if hmac.compare_digest(presented, token.encode("utf-8")):
            return None
        return _refusal(
            401,
            "UNAUTHORIZED",
            "Send 'Authorization: Bearer <CEI_METRICS_TOKEN>'",
            {"WWW-Authenticate": "Bearer"},
        )
    local = _is_loopback(request.remote_addr) and not any(
        name in request.headers for name in PROXY_HEADERS
    )
    if local and current_app.config.get("CEI_ENV") != "production":
        return None
    return _refusal(404, "NOT_FOUND", "Not found")


def queue_families():
    """The queue-depth gauges: RQ queues (with Redis) and the work waiting in the database."""
    work = pending_work()
    families = [
        metrics.gauge(
            "cei_database_up", "1 when the database answered this scrape", int(bool(work))
        )
    ]
    if work is not None:
        families += [
            metrics.gauge(
                "cei_analysis_due_sites",
                "Sites with new data not yet turned into an analysis run",
                work["due_sites"],
            ),
            metrics.gauge(
                "cei_analysis_runs_pending",
                "Analysis runs waiting (queued) or running, from the database",
                work["analysis_runs"],
                label="status",
            ),
            metrics.gauge(
                "cei_reports_pending",
                "Reports waiting (queued) or being generated (running), from the database",
                work["reports"],
                label="status",
            ),
        ]
    redis_url = current_app.config.get("REDIS_URL")
    if redis_url:
        lengths = rq_queue_lengths(redis_url, (ANALYTICS_QUEUE, REPORTS_QUEUE))
        families.append(
            metrics.gauge(
                "cei_rq_up", "1 when Redis answered this scrape", int(lengths is not None)
            )
        )
        if lengths is not None:
            families.append(
                metrics.gauge(
                    "cei_rq_queue_jobs", "Jobs waiting in an RQ queue", lengths, label="queue"
                )
            )
    return families


@bp.get("/metrics")
def scrape():
    """Prometheus metrics (text format 0.0.4)."""
    refused = refusal()
    if refused is not None:
        return refused
    body = metrics.exposition(queue_families())
    return Response(
        body,
        mimetype=None,
        content_type=metrics.CONTENT_TYPE,
        headers={"Cache-Control": "no-store"},
    )
