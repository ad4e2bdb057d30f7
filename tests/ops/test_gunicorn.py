"""gunicorn as `make run` and docs/deploy start it, two workers: every line of its output is
JSON (gunicorn's own lines too), and /metrics adds up what both workers counted
(PROMETHEUS_MULTIPROC_DIR)."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.ops.conftest import METRICS_TOKEN, parse_metrics, value
from tests.security.conftest import STRONG_SECRET
from tests.security.test_server import free_port, makefile_gunicorn_config

ROOT = Path(__file__).resolve().parents[2]
HEALTH_REQUESTS = 12


@pytest.fixture(params=["make run", "docs/deploy"])
def gunicorn_config(request):
    """The ``-c`` value of `make run`, or docs/deploy's gunicorn.conf.py (which builds on it)."""
    if request.param == "make run":
        return makefile_gunicorn_config()
    return str(ROOT / "docs" / "deploy" / "gunicorn.conf.py")


@pytest.fixture
def gunicorn_two_workers(database_url, tmp_path, gunicorn_config):
    """gunicorn with ``gunicorn_config``, 2 workers, JSON logs; yields (url, its stderr)."""
    port = free_port()
    output = tmp_path / "gunicorn.log"
    multiprocess_dir = tmp_path / "prometheus"
    multiprocess_dir.mkdir()
    (multiprocess_dir / "counter_99999.db").write_bytes(b"left by an earlier run")
    env = {
        **os.environ,
        "CEI_DATABASE_URL": database_url,
        "CEI_SECRET_KEY": STRONG_SECRET,
        "CEI_ENV": "production",
        "CEI_METRICS_TOKEN": METRICS_TOKEN,
        "CEI_ANALYTICS_BACKGROUND": "false",
        "PROMETHEUS_MULTIPROC_DIR": str(multiprocess_dir),
    }
    env.pop("CEI_LOG_FORMAT", None)  # production's default: json
    command = [
        str(Path(sys.executable).with_name("gunicorn")),
        "-c",
        gunicorn_config,
        "--workers",
        "2",
        "--bind",
        f"127.0.0.1:{port}",
        "wsgi:app",
    ]
    stderr = output.open("wb")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                requests.get(url + "/api/v1/health/ready", timeout=10)
                break
            except requests.RequestException:
                assert process.poll() is None, output.read_text()[-2000:]
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
        assert not (multiprocess_dir / "counter_99999.db").exists()
        yield url, output
    finally:
        process.terminate()
        process.wait(timeout=30)
        stderr.close()


def scrape_http(url):
    response = requests.get(
        url + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10
    )
    assert response.status_code == 200, response.text[:300]
    return parse_metrics(response.text)


def test_json_lines_and_metrics_of_all_workers(gunicorn_two_workers):
    url, output = gunicorn_two_workers
    assert requests.get(url + "/metrics", timeout=10).status_code == 401
    labels = {"method": "GET", "endpoint": "/api/v1/health", "status": "200"}
    for number in range(HEALTH_REQUESTS):
        # New connections: the two workers share them.
        response = requests.get(
            f"{url}/api/v1/health?access_token=cei_int_QueryStringSecret0123456789",
            headers={"X-Request-ID": f"gunicorn-{number}"},
            timeout=10,
        )
        assert response.status_code == 200
    # Whichever worker answers a scrape, it reports what both counted.
    for _ in range(6):
        samples = scrape_http(url)
        assert value(samples, "cei_http_requests_total", **labels) == HEALTH_REQUESTS
    deadline = time.monotonic() + 10
    while output.read_text().count('"cei.access"') < HEALTH_REQUESTS + 1:
        assert time.monotonic() < deadline, output.read_text()[-2000:]
        time.sleep(0.1)
    lines = [json.loads(line) for line in output.read_text().splitlines() if line.strip()]
    loggers = {line["logger"] for line in lines}
    assert {"gunicorn.error", "cei.access"} <= loggers, loggers
    served = [line for line in lines if line.get("path") == "/api/v1/health"]
    assert sorted(line["request_id"] for line in served) == sorted(
        f"gunicorn-{number}" for number in range(HEALTH_REQUESTS)
    )
    for line in served:
        assert line["status"] == 200 and line["duration_ms"] >= 0
        assert isinstance(line["process"], int)  # which worker answered
    text = output.read_text()
    assert "?" not in text and "cei_int_" not in text
