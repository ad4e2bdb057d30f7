"""Changed values through the factory client: the upload's answers, corrections, the spool."""

import re
from datetime import timedelta

import pytest

from tests.client.conftest import (
    METER,
    SITE,
    clear_of_hour_boundary,
    current_hour,
    iso,
    stored,
    summary,
    write_csv,
)

HEADER = ["timestamp_utc", "site_id", "meter_id", "value", "unit", "idempotency_key"]
REJECTED = re.compile(r"^Rejected index=(\d+) row=(\d+) code=(\w+) detail=(.*)$", re.M)


def rejections(run):
    """``[(index, code, detail)]`` of a run's ``Rejected`` lines."""
    return [(int(index), code, detail) for index, _, code, detail in REJECTED.findall(run.stdout)]


def upload_rejections(result):
    """``[(index, code, detail)]`` of an upload's errors."""
    return [(error["index"], error["code"], error["detail"]) for error in result["errors"]]


def readings(tmp_path, name, values, key=None, meter=METER):
    """A CSV file of hourly readings of a meter, ``values`` from 4 hours ago on."""
    start = current_hour() - timedelta(hours=4)
    rows = [
        [iso(start + timedelta(hours=i)), SITE, meter, value, "kWh", key(i) if key else ""]
        for i, value in enumerate(values)
    ]
    return write_csv(tmp_path / name, HEADER, rows)


def hourly(account, meter=METER):
    """The stored values of a meter, oldest hour first."""
    return [value for _, value in sorted(stored(account, SITE, meter).items())]


def test_a_changed_value_gets_the_uploads_conflict_and_its_hint(run_client, account, tmp_path):
    clear_of_hour_boundary()
    first = run_client("--csv", readings(tmp_path, "export.csv", ["10", "11", "12"]))
    assert first.summary == summary(3, 0, 0), first.output
    changed = readings(tmp_path, "changed.csv", ["10", "11.5", "12"])

    through_client = run_client("--csv", changed)
    through_upload = account.upload(changed)

    assert through_client.returncode == 3, through_client.output
    assert through_client.summary == summary(0, 2, 1)
    assert (through_upload["ingested"], through_upload["skipped_duplicate"]) == (0, 2)
    assert rejections(through_client) == upload_rejections(through_upload)
    [(index, code, detail)] = rejections(through_client)
    assert (index, code) == (1, "CONFLICTING_VALUE")
    assert 'on_conflict "update"' in detail, "the server's hint is passed on"
    assert "--on-conflict update" in through_client.stderr
    assert hourly(account) == [10, 11, 12]


@pytest.mark.parametrize(
    ("args", "env"),
    [(("--on-conflict", "update"), {}), ((), {"CEI_CLIENT_ON_CONFLICT": "update"})],
    ids=["flag", "environment"],
)
def test_on_conflict_update_corrects_and_the_old_value_is_then_a_conflict(
    run_client, account, tmp_path, args, env
):
    clear_of_hour_boundary()
    original = readings(tmp_path, "export.csv", ["10", "11", "12"])
    assert run_client("--csv", original).returncode == 0
    changed = readings(tmp_path, "changed.csv", ["10", "11.5", "12"])

    corrected = run_client("--csv", changed, *args, env=env)

    assert corrected.returncode == 0, corrected.output
    assert corrected.summary == summary(0, 2, 0, updated=1)
    assert hourly(account) == [10, 11.5, 12]

    again = run_client("--csv", changed)

    assert again.returncode == 0, again.output
    assert again.summary == summary(0, 3, 0)

    old = run_client("--csv", original)

    assert old.returncode == 3, old.output
    assert [code for _, code, _ in rejections(old)] == ["CONFLICTING_VALUE"]
    assert hourly(account) == [10, 11.5, 12]


@pytest.mark.parametrize("on_conflict", ["reject", "update"])
def test_a_row_with_its_own_key_gets_the_uploads_answer(
    run_client, account, second_account, tmp_path, on_conflict
):
    clear_of_hour_boundary()
    key = "scada-line1-{}".format
    original = readings(tmp_path, "export.csv", ["10", "11"], key=key)
    changed = readings(tmp_path, "changed.csv", ["10", "11.5"], key=key)
    # Two organizations in the same state: one sends through the client, one uploads.
    assert run_client("--csv", original).summary == summary(2, 0, 0)
    assert second_account.upload(original)["ingested"] == 2

    through_client = run_client("--csv", changed, "--on-conflict", on_conflict)
    through_upload = second_account.upload(changed, on_conflict=on_conflict)

    assert rejections(through_client) == upload_rejections(through_upload)
    counts = [through_upload[name] for name in ("ingested", "skipped_duplicate", "failed")]
    updated = through_upload["updated"] if on_conflict == "update" else None
    assert through_client.summary == summary(*counts, updated=updated)
    assert hourly(account) == hourly(second_account)


def test_a_correction_spooled_in_an_outage_is_still_a_correction_when_replayed(
    run_client, account, tmp_path, unused_port
):
    clear_of_hour_boundary()
    assert run_client("--csv", readings(tmp_path, "export.csv", ["10", "11"])).returncode == 0
    changed = readings(tmp_path, "changed.csv", ["10", "11.5"])

    down = run_client(
        "--csv", changed, "--on-conflict", "update", base_url=f"http://127.0.0.1:{unused_port}"
    )

    assert down.returncode == 2, down.output
    assert down.summary == summary(0, 0, 0, updated=0, spool=2)

    # The next scheduled run sends another meter's file without the flag.
    other = write_csv(
        tmp_path / "other.csv", HEADER, [[iso(current_hour()), SITE, "sub-meter", "3", "kWh", ""]]
    )
    back = run_client("--csv", other)

    assert back.returncode == 0, back.output
    assert back.summary == summary(1, 1, 0, updated=1)
    assert hourly(account) == [10, 11.5]


def test_the_first_line_counts_the_whole_spool_while_the_outage_lasts(
    run_client, account, tmp_path, unused_port, spool_dir
):
    clear_of_hour_boundary()
    down = f"http://127.0.0.1:{unused_port}"
    path = readings(tmp_path, "export.csv", ["10", "11", "12"], meter="sub-meter")

    first = run_client(SITE, METER, 24, base_url=down)
    second = run_client("--csv", path, base_url=down)
    dry = run_client("--csv", path, "--dry-run")

    assert first.summary == summary(0, 0, 0, spool=24), first.output
    assert second.returncode == 2, second.output
    assert second.summary == summary(0, 0, 0, spool=27)
    assert re.search(r"27 records wait in the spool .* \(3 spooled by this run\)", second.stderr)
    assert "27 spooled records would be sent first" in dry.stdout.splitlines()[0]

    back = run_client("--csv", path)

    # The spool first (24 ramp hours, the file's 3 rows), then the file again: duplicates.
    assert back.returncode == 0, back.output
    assert back.summary == summary(27, 3, 0)
    assert "wait in the spool" not in back.stderr
    assert list(spool_dir.glob("batch-*.json")) == []
