"""CSV upload benchmark: a 1,000,000-row file through a real HTTP server.

Starts gunicorn (one sync worker) on 127.0.0.1, uploads the file to
``/api/v1/timeseries/upload`` and prints rows/s end to end (transfer, multipart parsing,
validation, storage, one commit) and how much the worker's resident memory grew, read from
``/proc/<pid>/status`` (VmRSS before, peak VmRSS sampled during the upload, VmHWM after).

    .venv/bin/python bench/upload.py [--rows N] [--pg-url URL] [--no-pg] [--no-sqlite]

Uses the same throwaway databases as ``bench/ingest.py``.
"""

import argparse
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import (  # noqa: E402 - the sibling bench script
    DEFAULT_PG_URL,
    Sender,
    bare_postgres,
    bare_sqlite,
    current_hour,
    ingest_token,
    make_records,
    median_rate,
    meter_pk_postgres,
    meter_pk_sqlite,
    migrate,
    postgres_or_none,
    serving,
)
from reads import RssSampler, memory_kb  # noqa: E402 - the sibling bench script

METERS = 20
STEP = timedelta(minutes=15)


def write_csv(path, rows):
    """Write ``rows`` readings (``METERS`` meters, 15-minute steps) as the runbook's CSV."""
    per_meter = -(-rows // METERS)
    end = current_hour()
    stamps = [(end - i * STEP).strftime("%Y-%m-%dT%H:%M:%SZ") for i in range(per_meter, 0, -1)]
    written = 0
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write("timestamp_utc,site_id,meter_id,value,unit\n")
        for meter in range(METERS):
            lines = []
            for i, stamp in enumerate(stamps):
                if written == rows:
                    break
                lines.append(f"{stamp},bench-site,meter-{meter:02d},{(i % 400) * 0.25:.2f},kWh\n")
                written += 1
            out.writelines(lines)
    return os.path.getsize(path)


def reset_peak(pid):
    """Reset the process's VmHWM (sign-up's password hashing peaked far above the upload)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        pass  # not permitted: VmHWM then includes earlier peaks; the sampled peak still holds


def upload(server, token, path):
    """Upload the CSV at ``path``; return (seconds, result JSON, memory figures in MB)."""
    pid = server.worker_pid()
    reset_peak(pid)
    before = memory_kb(pid, "VmRSS")
    sampler = RssSampler(pid)
    sampler.start()
    with open(path, "rb") as data:
        started = time.perf_counter()
        response = requests.post(
            server.url + "/api/v1/timeseries/upload",
            files={"file": ("bench.csv", data, "text/csv")},
            data={"source": "bench-upload"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=3600,
        )
        elapsed = time.perf_counter() - started
    sampler.done.set()
    sampler.join()
    if response.status_code != 200:
        raise SystemExit(f"HTTP {response.status_code}: {response.text[:500]}")
    memory = {
        "rss_before": before / 1024,
        "rss_peak": max(sampler.peak, memory_kb(pid, "VmRSS")) / 1024,
        "hwm_after": memory_kb(pid, "VmHWM") / 1024,
    }
    return elapsed, response.json(), memory


def bench_backend(name, url, path, rows, workdir, bare):
    """Upload the file to a fresh database; print the figures.

    ``bare(meter_id, batches)`` returns ``{label: records/s}`` of the bare bulk insert of
    5,000-row batches, measured after the upload.
    """
    migrate(url)
    with serving(url, Path(workdir) / f"gunicorn-upload-{name}.log") as server:
        token = ingest_token(server.url)
        elapsed, result, memory = upload(server, token, path)
        Sender(server.url, token).run([make_records("bare", 1, 0)], "ingested")
    if result["ingested"] != rows or result["failed"]:
        raise SystemExit(f"unexpected result: { {k: result[k] for k in result if k != 'errors'} }")
    growth = max(memory["rss_peak"], memory["hwm_after"]) - memory["rss_before"]
    print(f"\n{name}: CSV upload of {rows:,} rows")
    print(f"  rows/s end to end      {rows / elapsed:>12,.0f}   ({elapsed:.1f} s)")
    print(f"  server-side duration   {result['duration_ms'] / 1000:>12.1f} s")
    print(
        f"  worker RSS             {memory['rss_before']:>12.0f} MB before, "
        f"{memory['rss_peak']:.0f} MB peak (VmHWM {memory['hwm_after']:.0f} MB): "
        f"growth {growth:.0f} MB"
    )
    for label, rate in bare("bare", 40).items():
        print(f"  {label:<22} {rate:>12,.0f}   (rows/s, 5,000-row batches)")


def main(argv=None):
    """Run the benchmark; print figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--pg-url", default=os.environ.get("CEI_BENCH_DATABASE_URL", DEFAULT_PG_URL)
    )
    parser.add_argument("--no-pg", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--no-sqlite", action="store_true", help="skip SQLite")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="cei-bench-") as workdir:
        path = Path(workdir) / "bench.csv"
        size = write_csv(path, args.rows)
        print(f"upload bench: {args.rows:,} rows, {size / 1e6:.0f} MB file, {os.cpu_count()} CPUs")
        if not args.no_sqlite:
            database = str(Path(workdir) / "upload.sqlite3")

            def bare(meter, batches):
                pk = meter_pk_sqlite(database, meter)
                timings = bare_sqlite(database, pk, range(1, batches + 1))
                return {"bare insert": median_rate(5000, timings)}

            bench_backend("SQLite", "sqlite:///" + database, path, args.rows, workdir, bare)
        if not args.no_pg:
            url = postgres_or_none(args.pg_url)
            if url is None:
                return

            def bare(meter, batches):
                pk = meter_pk_postgres(url, meter)
                timings = bare_postgres(url, pk, range(1, batches + 1))
                return {"bare insert": median_rate(5000, timings)}

            bench_backend("PostgreSQL", url, path, args.rows, workdir, bare)


if __name__ == "__main__":
    main()
