"""``GET /metrics``: the Prometheus text, for the operator's scraper only.

Who may read it (:func:`cei.metrics.scrape_refusal`):

- with ``METRICS_TOKEN`` set: a caller sending ``Authorization: Bearer <METRICS_TOKEN>``
  (compared in constant time), from anywhere; anyone else gets 401;
- without it: outside production, a caller on the loopback interface whose request came
  through no proxy (no ``X-Forwarded-For``, ``Forwarded`` or ``X-Real-IP``: a reverse proxy
  on the same host would make every visitor look local); anyone else gets 404, as if the
  endpoint did not exist. In production without a token nobody may.

Errors are JSON (``{code, message, request_id}``). The text names no tenant.
"""

from flask import Blueprint, Response, current_app, g, jsonify, request

from cei import metrics
from cei.services.backlog import pending_work
from cei.tasks.queues import QUEUE_NAME as ANALYTICS_QUEUE
from cei.tasks.queues import rq_queue_lengths
from cei.tasks.reports import QUEUE_NAME as REPORTS_QUEUE

bp = Blueprint("metrics", __name__)

def refusal():
    """The answer for a caller that may not read the metrics, or None when it may."""
    status = metrics.scrape_refusal(
        current_app.config.get("METRICS_TOKEN"),
        current_app.config.get("CEI_ENV") == "production",
        request.headers.get("Authorization"),
        request.remote_addr,
        request.headers.keys(),
    )
    if status is None:
        return None
    code, message = metrics.REFUSALS[status]
    headers = {"Cache-Control": "no-store"}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    body = jsonify(code=code, message=message, request_id=g.get("request_id", "-"))
    return body, status, headers


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
