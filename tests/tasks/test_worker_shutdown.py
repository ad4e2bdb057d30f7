"""``cei worker`` stops when asked (SIGTERM from systemd, SIGINT from Ctrl-C), idle or busy."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

ROOT = Path(__file__).resolve().parents[2]


def registered_workers(redis_url):
    return redis.Redis.from_url(redis_url).smembers("rq:workers")


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_an_idle_worker_stops_when_asked(tmp_path, redis_url, stop_signal):
    env = dict(
        os.environ,
        CEI_DATABASE_URL=f"sqlite:///{tmp_path / 'cei.sqlite3'}",
        CEI_REDIS_URL=redis_url,
    )
    log = open(tmp_path / "worker.log", "wb")  # noqa: SIM115 - closed below
    worker = subprocess.Popen(
        [sys.executable, "-c", "from cei.cli import main; main()", "worker", "--no-dispatcher"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        # A child of a shell started in the background ignores SIGINT unless restored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 60
        while not registered_workers(redis_url):
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            assert time.monotonic() < deadline, "the worker never registered"
            time.sleep(0.1)
        time.sleep(0.5)  # waiting for jobs (blocked on Redis)
        worker.send_signal(stop_signal)
        code = worker.wait(timeout=15)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        log.close()
    output = (tmp_path / "worker.log").read_text()
    assert code == 0, output
    assert "starting again" not in output
    assert not registered_workers(redis_url)
