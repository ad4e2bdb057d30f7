"""A plugin from another package, installed for real, is found, checked, run and listed."""

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from cei.plugins.base import AnalysisContext
from cei.plugins.registry import load_registry, run_plugins

PACKAGE = Path(__file__).parent / "thirdparty"


@pytest.fixture
def installed_peak_hour(tmp_path, monkeypatch):
    """Install tests/plugins/thirdparty into a folder of its own and put it on sys.path."""
    source = tmp_path / "source"
    shutil.copytree(PACKAGE, source)  # building writes into the tree: keep the repo clean
    target = tmp_path / "site-packages"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
         "--no-build-isolation", "--disable-pip-version-check", "--target", str(target),
         str(source)],
        check=True, timeout=240,
    )  # fmt: skip
    assert (target / "cei_peak_hour.py").exists()
    monkeypatch.syspath_prepend(str(target))
    yield target
    sys.modules.pop("cei_peak_hour", None)


def test_third_party_plugin_is_discovered_run_and_listed(installed_peak_hour, make_app):
    registry = load_registry()
    spec = registry.specs["peak_hour"]
    assert (spec.version, spec.distribution, spec.enabled) == ("0.1.0", "cei-peak-hour", True)
    assert spec.source == "cei_peak_hour:PeakHourPlugin"
    assert "peak_hour" in registry.order

    index = pd.date_range("2026-06-01", periods=72, freq="h", tz="Australia/Sydney")
    series = pd.Series(10.0, index=index)
    series.iloc[60] = 99.0  # within the last 24 hours
    series.iloc[10] = 500.0  # bigger, but too old
    context = AnalysisContext(
        site_id="s",
        timezone="Australia/Sydney",
        now=index[-1] + pd.Timedelta(hours=1),
        series=series,
    )
    outcome = run_plugins(registry, context)["peak_hour"]
    assert outcome.status == "ok", outcome.error
    assert outcome.result.data == {"peak_hour": index[60].isoformat(), "peak_kwh": 99.0}
    assert [finding.key for finding in outcome.result.findings] == [
        f"peak_hour:{index[60].date().isoformat()}"
    ]

    app = make_app()
    assert "peak_hour" in app.extensions["cei.analytics"].order
    output = app.test_cli_runner().invoke(args=["plugins"]).output
    line = next(line for line in output.splitlines() if line.startswith("peak_hour"))
    assert line.split()[:4] == ["peak_hour", "0.1.0", "-", "enabled"]


def test_without_the_package_the_plugin_is_unknown():
    assert "peak_hour" not in load_registry().specs
