"""The processes under load: gunicorn instances and ``cei worker`` RQ workers, on 127.0.0.1.

Each starts in a session of its own, so stopping it reaches its children (gunicorn's
workers) by its process group id — the id of the process this module started — and
nothing else on the machine.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

import requests

ROOT = Path(__file__).resolve().parents[2]
# The web process settings docs/deploy.md runs with (command-line options win over them).
GUNICORN_SETTINGS = ROOT / "docs" / "deploy" / "gunicorn.conf.py"
CEI = [sys.executable, "-c", "from cei.cli import main; main()"]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Method, path (no query string), status, and the time the worker spent on the request in µs
# (from the request read to the response sent; not the wait for a free worker thread).
ACCESS_FORMAT = "%(m)s %(U)s %(s)s %(D)s"


def free_port():
    """Return a TCP port free on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Started(NamedTuple):
    """A process this bench started: its role, the Popen, its log file, its URL if any."""

    name: str
    process: subprocess.Popen
    log_path: Path
    url: str | None


class ProcessGroup:
    """Starts the app instances and workers; stops every one of them, whatever happened."""

    def __init__(self, env, workdir):
        self.env = env
        self.workdir = Path(workdir)
        self.started: list[Started] = []

    def _spawn(self, name, command, url=None, env=None):
        log_path = self.workdir / f"{name}.log"
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env={**self.env, **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started = Started(name, process, log_path, url)
        self.started.append(started)
        return started

    def start_app(self, name, workers, threads, wsgi="wsgi:app", access_log=True, timeout=120):
        """Start gunicorn (``workers`` processes × ``threads`` threads) serving ``wsgi``.

        As docs/deploy.md runs it (its settings file, when there is one; the processes share
        their metrics through a directory of this instance's own). With ``access_log`` each
        request's method, path, status and time inside the worker (µs) go to
        ``<name>-access.log`` (see :func:`server_times`).
        """
        port = free_port()
        command = [sys.executable, "-m", "gunicorn"]
        if GUNICORN_SETTINGS.exists():
            command += ["--config", str(GUNICORN_SETTINGS)]
        command += ["--workers", str(workers)]
        if access_log:
            command += ["--access-logfile", str(self.workdir / f"{name}-access.log")]
            command += ["--access-logformat", ACCESS_FORMAT]
        if threads > 1:
            command += ["--worker-class", "gthread", "--threads", str(threads)]
        command += ["--bind", f"127.0.0.1:{port}", "--timeout", str(timeout)]
        command += ["--graceful-timeout", "20", "--log-level", "warning", wsgi]
        metrics = self.workdir / f"{name}-metrics"
        metrics.mkdir()
        return self._spawn(
            name,
            command,
            url=f"http://127.0.0.1:{port}",
            env={"PROMETHEUS_MULTIPROC_DIR": str(metrics)},
        )

    def start_worker(self, name, dispatcher=True):
        """Start a ``cei worker`` (RQ worker, with its dispatcher thread unless told not to)."""
        return self._spawn(name, [*CEI, "worker", *([] if dispatcher else ["--no-dispatcher"])])

    def start_dispatcher(self, name):
        """Start a ``cei dispatch`` (the scheduler of docs/deploy.md)."""
        return self._spawn(name, [*CEI, "dispatch"])

    def wait_serving(self, started, seconds=120):
        """Wait until an app instance answers its health check."""
        deadline = time.monotonic() + seconds
        while True:
            self.check_alive(started)
            try:
                if requests.get(started.url + "/api/v1/health", timeout=5).ok:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"{started.name} did not answer within {seconds} s")
            time.sleep(0.2)

    def wait_workers(self, redis_url, count, seconds=120):
        """Wait until ``count`` RQ workers have registered with Redis."""
        from redis import Redis
        from rq import Worker

        client = Redis.from_url(redis_url)
        deadline = time.monotonic() + seconds
        try:
            while Worker.count(connection=client) < count:
                for started in self.started:
                    self.check_alive(started)
                if time.monotonic() > deadline:
                    raise SystemExit(f"{count} RQ workers did not register within {seconds} s")
                time.sleep(0.2)
        finally:
            client.close()

    @staticmethod
    def check_alive(started):
        """Stop the bench if a process it started has died."""
        code = started.process.poll()
        if code is not None:
            tail = started.log_path.read_text(errors="replace")[-2000:]
            raise SystemExit(f"{started.name} exited with {code}:\n{tail}")

    def pids(self, prefix):
        """Return the pids of the started processes named ``prefix…`` and their descendants."""
        found = []
        for started in self.started:
            if started.name.startswith(prefix) and started.process.poll() is None:
                found += process_tree(started.process.pid)
        return found

    def children(self, prefix):
        """Return the pids of the descendants of the started processes named ``prefix…``
        (gunicorn's workers, without their master)."""
        found = []
        for started in self.started:
            if started.name.startswith(prefix) and started.process.poll() is None:
                found += process_tree(started.process.pid)[1:]
        return found

    def stop_all(self, timeout=30):
        """SIGTERM every started process group, wait, SIGKILL what is left."""
        for started in reversed(self.started):
            _signal_group(started.process, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for started in reversed(self.started):
            try:
                started.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(started.process, signal.SIGKILL)
                started.process.wait()
        self.started.clear()


ACCESS_LINE = re.compile(r"\b([A-Z]+) (/\S*) (\d{3}) (\d+)$")


def server_times(workdir):
    """Return ``{(method, path): [seconds, …]}`` from the instances' access logs.

    A line ends with :data:`ACCESS_FORMAT` (whatever prefix the logger's formatter adds),
    or is a JSON line with ``method``, ``path`` and ``duration_ms`` (CEI's JSON format).
    """
    times = {}
    for path in Path(workdir).glob("*-access.log"):
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                fields = json.loads(line)
                if {"method", "path", "duration_ms"} <= set(fields):
                    key = (fields["method"], fields["path"])
                    times.setdefault(key, []).append(fields["duration_ms"] / 1000)
                continue
            match = ACCESS_LINE.search(line)
            if match:
                key = (match.group(1), match.group(2))
                times.setdefault(key, []).append(int(match.group(4)) / 1e6)
    return times


def _signal_group(process, signum):
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signum)  # the group of the process we started
    except ProcessLookupError:
        pass


def process_tree(pid):
    """Return ``pid`` and the pids of its descendants (Linux ``/proc``)."""
    pids, pending = [], [pid]
    while pending:
        current = pending.pop()
        pids.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                pending += [int(child) for child in (task / "children").read_text().split()]
            except OSError:
                continue
    return pids


def peak_memory(pids):
    """Return ``{pid: peak resident memory in MiB}`` of the processes still there."""
    peaks = {}
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peaks[pid] = int(line.split()[1]) / 1024
    return peaks


def cpu_seconds(pids):
    """Return ``{pid: user+system CPU seconds}`` of the processes still there."""
    seconds = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command name: state is field 3, utime 14 and stime 15 (man 5 proc).
        seconds[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return seconds


def machine_cpu():
    """Return ``(busy, total)`` CPU seconds of the whole machine since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # guest time is already counted in user
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS
