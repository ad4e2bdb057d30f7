"""The installed built-ins, loaded from their entry points, run together on one site."""

import pandas as pd

from cei.plugins.base import MeterStatus
from cei.plugins.registry import load_registry, run_plugins
from tests.plugins.known_truth import make_site


def test_the_built_ins_run_in_order_on_a_site_with_waste_and_a_silent_meter():
    site = make_site(night_waste=60, noise=0.05)
    meters = (
        MeterStatus("main", 60, True, site.end - pd.Timedelta(hours=1), 24, 24),
        MeterStatus("compressor", 15, False, site.end - pd.Timedelta(hours=6), 96, 72),
    )
    registry = load_registry(enabled="baseline,waste,deviation,gaps")
    outcomes = run_plugins(registry, site.context(meters=meters, tariff=0.2))
    assert list(outcomes) == ["baseline", "gaps", "waste", "deviation"]
    assert {name: outcome.status for name, outcome in outcomes.items()} == dict.fromkeys(
        outcomes, "ok"
    )
    kinds = {f.kind for outcome in outcomes.values() for f in outcome.result.findings}
    assert {"night_waste", "meter_silent"} <= kinds
    assert outcomes["waste"].result.data["night_waste_kwh_per_week"] > 0.9 * 60 * 60
    assert all(outcome.duration_ms < 2000 for outcome in outcomes.values())
