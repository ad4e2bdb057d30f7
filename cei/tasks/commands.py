"""CLI: ``cei worker`` (RQ worker + dispatcher) and ``cei dispatch`` (the dispatcher alone)."""

import threading

import click
from flask import current_app
from flask.cli import with_appcontext

from cei.tasks.dispatcher import Dispatcher, start_dispatcher_thread
from cei.tasks.queues import QUEUE_NAME, InlineJobQueue, RQJobQueue, make_job_queue
from cei.tasks.reports import QUEUE_NAME as REPORTS_QUEUE


@click.command("worker")
@click.option("--burst", is_flag=True, help="Quit when the queues are empty.")
@click.option(
    "--no-dispatcher",
    is_flag=True,
    help="Only run jobs; another process dispatches (any number of dispatchers may run).",
)
@click.option(
    "--queue",
    "queues",
    multiple=True,
    default=(QUEUE_NAME, REPORTS_QUEUE),
    show_default=True,
    help="Queue(s) to work on.",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    envvar="CEI_WORKER_METRICS_PORT",
    help="Serve this worker's job metrics (Prometheus) on this port, at /metrics.",
)
@click.option(
    "--metrics-host",
    default="127.0.0.1",
    show_default=True,
    envvar="CEI_WORKER_METRICS_HOST",
    help="Address the metrics port listens on.",
)
@with_appcontext
def worker(burst, no_dispatcher, queues, metrics_port, metrics_host):
    """Run an RQ worker on Redis (CEI_REDIS_URL), with a dispatcher thread.

    Start as many as you like, on any host: jobs are claimed once each, and the dispatchers
    share their work through the database. With --metrics-port, the worker's job counts
    and durations are served for Prometheus (CEI_METRICS_TOKEN as for the web /metrics).
    """
    from cei.tasks.worker import run_worker

    app = current_app._get_current_object()
    url = app.config.get("REDIS_URL")
    if not url:
        raise click.UsageError(
            "CEI_REDIS_URL is not set; without Redis the web process runs the jobs itself"
        )
    if metrics_port is not None:
        from cei.tasks.metrics_server import start_metrics_server

        start_metrics_server(
            metrics_host,
            metrics_port,
            app.config.get("METRICS_TOKEN"),
            app.config.get("CEI_ENV") == "production",
        )
    job_queue = RQJobQueue(url, app.config["ANALYTICS_JOB_TIMEOUT"])
    stop = threading.Event()
    if not no_dispatcher:
        if burst:
            Dispatcher(app, job_queue).tick()
        else:
            _, stop = start_dispatcher_thread(app, job_queue)
    try:
        # Jobs run in this process (see cei.tasks.worker); run more workers for more
        # throughput.
        run_worker(app, queues, burst=burst)
    finally:
        stop.set()
        job_queue.close()


@click.command("dispatch")
@click.option("--once", is_flag=True, help="One pass, then exit.")
@click.option(
    "--inline",
    is_flag=True,
    help="Analyse here and now instead of queueing (no Redis needed); implies --once.",
)
@with_appcontext
def dispatch(once, inline):
    """Queue analyses of sites with new data (and hourly re-runs), and hand them to workers."""
    app = current_app._get_current_object()
    job_queue = InlineJobQueue(app) if inline else make_job_queue(app)
    dispatcher = Dispatcher(app, job_queue, every_queued_first=True)
    if once or inline:
        stats = dispatcher.tick()
        click.echo(" ".join(f"{key}={value}" for key, value in stats.items()))
        if inline:
            failed = sum(result == "failed" for _, result in job_queue.results)
            click.echo(f"analysed={len(job_queue.results)} failed={failed}")
        return
    stop = threading.Event()
    try:
        dispatcher.run_forever(stop)
    except KeyboardInterrupt:
        stop.set()
    finally:
        job_queue.close()
