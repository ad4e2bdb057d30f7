"""bandit finds nothing of medium severity or more in cei/ (as `make lint` runs it)."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bandit_is_clean_at_medium_and_up():
    bandit = Path(sys.executable).with_name("bandit")
    command = str(bandit) if bandit.exists() else shutil.which("bandit")
    assert command, "bandit is not installed (pip install -e '.[dev]')"
    result = subprocess.run(
        [command, "-q", "-r", "cei", "-ll", "-f", "txt"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "bandit -q -r cei -ll" in (ROOT / "Makefile").read_text()
