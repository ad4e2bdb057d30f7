"""gunicorn as `make run` starts it: no version in the Server header, and an access log
that holds no query strings (where a token sent as ?access_token=… would land)."""

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

from tests.security.conftest import STRONG_SECRET

ROOT = Path(__file__).resolve().parents[2]
SECRET_QUERY = "access_token=cei_int_QueryStringSecret0123456789&password=hunter2hunter2"


def makefile_access_log_format():
    """The ``--access-logformat`` value `make run` passes to gunicorn."""
    makefile = (ROOT / "Makefile").read_text()
    run_recipe = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "--access-logformat $(ACCESS_LOG_FORMAT)" in run_recipe
    match = re.search(r"^ACCESS_LOG_FORMAT\s*:?=\s*(.+)$", makefile, re.MULTILINE)
    assert match
    (value,) = shlex.split(match.group(1))
    return value


def test_the_format_has_no_query_string():
    log_format = makefile_access_log_format()
    assert "%(U)s" in log_format
    for query_atom in ("%(q)s", "%(r)s", "%(u)s"):
        assert query_atom not in log_format


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def gunicorn(database_url, tmp_path):
    """gunicorn serving wsgi:app with the Makefile's access log format; yields (url, log)."""
    port = free_port()
    log = tmp_path / "access.log"
    env = {
        **os.environ,
        "CEI_DATABASE_URL": database_url,
        "CEI_SECRET_KEY": STRONG_SECRET,
        "CEI_ENV": "production",
    }
    command = [
        str(Path(sys.executable).with_name("gunicorn")),
        "--workers",
        "1",
        "--bind",
        f"127.0.0.1:{port}",
        "--access-logfile",
        str(log),
        "--access-logformat",
        makefile_access_log_format(),
        "wsgi:app",
    ]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                requests.get(url + "/api/v1/health", timeout=10)
                break
            except requests.RequestException:
                assert process.poll() is None, process.stderr.read().decode()[-2000:]
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
        yield url, log
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.stderr.close()


def test_gunicorn_banner_and_access_log(gunicorn):
    url, log = gunicorn
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
    assert "?" not in text
    assert "cei_int_" not in text
    assert "hunter2" not in text
