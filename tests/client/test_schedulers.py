"""The scheduler wrappers: Windows Task Scheduler script, systemd units, cron line."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.client.conftest import CLIENT

CLIENT_DIR = CLIENT.parent
POWERSHELL_SCRIPT = CLIENT_DIR / "run_factory_client.ps1"
SERVICE = CLIENT_DIR / "systemd" / "cei-factory-client.service"
TIMER = CLIENT_DIR / "systemd" / "cei-factory-client.timer"
CRON = CLIENT_DIR / "cron.example"
PWSH = shutil.which("pwsh")


def powershell_code(script):
    """The script without comments and string literals, for structural checks."""
    code = re.sub(r"<#.*?#>", "", script, flags=re.S)
    code = re.sub(r"'[^']*'", "''", code)
    code = re.sub(r'"[^"]*"', '""', code)
    return re.sub(r"#[^\n]*", "", code)


def test_powershell_wrapper_runs_the_client_and_passes_its_exit_code_on():
    script = POWERSHELL_SCRIPT.read_text(encoding="utf-8")
    code = powershell_code(script)

    for name in ("CEI_BASE_URL", "CEI_INT_TOKEN", "CEI_FACTORY_CSV_PATH"):
        assert name in script, name
    parameters = re.search(r"^param\((.*?)^\)", code, flags=re.M | re.S).group(1)
    for parameter in ("$SiteId", "$MeterId", "$HoursBack"):
        assert parameter in parameters, parameter
    assert "Join-Path $PSScriptRoot 'factory_client.py'" in script
    call = re.search(r"^& \$command .*\$client @arguments$", script, flags=re.M)
    assert call, "the script runs the client"
    after_call = script[call.end() :].strip().splitlines()
    assert after_call[0].strip() == "exit $LASTEXITCODE"
    for opening, closing in ("{}", "()", "[]"):
        assert code.count(opening) == code.count(closing), opening + closing


def test_powershell_wrapper_holds_no_secret_or_machine_path():
    script = POWERSHELL_SCRIPT.read_text(encoding="utf-8")

    assert not re.search(r"cei_int_[A-Za-z0-9_-]{8,}", script)
    assert not re.search(r"\b[A-Za-z]:\\", script)
    assert not re.search(r"/(home|Users|opt|srv)/", script)


@pytest.mark.skipif(PWSH is None, reason="pwsh is not installed")
def test_powershell_wrapper_parses():
    command = (
        "$errors = $null; "
        f"[System.Management.Automation.Language.Parser]::ParseFile('{POWERSHELL_SCRIPT}', "
        "[ref]$null, [ref]$errors) | Out-Null; "
        "if ($errors) { $errors | ForEach-Object { $_.ToString() }; exit 1 }"
    )

    result = subprocess.run(
        [PWSH, "-NoProfile", "-NonInteractive", "-Command", command],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(PWSH is None, reason="pwsh is not installed")
def test_powershell_wrapper_exits_with_the_clients_exit_code(tmp_path, unused_port):
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "CEI_BASE_URL": f"http://127.0.0.1:{unused_port}",
        "CEI_INT_TOKEN": "cei_int_not-a-real-token",
        "CEI_CLIENT_RETRIES": "0",
        "CEI_CLIENT_SPOOL_DIR": str(tmp_path / "spool"),
    }
    arguments = ["-SiteId", "site-1", "-MeterId", "meter-1", "-HoursBack", "2"]

    result = subprocess.run(
        [
            PWSH,
            "-NoProfile",
            "-NonInteractive",
            "-File",
            str(POWERSHELL_SCRIPT),
            *arguments,
            "-Python",
            sys.executable,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    # 2 is the client's own "delivery failed" code, which the wrapper never invents.
    assert result.returncode == 2, result.stdout + result.stderr
    assert list((tmp_path / "spool").glob("batch-*.json"))


def unit_settings(path):
    """Return {key: [values]} of a systemd unit file's settings."""
    settings = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "[")) and "=" in line:
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings


def test_systemd_timer_starts_the_oneshot_service_hourly():
    service, timer = unit_settings(SERVICE), unit_settings(TIMER)

    assert service["Type"] == ["oneshot"]
    assert "factory_client.py" in service["ExecStart"][0]
    assert service["EnvironmentFile"], "the token comes from a root-only file"
    assert not any("cei_int_" in value for values in service.values() for value in values)
    assert timer["Unit"] == [SERVICE.name]
    assert re.fullmatch(r"\*-\*-\* \*:\d\d:00", timer["OnCalendar"][0])
    assert timer["Persistent"] == ["true"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_units_verify(tmp_path):
    for unit in (SERVICE, TIMER):
        shutil.copy(unit, tmp_path / unit.name)

    result = subprocess.run(
        [
            "systemd-analyze",
            "verify",
            "--man=no",
            str(tmp_path / SERVICE.name),
            str(tmp_path / TIMER.name),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_cron_line_runs_the_client_hourly_and_is_valid_shell():
    lines = [line for line in CRON.read_text().splitlines() if line and not line.startswith("#")]

    assert len(lines) == 1
    fields = lines[0].split(None, 5)
    assert fields[:5] == ["5", "*", "*", "*", "*"]
    command = fields[5]
    assert "factory_client.py" in command
    assert "%" not in command, "cron turns % into newlines"
    syntax = subprocess.run(
        ["sh", "-n", "-c", command], capture_output=True, text=True, check=False
    )
    assert syntax.returncode == 0, syntax.stderr


def test_readme_documents_every_exit_code_and_scheduler():
    readme = (Path(CLIENT_DIR).parent / "README.md").read_text(encoding="utf-8")
    readme = readme.split("\n## Factory client\n", 1)[1].split("\n## ", 1)[0]

    for code in range(5):
        assert re.search(rf"^\| {code} \|", readme, flags=re.M), code
    for text in ("Task Scheduler", "systemd", "cron", "TOKEN_REVOKED", "Skipped duplicates"):
        assert text in readme, text
