"""The forecast plugin: the next 7 days hour by hour, with an interval that holds."""

import numpy as np
import pandas as pd
import pytest

from cei.plugins.forecast import ForecastPlugin
from cei.synthetic import make_factory
from tests.plugins.running import analyse, until

HOUR = pd.Timedelta(hours=1)


def forecast(series, timezone="Europe/Rome", **params):
    results = analyse(series, timezone, ("baseline", "forecast"), {"forecast": params})
    return results["forecast"].data


def test_the_plugin_names_itself_and_needs_the_baseline():
    assert ForecastPlugin.name == "forecast" and ForecastPlugin.requires == ("baseline",)


def test_the_next_seven_days_hour_by_hour():
    series, _ = make_factory(days=63, seed=21)
    data = forecast(series)
    hourly = data["hourly"]
    assert list(hourly.columns) == ["expected", "lower", "upper"]
    assert len(hourly) == 168 and hourly.notna().all().all()
    assert hourly.index[0] == series.index[-1] + HOUR
    assert (hourly.index[1:] - hourly.index[:-1] == HOUR).all()
    assert ((hourly.lower <= hourly.expected) & (hourly.expected <= hourly.upper)).all()
    assert (hourly.lower >= 0).all()
    assert data["next_24h_kwh"] == pytest.approx(hourly.expected.iloc[:24].sum())
    assert data["next_7d_kwh"] == pytest.approx(hourly.expected.sum())
    assert "profile" in data["method"] and "quantiles" in data["method"]
    assert data["state"] == "ready"


@pytest.mark.parametrize("noise", [0.05, 0.3])
def test_the_interval_covers_most_of_what_happens(noise):
    covered = []
    for seed in range(3):
        series, _ = make_factory(days=77, noise=noise, seed=seed)
        cut = series.index[-168]
        hourly = forecast(until(series, cut))["hourly"]
        actual = series[hourly.index]
        covered.append(((actual >= hourly.lower) & (actual <= hourly.upper)).mean())
    assert 0.8 <= np.mean(covered) <= 0.99  # nominal 90 %, neither too narrow nor vacuous


def test_the_forecast_follows_a_new_level():
    # Consumption has run 20 % above the baseline for the last five days: tomorrow will too.
    series, truth = make_factory(
        days=70, seed=22, level_shift_start="2026-11-18 00:00", level_shift_hours=400
    )
    results = analyse(series, "Europe/Rome", ("baseline", "forecast"))
    profile = results["baseline"].data["expected_ahead"].iloc[:24]
    data = results["forecast"].data
    assert data["level_factor"] == pytest.approx(1.2, abs=0.05)
    assert data["next_24h_kwh"] / profile.sum() == pytest.approx(1.2, abs=0.05)
    # and the profile alone would not have
    assert profile.sum() / truth.normal.iloc[-168:-144].sum() == pytest.approx(1.0, abs=0.05)


def test_a_spike_yesterday_does_not_lift_tomorrow():
    clean, _ = make_factory(days=63, seed=23)
    spiky, _ = make_factory(days=63, seed=23, spikes=2, spike_window_days=2)
    ratio = forecast(spiky)["next_24h_kwh"] / forecast(clean)["next_24h_kwh"]
    assert ratio == pytest.approx(1.0, abs=0.01)


def test_the_forecast_crosses_the_autumn_dst_change_in_local_time():
    # From Thursday 22 October 2026: Sunday 25 October has 25 hours; Monday starts at 06:00.
    series, truth = make_factory(days=63, end="2026-10-22 00:00", noise=0.02, seed=24)
    hourly = forecast(series)["hourly"]
    assert len(hourly.loc["2026-10-25"]) == 25
    monday = hourly.loc["2026-10-26"].expected
    assert monday.index.hour[monday.argmax()] in range(7, 12)
    assert monday[monday.index.hour == 3].iloc[0] < 60
    assert monday[monday.index.hour == 9].iloc[0] > 150


def test_a_sydney_site_is_forecast_in_its_own_hours():
    series, _ = make_factory(timezone="Australia/Sydney", days=56, seed=25)
    hourly = forecast(series, timezone="Australia/Sydney")["hourly"]
    assert str(hourly.index.tz) == "Australia/Sydney"
    weekday = hourly[hourly.index.day_of_week < 5].expected
    assert weekday[weekday.index.hour == 10].min() > 3 * weekday[weekday.index.hour == 2].max()


def test_warming_up_still_forecasts_and_says_so():
    series, _ = make_factory(days=5, seed=26)
    data = forecast(series)
    assert data["state"] == "warming_up"
    assert len(data["hourly"]) == 168 and data["hourly"].notna().all().all()
    assert data["next_7d_kwh"] > 0
