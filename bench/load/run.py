"""Load test: a scaled-out CEI under write load, with readers and analysis jobs, on 127.0.0.1.

Starts ``--instances`` gunicorn instances (separate ports, ``--workers`` processes ×
``--threads`` threads each, with docs/deploy/gunicorn.conf.py), ``--rq-workers`` ``cei
worker --no-dispatcher`` processes and ``--dispatchers`` ``cei dispatch`` processes (the
processes of docs/deploy.md; ``--dispatchers 0``: each worker runs its own dispatcher
thread) on one PostgreSQL database and one Redis database, makes an organization
through the API (sign-up, one ingest token per client, a read token, ``--clients`` sites ×
``--meters`` meters), then for ``--seconds``:

- ``--clients`` clients (threads, one site and token each, kept-alive ``http.client``
  connections, half of them on each instance) POST ``--batch-size``-record batches, one in
  ``--replay-every`` an exact replay (alternately of an answered batch, which must come back
  wholly ``skipped_duplicate``, and of a batch another client is sending at that moment);
- readers measure ``summary``, ``series`` (7 days hourly) and the dashboard page (a session
  signed in through the login form), across both instances;
- the dispatchers turn the new data into analysis runs that the RQ workers execute, and
  half-way a person asks for an analysis of every site (a manual trigger).

Then it waits for the analyses to finish, checks that exact replays mark nothing for
analysis and that one new batch per site gives exactly one run per site, and prints the
figures: records/s accepted, batch latency p50/p95, read p95s, errors, stored rows against
distinct readings sent, analysis runs per site per trigger, the bare PostgreSQL insert rate
of the same batches (as ``bench/ingest.py`` measures it) and where the CPU went (the load
clients run on the same machine as the servers and compete with them).

    .venv/bin/python -m bench.load [--seconds 60] [--database-url URL | --fresh-database NAME]
        [--redis-url redis://127.0.0.1:6379/14] [--json figures.json] [--keep-logs]

Without ``--database-url`` the database ``--fresh-database`` (default ``cei_load``) is
dropped and created again; with it, the database is used as it is (migrated with ``cei
init-db``; the counts only look at the organization the run creates). The Redis database
is flushed. The exit status is 0 when every correctness check held (no errors, rows =
distinct readings, one run per site per trigger); ``--require-targets`` also requires the
speed targets.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``bench.load`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import requests  # noqa: E402

from bench.load import checks, database, figures, processes, tenant  # noqa: E402
from bench.load.readers import ReadLoad  # noqa: E402
from bench.load.writers import BatchMaker, Sender, WriteLoad, judge  # noqa: E402

PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
SERVER_PATHS = {
    "batch": ("POST", "/api/v1/timeseries/batch"),
    "summary": ("GET", "/api/v1/timeseries/summary"),
    "series": ("GET", "/api/v1/timeseries/series"),
    "dashboard": ("GET", "/"),
}
HOUR = 3600


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60, help="length of the write load")
    parser.add_argument("--clients", type=int, default=8, help="writers (one site each)")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--meters", type=int, default=20, help="meters per site")
    parser.add_argument("--replay-every", type=int, default=10, help="1 batch in N is a replay")
    parser.add_argument(
        "--rate", type=float, help="records/s over all clients (default: as fast as they can)"
    )
    parser.add_argument("--keys", action="store_true", help="records carry idempotency keys")
    parser.add_argument("--instances", type=int, default=2, help="gunicorn instances")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per instance")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--rq-workers", type=int, default=2)
    parser.add_argument(
        "--dispatchers",
        type=int,
        default=1,
        help="`cei dispatch` processes (0: each `cei worker` runs its own dispatcher thread)",
    )
    parser.add_argument(
        "--wsgi", default="wsgi:app", help="the app gunicorn serves (a wrapper, to profile)"
    )
    parser.add_argument("--read-pause", type=float, default=0.2, help="seconds between reads")
    parser.add_argument("--database-url", help="use this database as it is")
    parser.add_argument(
        "--fresh-database",
        default="cei_load",
        help="without --database-url: (re)create this database on 127.0.0.1",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14", help="flushed")
    parser.add_argument("--bare-seconds", type=float, default=3, help="0: skip the bare rate")
    parser.add_argument("--drain-seconds", type=float, default=180)
    parser.add_argument(
        "--no-access-log", action="store_true", help="no gunicorn access logs (server times)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs")
    parser.add_argument("--require-targets", action="store_true")
    return parser.parse_args(argv)


def _interrupt_on_signals():
    """Ctrl-C and SIGTERM end the run through ``finally`` (which stops every process), also
    when the bench was started with SIGINT ignored (a background job of a script)."""

    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def main(argv=None):
    """Run the load test; return the exit status."""
    args = parse_args(argv)
    _interrupt_on_signals()
    url = args.database_url or database.create_fresh(f"{PG_SERVER}/{args.fresh_database}")
    database.check_loopback(url)
    database.check_loopback(args.redis_url)
    flush_redis(args.redis_url)
    workdir = Path(tempfile.mkdtemp(prefix="cei-load-"))
    env = {
        **os.environ,
        "CEI_DATABASE_URL": url,
        "CEI_REDIS_URL": args.redis_url,
        "CEI_SECRET_KEY": secrets.token_urlsafe(48),
        "CEI_LOG_LEVEL": "INFO",
    }
    env.pop("CEI_ENV", None)  # development: the session cookie must travel over plain HTTP
    subprocess.run(
        [*processes.CEI, "init-db"],
        cwd=processes.ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    group = processes.ProcessGroup(env, workdir)
    report, ok = None, False
    try:
        report = run(args, url, group)
        ok = all(check["ok"] for check in report["verdicts"])
        figures.print_report(report)
        if args.json:
            args.json.write_text(json.dumps(report, indent=2, default=str))
        if args.require_targets and not targets_met(report):
            ok = False
    except KeyboardInterrupt:
        print("\ninterrupted: stopping the processes", file=sys.stderr)
        ok = False
    finally:
        group.stop_all()
        if args.keep_logs or not ok:
            print(f"logs: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1


def flush_redis(redis_url):
    """Empty the Redis database of the run (queues, rate-limit counters)."""
    from redis import Redis

    client = Redis.from_url(redis_url, socket_connect_timeout=2)
    try:
        client.flushdb()
    finally:
        client.close()


def targets_met(report):
    """Tell whether the speed targets were met."""
    writes, reads = report["writes"], report["reads"]
    return (
        writes["records_per_second"] >= figures.TARGET_RECORDS_PER_SECOND
        and writes["latency"]["p95_ms"] <= figures.TARGET_BATCH_P95_MS
        and all(kind["p95_ms"] <= figures.TARGET_READ_P95_MS for kind in reads.values())
    )


def run(args, url, group):
    """Start the processes, make the tenant, measure, check; return the report."""
    load_before = " ".join(f"{value:.2f}" for value in os.getloadavg())
    size_before = database.database_bytes(url)
    apps = [
        group.start_app(
            f"app-{n + 1}", args.workers, args.threads, args.wsgi, not args.no_access_log
        )
        for n in range(args.instances)
    ]
    for app in apps:
        group.wait_serving(app)
    urls = [app.url for app in apps]
    print(f"app instances: {', '.join(urls)}", file=sys.stderr)
    who = tenant.create_tenant(urls[0], args.clients, args.meters, args.clients)
    bare = measure_bare(args, url, urls[0], who)
    for n in range(args.rq_workers):
        group.start_worker(f"rq-worker-{n + 1}", dispatcher=args.dispatchers == 0)
    for n in range(args.dispatchers):
        group.start_dispatcher(f"rq-dispatch-{n + 1}")
    group.wait_workers(args.redis_url, args.rq_workers)
    end_ts = int(time.time()) // HOUR * HOUR
    makers = [
        BatchMaker(site_id, who.meter_ids, args.batch_size, end_ts, keys=args.keys)
        for site_id in who.site_ids
    ]
    writes = WriteLoad(urls, who.ingest_tokens, makers, args.replay_every, args.rate)
    warm_outcomes = writes.warm_up()
    reads = ReadLoad(
        urls, who.read_token, tenant.web_session(urls[-1], who), who.site_ids, args.read_pause
    )
    reads.start()
    print(f"writing for {args.seconds:g} s …", file=sys.stderr)
    cpu_before = cpu_snapshot(group, url)
    started = time.perf_counter()
    writes.start(started + args.seconds)
    try:
        time.sleep(args.seconds / 2)
        manual_answer = tenant.request_analysis(urls[0], who)
        writes.join()
    except BaseException:
        writes.stop.set()
        reads.finish()
        raise
    ended = max((o.started + o.seconds for o in writes.outcomes), default=time.perf_counter())
    cpu_after = cpu_snapshot(group, url)
    resources = resource_snapshot(group, url, args.redis_url)
    reads.finish()
    print("waiting for the analyses to finish …", file=sys.stderr)
    drain(url, who.organization_id, args.drain_seconds)
    load_runs = database.runs(url, who.organization_id)
    last_run = max((run.id for run in load_runs), default=0)
    replay_probe = probe_replays(url, urls, who, writes)
    data_probe_runs, probe_ingested = probe_new_data(
        url, urls, who, writes, last_run, args.drain_seconds
    )
    logs = [started.log_path for started in group.started if started.name.startswith("rq-")]
    executed = checks.executions(logs, who.organization_id)
    all_runs = database.runs(url, who.organization_id)
    stored = database.reading_count(url, who.organization_id, who.site_ids)
    resources["database_growth_bytes"] = database.database_bytes(url) - size_before
    return build_report(
        args=args,
        setup_extra={"postgres": database.server_settings(url), "load_before": load_before},
        writes=writes,
        warm_outcomes=warm_outcomes,
        reads=reads,
        window=(started, ended),
        cpu=(cpu_before, cpu_after),
        bare=bare,
        who=who,
        runs=(all_runs, load_runs, executed, manual_answer),
        probes=(replay_probe, (data_probe_runs, executed)),
        stored=stored,
        probe_ingested=probe_ingested,
        server=processes.server_times(group.workdir),
        resources=resources,
    )


def measure_bare(args, url, base_url, who):
    """The bare insert rate of the same batch size, on 1 connection and on ``--clients``."""
    if args.bare_seconds <= 0:
        return []
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {who.access_token}"
    tenant.create_site(http, base_url, "bare", "UTC", ["bare"])
    pk = database.meter_pk(url, who.organization_id, "bare", "bare")
    start_ts = int(time.time()) // HOUR * HOUR
    rates = []
    for number, connections in enumerate(sorted({1, args.clients})):
        rates.append(
            database.bare_insert_rate(
                url,
                pk,
                args.batch_size,
                args.bare_seconds,
                connections,
                start_ts - number * 100 * database.BARE_STRETCH * database.BARE_STEP,
            )._asdict()
        )
    database.delete_meter_readings(url, pk)
    tenant.delete_site(base_url, who, "bare")
    return rates


def cpu_snapshot(group, url):
    """CPU seconds so far: this process, the apps, the workers, PostgreSQL, the machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "clients": usage.ru_utime + usage.ru_stime,
        "apps": processes.cpu_seconds(group.pids("app-")),
        "rq": processes.cpu_seconds(group.pids("rq-")),
        "postgres": processes.cpu_seconds(database.backend_pids(url)),
        "sessions": database.sessions_opened(url),
        "machine": processes.machine_cpu(),
    }


