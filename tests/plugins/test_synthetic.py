"""The synthetic factories: reproducible, site-local, and honest about what they plant."""

import numpy as np
import pandas as pd

from cei.synthetic import local_hours, make_factory


def test_the_same_seed_gives_the_same_factory_and_another_seed_does_not():
    first, _ = make_factory(days=21, seed=7)
    again, _ = make_factory(days=21, seed=7)
    other, _ = make_factory(days=21, seed=8)
    pd.testing.assert_series_equal(first, again)
    assert not np.allclose(first.to_numpy(), other.to_numpy())


def test_dst_days_have_23_and_25_local_hours():
    spring = local_hours("Europe/Rome", "2026-03-30 00:00", 1)
    autumn = local_hours("Europe/Rome", "2026-10-26 00:00", 1)
    assert len(spring) == 23 and 2 not in set(spring.hour)
    assert len(autumn) == 25 and list(autumn.hour).count(2) == 2
    assert str(autumn.tz) == "Europe/Rome"


def test_spikes_are_the_only_difference_from_the_clean_factory():
    clean, _ = make_factory(days=28, seed=3)
    spiky, truth = make_factory(days=28, seed=3, spikes=4)
    differs = spiky.index[~np.isclose(spiky.to_numpy(), clean.to_numpy())]
    assert list(differs) == list(truth.spike_times)
    added = (spiky - clean)[list(truth.spike_times)].to_numpy()
    np.testing.assert_allclose(added, truth.spike_kwh)


def test_the_shifts_run_in_site_local_time_and_the_night_load_is_known():
    series, truth = make_factory(
        timezone="Australia/Sydney", days=28, noise=0.0, night_waste_kw=25.0, seed=1
    )
    tuesday = series[(series.index.day_of_week == 1)]
    assert tuesday[tuesday.index.hour == 10].min() > 150  # mid-morning, local
    assert tuesday[tuesday.index.hour == 3].max() == truth.base_load_kw + 25.0
    sunday = series[series.index.day_of_week == 6]
    assert sunday.max() == truth.base_load_kw
    assert abs(truth.waste_kwh_per_week - 25.0 * 40) < 25.0  # 5 nights × 8 h


def test_the_level_shift_and_gaps_are_where_the_truth_says():
    series, truth = make_factory(
        days=35, noise=0.0, level_shift_start="2026-11-10 09:00", gaps=3, seed=2
    )
    assert truth.shift_end - truth.shift_start == pd.Timedelta(hours=72)
    inside = series[truth.shift_start : truth.shift_end - pd.Timedelta(hours=1)].dropna()
    ratio = inside / truth.normal[inside.index]
    np.testing.assert_allclose(ratio.to_numpy(), 1.2)
    assert series[truth.gap_times].isna().all()
    assert series.isna().sum() == len(truth.gap_times) > 0
