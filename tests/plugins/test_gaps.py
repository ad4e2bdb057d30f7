"""The gaps plugin: silent meters and low coverage, from the meters' status."""

import pandas as pd
import pytest

from cei.plugins.base import AnalysisContext, MeterStatus
from cei.plugins.gaps import GapsPlugin

NOW = pd.Timestamp("2026-03-10 12:20", tz="UTC")


def meter(meter_id="m1", interval=60, last_seen=None, expected=24, received=24, is_main=True):
    return MeterStatus(
        meter_id=meter_id,
        interval_minutes=interval,
        is_main=is_main,
        last_seen=last_seen,
        expected_24h=expected,
        received_24h=received,
    )


def run(*meters, now=NOW, tz="Europe/Rome", **params):
    context = AnalysisContext(
        site_id="s", timezone=tz, now=now, series=pd.Series(dtype=float), meters=meters,
        params=params,
    )  # fmt: skip
    return GapsPlugin().run(context)


def ago(**kwargs):
    return NOW.floor("h") - pd.Timedelta(**kwargs)


@pytest.mark.parametrize(
    ("interval", "last_seen", "silent"),
    [
        (60, ago(hours=1), False),  # the last hour is in: nothing missed
        (60, ago(hours=3), False),  # two hours missed
        (60, ago(hours=4), True),  # three hours missed
        (15, ago(minutes=75), False),  # 4 intervals missed but within one upload cycle
        (15, ago(minutes=150), True),  # 2 h 15 min: past the upload cycle too
        (1440, ago(days=3), False),  # a daily meter two days behind
        (1440, ago(days=4), True),
    ],
)
def test_a_meter_is_silent_after_three_missed_intervals(interval, last_seen, silent):
    result = run(meter(interval=interval, last_seen=last_seen, expected=10, received=10))
    kinds = [f.kind for f in result.findings]
    assert kinds == (["meter_silent"] if silent else [])
    assert result.data["meters"][0]["status"] == ("silent" if silent else "ok")


def test_the_silent_finding_names_the_meter_and_when_it_stopped():
    last = ago(hours=5)
    [finding] = run(meter("line-2", last_seen=last, received=19, is_main=False)).findings
    since = last + pd.Timedelta(hours=1)
    assert finding.key == f"meter_silent:line-2:{since.isoformat()}"
    assert finding.meter_id == "line-2" and finding.severity == "warning"
    assert (finding.period_start, finding.period_end) == (since, NOW)
    assert finding.details["missed_intervals"] == 4
    assert "09:00" in finding.message  # it stopped at 08:00 UTC, 09:00 in Rome


def test_the_key_stays_while_the_meter_stays_silent_and_it_turns_critical():
    status = meter(last_seen=ago(hours=5))
    first = run(status).findings[0]
    later = run(status, now=NOW + pd.Timedelta(hours=30)).findings[0]
    assert later.key == first.key
    assert (first.severity, later.severity) == ("warning", "critical")


def test_the_upload_cycle_allowance_is_a_parameter():
    status = meter(interval=15, last_seen=ago(minutes=75), expected=96, received=96)
    assert run(status).findings == []
    assert [f.kind for f in run(status, min_silent_minutes=0).findings] == ["meter_silent"]


@pytest.mark.parametrize(("received", "low"), [(20, True), (21, True), (22, False), (24, False)])
def test_coverage_under_ninety_percent_is_low(received, low):
    result = run(meter(last_seen=ago(hours=1), received=received))
    assert [f.kind for f in result.findings] == (["low_coverage"] if low else [])
    if low:
        finding = result.findings[0]
        assert finding.key == "low_coverage:m1:2026-03-10"
        assert finding.details["coverage"] == pytest.approx(received / 24, abs=1e-4)


def test_a_silent_meter_is_not_also_reported_for_coverage():
    result = run(meter(last_seen=ago(hours=10), received=14))
    assert [f.kind for f in result.findings] == ["meter_silent"]


def test_meters_are_checked_one_by_one():
    result = run(
        meter("ok", last_seen=ago(hours=1)),
        meter("quiet", last_seen=ago(hours=6)),
        meter("patchy", interval=15, last_seen=ago(minutes=15), expected=96, received=60),
        meter("new", last_seen=None, expected=0, received=0),
        meter("never", last_seen=None, expected=24, received=0),
    )
    assert sorted((f.meter_id, f.kind) for f in result.findings) == [
        ("never", "meter_silent"),
        ("patchy", "low_coverage"),
        ("quiet", "meter_silent"),
    ]
    assert result.data["counts"] == {
        "ok": 1,
        "silent": 1,
        "low_coverage": 1,
        "no_data_expected": 1,
        "never_reported": 1,
    }


def test_the_coverage_key_uses_the_site_local_day():
    now = pd.Timestamp("2026-03-10 15:00", tz="UTC")  # already 11 March in Sydney
    status = meter(last_seen=now.floor("h") - pd.Timedelta(hours=1), received=12)
    [finding] = run(status, now=now, tz="Australia/Sydney").findings
    assert finding.key == "low_coverage:m1:2026-03-11"