def resource_snapshot(group, url, redis_url):
    """Peak memory of each kind of process, database connections, Redis memory: sizing."""
    from redis import Redis

    def peaks(pids):
        values = list(processes.peak_memory(pids).values())
        return {"count": len(values), "max_mib": round(max(values, default=0), 1)}

    client = Redis.from_url(redis_url, socket_connect_timeout=2)
    try:
        redis_memory = client.info("memory")["used_memory_peak"]
    finally:
        client.close()
    return {
        "web_worker_memory": peaks(group.children("app-")),
        "rq_worker_memory": peaks(group.pids("rq-worker-")),
        "dispatcher_memory": peaks(group.pids("rq-dispatch-")),
        "postgres_connections": len(database.backend_pids(url)),
        "redis_used_memory_peak_bytes": redis_memory,
    }


def cpu_used(before, after):
    """CPU seconds each part used between two snapshots (``machine``: all of it, busy)."""

    def summed(name):
        return sum(after[name][pid] - before[name].get(pid, 0.0) for pid in after[name])

    return {
        "load clients": after["clients"] - before["clients"],
        "app instances": summed("apps"),
        "RQ workers": summed("rq"),
        "PostgreSQL (this database)": summed("postgres"),
        "machine": after["machine"][0] - before["machine"][0],
    }


