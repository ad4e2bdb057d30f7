"""gunicorn as `make run` starts it: no version in the Server header, and access logs (the
app's own, and gunicorn's when turned on) that hold no query strings (where a token sent
as ?access_token=… would land)."""

import os
import re
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from cei import gunicorn_config
from tests.security.conftest import STRONG_SECRET

ROOT = Path(__file__).resolve().parents[2]
SECRET_QUERY = "access_token=cei_int_QueryStringSecret0123456789&password=hunter2hunter2"


def makefile_gunicorn_config():
    """The ``-c`` value `make run` passes to gunicorn."""
    makefile = (ROOT / "Makefile").read_text()
    run_recipe = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "gunicorn -c $(GUNICORN_CONFIG)" in run_recipe
    match = re.search(r"^GUNICORN_CONFIG\s*:?=\s*(.+)$", makefile, re.MULTILINE)
    assert match
    (value,) = shlex.split(match.group(1))
    assert value == "python:cei.gunicorn_config"
    return value


def test_the_format_has_no_query_string():
    log_format = gunicorn_config.access_log_format
    assert "%(U)s" in log_format
    for query_atom in ("%(q)s", "%(r)s", "%(u)s"):
        assert query_atom not in log_format


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def gunicorn(database_url, tmp_path):
    """gunicorn serving wsgi:app with the Makefile's settings and gunicorn's access log
    turned on; yields (url, gunicorn's access log, the app's log)."""
    port = free_port()
    log = tmp_path / "access.log"
    app_log = tmp_path / "app.log"
    env = {
        **os.environ,
        "CEI_DATABASE_URL": database_url,
        "CEI_SECRET_KEY": STRONG_SECRET,
        "CEI_ENV": "production",
        "CEI_LOG_FORMAT": "text",
    }
    command = [
        str(Path(sys.executable).with_name("gunicorn")),
        "-c",
        makefile_gunicorn_config(),
        "--workers",
        "1",
        "--bind",
        f"127.0.0.1:{port}",
        "--access-logfile",
        str(log),
        "wsgi:app",
    ]
    stderr = app_log.open("wb")
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=stderr
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                requests.get(url + "/api/v1/health", timeout=10)
                break
            except requests.RequestException:
                assert process.poll() is None, app_log.read_text()[-2000:]
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
        yield url, log, app_log
    finally:
        process.terminate()
        process.wait(timeout=30)
        stderr.close()


def test_gunicorn_banner_and_access_log(gunicorn):
    url, log, app_log = gunicorn
    health = requests.get(f"{url}/api/v1/health?{SECRET_QUERY}", timeout=10)
    assert health.status_code == 200
    refused = requests.get(f"{url}/api/v1/auth/whoami?{SECRET_QUERY}", timeout=10)
    assert refused.status_code == 401
    for response in (health, refused):
        assert response.headers["Server"] == "gunicorn"  # no version
        assert response.headers["Strict-Transport-Security"]
        assert response.headers["Content-Security-Policy"]
    deadline = time.monotonic() + 10
    while log.read_text().count("\n") < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    text = log.read_text()
    assert '"GET /api/v1/auth/whoami HTTP/1.1" 401' in text, text
    while "GET /api/v1/auth/whoami 401" not in app_log.read_text():
        assert time.monotonic() < deadline, app_log.read_text()[-2000:]
        time.sleep(0.1)
    app_text = app_log.read_text()
    for written in (text, app_text):
        assert "?" not in written
        assert "cei_int_" not in written
        assert "hunter2" not in written
