"""Percentiles and the printed figure table of the load test."""

from __future__ import annotations

import math

# The targets (issue 12, Load).
TARGET_RECORDS_PER_SECOND = 60_000
TARGET_BATCH_P95_MS = 150
TARGET_READ_P95_MS = 100


def percentile(values, share):
    """Nearest-rank percentile of ``values`` (``share`` in 0..1); NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def latency(seconds):
    """``{"count", "p50_ms", "p95_ms", "max_ms"}`` of durations in seconds."""
    return {
        "count": len(seconds),
        "p50_ms": round(percentile(seconds, 0.50) * 1000, 1),
        "p95_ms": round(percentile(seconds, 0.95) * 1000, 1),
        "max_ms": round(max(seconds, default=float("nan")) * 1000, 1),
    }


def verdict(met):
    """``met`` or ``MISSED``."""
    return "met" if met else "MISSED"


def dispatching(setup):
    """Who dispatches: ``cei dispatch`` processes, or each worker's own thread."""
    if setup["dispatchers"]:
        return f"{setup['dispatchers']} `cei dispatch`"
    return "each worker its own dispatcher"


def print_report(report):
    """Print the figures of a finished run (``report`` is what ``--json`` writes)."""
    setup, writes, reads = report["setup"], report["writes"], report["reads"]
    print(
        f"\nCEI load test: {setup['instances']} app instances × {setup['workers']} gunicorn "
        f"workers × {setup['threads']} threads, {setup['rq_workers']} RQ workers, "
        f"{dispatching(setup)}; "
        f"PostgreSQL {setup['postgres']['server_version']}, Redis"
    )
    print(
        f"  machine: {setup['cpus']} CPUs; load average before the run "
        f"{setup['load_average_before']}"
    )
    print(
        f"  {setup['clients']} clients × {setup['batch_size']:,}-record batches for "
        f"{writes['seconds']:.1f} s, 1 in {setup['replay_every']} an exact replay; "
        f"{setup['sites']} sites × {setup['meters']} meters"
    )
    pace = f"paced at {setup['rate']:,.0f} records/s" if setup["rate"] else "as fast as they can"
    print(f"  clients send {pace}")
    print("\nWrites")
    batches = writes["batches"]
    print(
        f"  batches                 {batches['total']:>10,}  (new {batches['new']:,}, "
        f"replays of answered {batches['replay']:,}, of in-flight {batches['twin']:,})"
    )
    rate = writes["records_per_second"]
    print(
        f"  records/s accepted      {rate:>10,.0f}  target ≥ {TARGET_RECORDS_PER_SECOND:,}: "
        f"{verdict(rate >= TARGET_RECORDS_PER_SECOND)}"
    )
    print(f"  new readings/s          {writes['new_readings_per_second']:>10,.0f}")
    lat = writes["latency"]
    print(
        f"  batch latency ms        p50 {lat['p50_ms']:.0f}  p95 {lat['p95_ms']:.0f}  "
        f"max {lat['max_ms']:.0f}  target p95 ≤ {TARGET_BATCH_P95_MS}: "
        f"{verdict(lat['p95_ms'] <= TARGET_BATCH_P95_MS)}"
    )
    service = writes["service_ms"]
    print(
        f"  server's duration_ms    p50 {service['p50']:.0f}  p95 {service['p95']:.0f}  "
        "(validation + storage, without HTTP, JSON parsing and commit)"
    )
    print(
        f"  errors                  {writes['errors']:>10}  target 0: "
        f"{verdict(writes['errors'] == 0)}"
    )
    for message in writes["error_samples"]:
        print(f"    {message}")
    print("\nReads during the writes (and the analysis jobs)")
    for kind, figures in reads.items():
        print(
            f"  {kind:<10} n={figures['count']:<5} p50 {figures['p50_ms']:>6.1f} ms  "
            f"p95 {figures['p95_ms']:>6.1f} ms  max {figures['max_ms']:>7.1f} ms  "
            f"errors {figures['errors']}  target p95 ≤ {TARGET_READ_P95_MS}: "
            f"{verdict(figures['p95_ms'] <= TARGET_READ_P95_MS and not figures['errors'])}"
        )
    if report.get("server_ms"):
        print("\nTime inside the gunicorn workers (access log; without waiting for a thread)")
        for kind, figures in report["server_ms"].items():
            print(
                f"  {kind:<10} n={figures['count']:<5} p50 {figures['p50_ms']:>6.1f} ms  "
                f"p95 {figures['p95_ms']:>6.1f} ms  max {figures['max_ms']:>7.1f} ms"
            )
    bare = report.get("bare")
    if bare:
        print("\nBare PostgreSQL insert (binary COPY + INSERT … ON CONFLICT, commit per batch)")
        for entry in bare:
            print(
                f"  {entry['connections']} connection(s), {setup['batch_size']:,}-row batches: "
                f"{entry['rows_per_second']:>10,.0f} rows/s  (median batch "
                f"{entry['median_batch_ms']:.1f} ms)"
            )
        best = max(entry["rows_per_second"] for entry in bare)
        print(f"  accepted records/s over HTTP = {rate / best:.2f}× the best bare rate")
    cpu = report["cpu"]
    print(f"\nCPU during the writes (% of the machine's {setup['cpus']} CPUs)")
    print("  " + "  ".join(f"{name} {share:.0f} %" for name, share in cpu["share_pct"].items()))
    print(
        "  CPU ms per 1,000 records accepted: "
        + ", ".join(f"{name} {ms:.1f}" for name, ms in cpu["ms_per_1000_records"].items())
    )
    print(
        f"  all {setup['cpus']} CPUs at that cost: {cpu['cpu_bound_ceiling_records_per_second']:,}"
        " records/s (extrapolated, were nothing else running)"
    )
    print(
        f"  PostgreSQL sessions opened while writing: {report['sessions_opened']} (a pool "
        "smaller than the threads opens and closes connections; their CPU is not counted)"
    )
    res = report["resources"]
    rows = report["rows"]["stored"]
    print("\nResources (sizing)")
    print(
        f"  peak memory: web workers {res['web_worker_memory']['max_mib']:.0f} MiB each "
        f"(×{res['web_worker_memory']['count']}), RQ workers "
        f"{res['rq_worker_memory']['max_mib']:.0f} MiB (×{res['rq_worker_memory']['count']}), "
        f"dispatcher {res['dispatcher_memory']['max_mib']:.0f} MiB "
        f"(×{res['dispatcher_memory']['count']})"
    )
    growth = res["database_growth_bytes"]
    print(
        f"  PostgreSQL: {res['postgres_connections']} connections; the database grew "
        f"{growth / 2**20:,.0f} MiB for {rows:,} readings ({growth / max(rows, 1):.0f} B each, "
        "rollups and indexes included)"
    )
    print(f"  Redis: used_memory_peak {res['redis_used_memory_peak_bytes'] / 2**20:.1f} MiB")
    duration = report["run_duration_ms"]
    print(
        f"  analysis runs during the load: {duration['count']}, p50 {duration['p50_ms']:.0f} ms"
        f" p95 {duration['p95_ms']:.0f} ms each (a worker: about "
        f"{1000 / max(duration['p50_ms'], 1):.0f} runs/s of these sites)"
    )
    print("\nAnalysis runs per site per trigger (during the load)")
    print(f"  {'site':<10} {'new_data':>8} {'hourly':>7} {'manual':>7} {'analysed':>9}")
    for site_id, row in report["runs_per_site"].items():
        print(
            f"  {site_id:<10} {row['new_data']:>8} {row['hourly']:>7} {row['manual']:>7} "
            f"{row['analysed']:>9}"
        )
    print("\nCorrectness")
    for check in report["verdicts"]:
        print(f"  {'OK    ' if check['ok'] else 'FAILED'} {check['name']}: {check['detail']}")