def cpu_figures(used, wall, cpus, records):
    """Shares of the machine's CPUs, and CPU ms per 1,000 records accepted, by part."""
    capacity = wall * cpus / 100
    parts = {name: seconds for name, seconds in used.items() if name != "machine"}
    shares = {name: seconds / capacity for name, seconds in parts.items()}
    busy = used["machine"] / capacity
    shares["everything else"] = max(0.0, busy - sum(shares.values()))
    shares["idle"] = max(0.0, 100 - busy)
    per_thousand = (
        {name: seconds * 1e6 / records for name, seconds in parts.items()} if records else {}
    )
    # The rate at which the load test's own processes would use every CPU of the machine,
    # were nothing else running: an extrapolation from the CPU they used, not a measurement.
    total = sum(per_thousand.values())
    ceiling = cpus * 1000 / total * 1000 if total else float("nan")
    return {
        "share_pct": {name: round(share, 1) for name, share in shares.items()},
        "ms_per_1000_records": {name: round(ms, 2) for name, ms in per_thousand.items()},
        "cpu_bound_ceiling_records_per_second": round(ceiling),
    }


def drain(url, organization_id, seconds):
    """Wait until the organization has no site marked due and no run queued or running."""
    deadline = time.monotonic() + seconds
    while True:
        pending, due = database.pending_work(url, organization_id)
        if not pending and not due:
            return
        if time.monotonic() > deadline:
            raise SystemExit(
                f"analyses not finished after {seconds} s: {pending} runs pending, {due} sites due"
            )
        time.sleep(0.5)


