"""The plugins on a site with no usable data yet: no error, a warming-up state, no findings."""

import numpy as np
import pandas as pd
import pytest

from tests.plugins.running import analyse

NOW = pd.Timestamp("2026-11-10 12:00", tz="UTC")


@pytest.mark.parametrize(
    "series",
    [
        pd.Series([], index=pd.DatetimeIndex([], tz="Europe/Rome"), dtype=float),
        pd.Series(np.nan, index=pd.date_range("2026-11-06", periods=100, freq="h", tz="UTC")),
        pd.Series([5.0], index=pd.date_range("2026-11-10 10:00", periods=1, freq="h", tz="UTC")),
    ],
    ids=["empty", "all-missing", "one-hour"],
)
def test_no_usable_data(series):
    results = analyse(series, "Europe/Rome", now=NOW)
    baseline, forecast = results["baseline"].data, results["forecast"].data
    assert baseline["state"] == forecast["state"] == "warming_up"
    assert baseline["expected"].index.equals(series.index)
    assert baseline["quality"]["cv_rmse_pct"] is None
    assert len(forecast["hourly"]) == 168
    has_data = series.notna().any()
    assert (forecast["next_24h_kwh"] is not None) == has_data
    if has_data:
        assert forecast["next_24h_kwh"] == pytest.approx(24 * 5.0)
    assert results["spikes"].findings == []


def test_a_series_without_a_timezone_is_refused():
    naive = pd.Series(1.0, index=pd.date_range("2026-11-01", periods=48, freq="h"))
    with pytest.raises(ValueError, match="tz-aware"):
        analyse(naive, "Europe/Rome", ("baseline",), now=NOW)