def probe_replays(url, urls, who, writes):
    """One exact replay of each client's first batch; return (sites due, runs since)."""
    last = max((run.id for run in database.runs(url, who.organization_id)), default=0)
    for client, maker in enumerate(writes.makers):
        sender = Sender(urls[client % len(urls)], who.ingest_tokens[client])
        status, content = sender.post(maker.make(0).body)
        sender.close()
        error = judge("replay", maker.size, status, content)[-1]
        if error:
            raise SystemExit(f"replay probe: {error}")
    return database.due_sites(url, who.organization_id), database.runs(
        url, who.organization_id, since_id=last
    )


def probe_new_data(url, urls, who, writes, last_run, seconds):
    """One new batch per site (each client's next block); return the runs they caused."""
    last = max((run.id for run in database.runs(url, who.organization_id)), default=last_run)
    ingested = 0
    for client, maker in enumerate(writes.makers):
        block = writes.next_block[client]
        writes.next_block[client] += 1
        sender = Sender(urls[client % len(urls)], who.ingest_tokens[client])
        status, content = sender.post(maker.make(block).body)
        sender.close()
        error = judge("new", maker.size, status, content)[-1]
        if error:
            raise SystemExit(f"new-data probe: {error}")
        writes.originals.append((client, block))
        ingested += judge("new", maker.size, status, content)[0]
    time.sleep(0.5)
    drain(url, who.organization_id, seconds)
    return database.runs(url, who.organization_id, since_id=last), ingested


def build_report(
    *,
    args,
    setup_extra,
    writes,
    warm_outcomes,
    reads,
    window,
    cpu,
    bare,
    who,
    runs,
    probes,
    stored,
    probe_ingested,
    server,
    resources,
):
    """Gather the figures and verdicts into one JSON-ready dict."""
    started, ended = window
    wall = ended - started
    timed = [o for o in writes.outcomes if o.started >= started]
    accepted = sum(o.ingested + o.skipped for o in timed if o.error is None)
    new_readings = sum(o.ingested for o in timed)
    errors = [o for o in writes.outcomes + warm_outcomes if o.error]
    kinds = Counter(o.kind for o in timed)
    service = [o.service_ms for o in timed if o.status == 200]
    read_figures = {}
    for kind in ("summary", "series", "dashboard"):
        samples = [r for r in reads.reads if r.kind == kind and started <= r.started <= ended]
        read_figures[kind] = {
            **figures.latency([r.seconds for r in samples]),
            "errors": sum(1 for r in samples if r.error),
        }
    read_errors = [r for r in reads.reads if r.error]
    all_runs, load_runs, executed, manual_answer = runs
    per_site = checks.runs_per_site(load_runs, who.site_ids)
    analysed = Counter()
    for run in load_runs:
        analysed[run.site_id] += executed[run.id]
    distinct = writes.distinct_readings()
    ingested_total = sum(o.ingested for o in writes.outcomes + warm_outcomes) + probe_ingested
    verdicts = [
        checks.Verdict(
            "no errors (writes, reads)",
            not errors and not read_errors,
            f"{len(errors)} write errors, {len(read_errors)} read errors"
            + "".join(f"; {o.kind}: {o.error}" for o in errors[:3])
            + "".join(f"; {r.kind}: {r.error}" for r in read_errors[:3]),
        ),
        checks.Verdict(
            "rows stored = distinct readings sent = readings answered as ingested",
            stored == distinct == ingested_total,
            f"{stored:,} rows, {distinct:,} distinct readings, {ingested_total:,} ingested",
        ),
        *checks.run_verdicts(all_runs, load_runs, executed, who.site_ids, manual_answer),
        *checks.probe_verdicts(probes[0], probes[1], who.site_ids),
    ]
    cpus = os.cpu_count()
    return {
        "setup": {
            "instances": args.instances,
            "workers": args.workers,
            "threads": args.threads,
            "rq_workers": args.rq_workers,
            "dispatchers": args.dispatchers,
            "clients": args.clients,
            "batch_size": args.batch_size,
            "replay_every": args.replay_every,
            "rate": args.rate,
            "keys": args.keys,
            "sites": len(who.site_ids),
            "meters": len(who.meter_ids),
            "cpus": cpus,
            "load_average_before": setup_extra["load_before"],
            "postgres": setup_extra["postgres"],
            "organization_id": who.organization_id,
            "site_ids": who.site_ids,
        },
        "writes": {
            "seconds": round(wall, 2),
            "batches": {
                "total": len(timed),
                **{k: kinds.get(k, 0) for k in ("new", "replay", "twin")},
            },
            "records_per_second": round(accepted / wall, 1),
            "new_readings_per_second": round(new_readings / wall, 1),
            "latency": figures.latency([o.seconds for o in timed]),
            "service_ms": {
                "p50": figures.percentile(service, 0.5),
                "p95": figures.percentile(service, 0.95),
            },
            "errors": len(errors),
            "error_samples": [f"{o.kind} (HTTP {o.status}): {o.error}" for o in errors[:5]],
        },
        "reads": read_figures,
        # Time inside the gunicorn workers (access logs), for the same kinds of request.
        "server_ms": {
            kind: figures.latency(server.get(key, []))
            for kind, key in SERVER_PATHS.items()
            if server.get(key)
        },
        "bare": bare,
        "cpu": cpu_figures(cpu_used(*cpu), wall, cpus, accepted),
        # New database sessions while writing (pools that keep their connections open none;
        # the snapshot after the writes opens two of its own, not counted).
        "sessions_opened": cpu[1]["sessions"] - cpu[0]["sessions"] - 2,
        "resources": resources,
        "rows": {"stored": stored, "distinct": distinct, "ingested": ingested_total},
        # How long a run took (claimed to finished) while the writes went on.
        "run_duration_ms": figures.latency(
            [run.duration_ms / 1000 for run in load_runs if run.duration_ms is not None]
        ),
        "runs_per_site": {
            site: {**{t: counts.get(t, 0) for t in checks.TRIGGERS}, "analysed": analysed[site]}
            for site, counts in per_site.items()
        },
        "verdicts": [check._asdict() for check in verdicts],
    }


if __name__ == "__main__":
    raise SystemExit(main())
