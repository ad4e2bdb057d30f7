"""The factory client, run as a subprocess against CEI served over real HTTP."""

import json
import re
from datetime import timedelta

import pytest
import requests

from tests.client.conftest import (
    METER,
    SITE,
    bearer,
    clear_of_hour_boundary,
    current_hour,
    iso,
    ramp_values,
    run_factory_client,
    spooled,
    stored,
    summary,
    write_csv,
)


def test_ramp_mode_stores_24_hours_and_a_rerun_only_skips_duplicates(run_client, account):
    clear_of_hour_boundary()

    first = run_client(SITE, METER, 24)

    assert first.returncode == 0, first.output
    assert first.summary == summary(24, 0, 0)
    assert stored(account, SITE, METER) == ramp_values(24)

    second = run_client(SITE, METER, 24)

    assert second.returncode == 0, second.output
    assert second.summary == summary(0, 24, 0)
    assert stored(account, SITE, METER) == ramp_values(24)


def test_csv_mode_reads_the_file_named_by_the_environment(run_client, account, tmp_path):
    clear_of_hour_boundary()
    hours = [current_hour() - timedelta(hours=i) for i in range(24)]
    path = write_csv(
        tmp_path / "site22_meter_main.csv",
        ["timestamp_utc", "site_id", "meter_id", "value", "unit", "idempotency_key"],
        [
            # Half the rows carry the factory's own key; the others get a derived one.
            [iso(hour), SITE, METER, 50 + i, "kWh", f"scada-{i}" if i % 2 else ""]
            for i, hour in enumerate(hours)
        ],
    )

    result = run_client(env={"CEI_FACTORY_CSV_PATH": str(path)})

    assert result.returncode == 0, result.output
    assert result.summary == summary(24, 0, 0)
    assert "factory-csv-site22_meter_main" in result.stderr
    assert stored(account, SITE, METER) == {hour: 50.0 + i for i, hour in enumerate(hours)}


def test_csv_mode_with_flag_aliases_and_site_and_meter_from_arguments(
    run_client, account, tmp_path
):
    clear_of_hour_boundary()
    hours = [current_hour() - timedelta(hours=i) for i in range(24)]
    # An Excel export in a European locale: ";" between cells, a decimal comma, local
    # header names, no site or meter columns.
    path = write_csv(
        tmp_path / "export.csv",
        ["TS", "kWh"],
        [[iso(hour), f"{i},5"] for i, hour in enumerate(hours)],
        delimiter=";",
    )

    first = run_client("--csv", path, "site-9", "meter-a")
    again = run_client("--csv", path, "site-9", "meter-a")

    assert first.returncode == 0, first.output
    assert first.summary == summary(24, 0, 0)
    assert again.returncode == 0, again.output
    assert again.summary == summary(0, 24, 0)
    assert stored(account, "site-9", "meter-a") == {hour: i + 0.5 for i, hour in enumerate(hours)}


def test_since_hours_sends_only_recent_rows(run_client, account, tmp_path):
    clear_of_hour_boundary()
    hours = [current_hour() - timedelta(hours=i) for i in range(48)]
    path = write_csv(
        tmp_path / "two-days.csv",
        ["timestamp", "site", "meter", "value"],
        [[iso(hour), SITE, METER, i] for i, hour in enumerate(hours)],
    )

    result = run_client("--csv", path, "--since-hours", 12)

    assert result.returncode == 0, result.output
    assert result.summary == summary(12, 0, 0)
    assert stored(account, SITE, METER) == {hour: float(i) for i, hour in enumerate(hours[:12])}


def test_csv_with_bad_rows_exits_3_and_names_each_row(run_client, account, tmp_path):
    now = current_hour()
    rows = [
        [iso(now - timedelta(hours=5)), SITE, METER, "10", "kWh"],  # row 2: fine
        [iso(now - timedelta(hours=4)), SITE, METER, "ten", "kWh"],  # 3: checked locally
        ["yesterday-ish", SITE, METER, "10", "kWh"],  # 4: checked locally
        [iso(now + timedelta(days=2)), SITE, METER, "10", "kWh"],  # 5: future
        [iso(now - timedelta(hours=2)), SITE, METER, "-7", "kWh"],  # 6: negative energy
        [iso(now - timedelta(hours=1)), SITE, METER, "12", "kWh"],  # 7: fine
    ]
    path = write_csv(
        tmp_path / "bad.csv", ["timestamp_utc", "site_id", "meter_id", "value", "unit"], rows
    )

    result = run_client("--csv", path)

    assert result.returncode == 3, result.output
    assert result.summary == summary(2, 0, 4)
    rejected = result.stdout.splitlines()[1:]
    assert len(rejected) == 4, result.stdout
    for row, code in [
        (3, "INVALID_VALUE"),
        (4, "INVALID_TIMESTAMP"),
        (5, "INVALID_TIMESTAMP"),
        (6, "INVALID_VALUE"),
    ]:
        assert any(re.search(rf"\brow={row} code={code} detail=\S", line) for line in rejected), (
            row,
            code,
            result.stdout,
        )
    assert len(stored(account, SITE, METER)) == 2


def test_revoked_token_exits_4_with_the_reason_without_retrying_and_spools(
    run_client, live_server, account, fault_proxy, spool_dir
):
    clear_of_hour_boundary()
    account.revoke()
    refusal = requests.post(
        f"{live_server.url}/api/v1/timeseries/batch",
        json={"records": []},
        headers=bearer(account.integration_token),
        timeout=10,
    ).json()
    assert "revoked" in refusal["message"].lower(), refusal
    proxy = fault_proxy()

    refused = run_client(SITE, METER, 24, base_url=proxy.url)

    assert refused.returncode == 4, refused.output
    assert refused.summary == summary(0, 0, 0, spool=24)
    assert refusal["code"] in refused.stderr
    assert refusal["message"] in refused.stderr
    assert proxy.posts == 1, "a refused token must not be retried"
    assert "retry" not in refused.stderr.lower()
    assert [len(batch) for batch in spooled(spool_dir)] == [24]

    # Once a valid token is set, the spooled batch goes first, then the new run's data.
    fresh = run_client(SITE, METER, 24, token=account.new_integration_token())

    assert fresh.returncode == 0, fresh.output
    assert fresh.summary == summary(24, 24, 0)
    assert spooled(spool_dir) == []
    assert stored(account, SITE, METER) == ramp_values(24)


def test_503_twice_then_success_is_stored_once(run_client, account, fault_proxy):
    clear_of_hour_boundary()
    proxy = fault_proxy(fail_posts=2, mode="503")

    result = run_client(SITE, METER, 24, base_url=proxy.url)

    assert result.returncode == 0, result.output
    assert result.summary == summary(24, 0, 0)
    assert proxy.posts == 3
    assert len(re.findall(r"HTTP 503 .*retry \d/2", result.stderr)) == 2, result.stderr
    assert stored(account, SITE, METER) == ramp_values(24)


def test_a_lost_response_is_retried_and_creates_no_duplicates(run_client, account, fault_proxy):
    clear_of_hour_boundary()
    proxy = fault_proxy(fail_posts=1, mode="drop")

    result = run_client(SITE, METER, 24, base_url=proxy.url)

    assert result.returncode == 0, result.output
    # The first POST was stored but its answer lost: the retry finds all 24 stored.
    assert result.summary == summary(0, 24, 0)
    assert proxy.posts == 2
    assert stored(account, SITE, METER) == ramp_values(24)


def test_a_batch_too_large_for_the_server_is_split_until_it_fits(run_client, account, fault_proxy):
    clear_of_hour_boundary()
    proxy = fault_proxy(max_records=10)

    result = run_client(SITE, METER, 24, base_url=proxy.url)

    assert result.returncode == 0, result.output
    assert result.summary == summary(24, 0, 0)
    assert proxy.batch_sizes == [24, 12, 6, 6, 12, 6, 6]
    assert stored(account, SITE, METER) == ramp_values(24)


def test_a_wrong_base_url_is_a_configuration_error(run_client, live_server, spool_dir):
    result = run_client(SITE, METER, 24, base_url=live_server.url + "/cei")

    assert result.returncode == 1, result.output
    assert "answered HTTP 404" in result.stderr
    assert "check CEI_BASE_URL" in result.stderr
    assert spooled(spool_dir) == [], "retrying a wrong address later cannot help"


def test_server_down_exits_2_spools_and_the_next_run_replays_without_duplicates(
    run_client, account, unused_port, spool_dir
):
    clear_of_hour_boundary()

    down = run_client(SITE, METER, 24, base_url=f"http://127.0.0.1:{unused_port}")

    assert down.returncode == 2, down.output
    assert down.summary == summary(0, 0, 0, spool=24)
    assert "24 records wait in the spool" in down.stderr
    assert [len(batch) for batch in spooled(spool_dir)] == [24]
    assert not list(spool_dir.glob(".tmp-*")), "no half-written spool file is left"

    back = run_client(SITE, METER, 24)

    assert back.returncode == 0, back.output
    assert back.summary == summary(24, 24, 0)
    assert "Replaying 1 spooled batch" in back.stderr
    assert spooled(spool_dir) == []
    assert stored(account, SITE, METER) == ramp_values(24)


def test_20000_row_csv_goes_in_several_batches_and_every_reading_is_stored_once(
    run_client, account, tmp_path
):
    clear_of_hour_boundary()
    now = current_hour()
    meters, hours = 20, 1000
    path = write_csv(
        tmp_path / "history.csv",
        ["timestamp_utc", "site_id", "meter_id", "value", "unit"],
        (
            [iso(now - timedelta(hours=h)), SITE, f"meter-{m:02d}", (m * 7 + h) % 50 + 1, "kWh"]
            for m in range(meters)
            for h in range(1, hours + 1)
        ),
    )

    result = run_client("--csv", path, timeout=120)

    assert result.returncode == 0, result.output
    assert result.summary == summary(20_000, 0, 0)
    assert len(re.findall(r"Batch \d+: 5000 records", result.stderr)) == 4, result.stderr
    rows = account.export_rows(SITE, window_hours=hours + 2)  # a spare hour at the edge
    assert len(rows) == 20_000
    assert len({(row[2], row[0]) for row in rows}) == 20_000


def test_dry_run_checks_locally_converts_local_times_and_sends_nothing(tmp_path):
    path = write_csv(
        tmp_path / "rome.csv",
        ["time", "site", "meter", "value"],
        [
            ["2025-07-01 14:00:00", SITE, METER, "1.5"],  # CEST, UTC+2
            ["2025-01-15 14:00:00", SITE, METER, "2.5"],  # CET, UTC+1
            ["2025-01-15 15:00:00", SITE, METER, "NaN"],
        ],
    )

    result = run_factory_client(
        "--csv",
        path,
        "--dry-run",
        "--timezone",
        "Europe/Rome",
        env={"CEI_CLIENT_SPOOL_DIR": str(tmp_path / "spool")},
        cwd=tmp_path,
    )

    assert result.returncode == 3, result.output
    assert result.stdout.startswith("Dry run"), result.stdout
    assert '"timestamp_utc": "2025-07-01T12:00:00Z"' in result.stdout
    assert '"timestamp_utc": "2025-01-15T13:00:00Z"' in result.stdout
    assert "2 records would be sent" in result.stdout
    assert re.search(r"row=4 code=INVALID_VALUE", result.stdout)
    assert not (tmp_path / "spool").exists()


def test_records_carry_only_the_files_own_idempotency_keys(tmp_path):
    moment = current_hour() - timedelta(hours=3)
    path = write_csv(
        tmp_path / "keys.csv",
        ["timestamp_utc", "value", "idempotency_key"],
        [[iso(moment), "5", "scada-4711"], [iso(moment - timedelta(hours=1)), "6", " "]],
    )

    def records(*args):
        result = run_factory_client(*args, "--dry-run", env={}, cwd=tmp_path)
        assert result.returncode == 0, result.output
        return [
            json.loads(line.split(": ", 1)[1])
            for line in result.stdout.splitlines()
            if line.startswith(("  first", "  last"))
        ]

    from_csv = records("--csv", path, SITE, METER)
    from_ramp = records(SITE, METER, 4)

    # A blank key cell is no key; no key is made up for rows or ramp hours without one.
    assert [record.get("idempotency_key") for record in from_csv] == ["scada-4711", None]
    assert [record.get("idempotency_key") for record in from_ramp] == [None, None]


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        ((SITE, METER, 24), {"CEI_INT_TOKEN": "cei_int_x"}, "CEI_BASE_URL is not set"),
        ((SITE, METER, 24), {"CEI_BASE_URL": "http://127.0.0.1:9"}, "CEI_INT_TOKEN is not set"),
        (
            (SITE, METER, 24),
            {"CEI_BASE_URL": "http://127.0.0.1:9", "CEI_INT_TOKEN": "eyJhbGciOi.user.token"},
            "must be an integration token starting with cei_int_",
        ),
        (
            ("--csv", "does-not-exist.csv"),
            {"CEI_BASE_URL": "http://127.0.0.1:9", "CEI_INT_TOKEN": "cei_int_x"},
            "cannot read CSV file",
        ),
        (
            (),
            {"CEI_BASE_URL": "http://127.0.0.1:9", "CEI_INT_TOKEN": "cei_int_x"},
            "nothing to send",
        ),
        (
            (SITE, METER, 24),
            {
                "CEI_BASE_URL": "http://127.0.0.1:9",
                "CEI_INT_TOKEN": "cei_int_x",
                "CEI_CLIENT_ON_CONFLICT": "overwrite",
            },
            "CEI_CLIENT_ON_CONFLICT must be reject or update",
        ),
        (
            (SITE, METER, "many"),
            {"CEI_BASE_URL": "http://127.0.0.1:9", "CEI_INT_TOKEN": "cei_int_x"},
            "invalid int value",
        ),
    ],
    ids=[
        "no-base-url",
        "no-token",
        "user-token",
        "missing-csv",
        "no-mode",
        "bad-on-conflict",
        "bad-hours",
    ],
)
def test_usage_and_configuration_errors_exit_1(tmp_path, args, env, message):
    env = {"CEI_CLIENT_SPOOL_DIR": str(tmp_path / "spool"), **env}

    result = run_factory_client(*args, env=env, cwd=tmp_path)

    assert result.returncode == 1, result.output
    assert message in result.stderr
    assert not (tmp_path / "spool").exists(), "nothing was attempted, nothing spooled"


def test_csv_without_a_value_column_is_a_configuration_error(tmp_path):
    path = write_csv(tmp_path / "odd.csv", ["timestamp_utc", "site_id", "meter_id", "reading"], [])

    result = run_factory_client(
        "--csv",
        path,
        env={"CEI_BASE_URL": "http://127.0.0.1:9", "CEI_INT_TOKEN": "cei_int_x"},
        cwd=tmp_path,
    )

    assert result.returncode == 1, result.output
    assert "lacks columns: value" in result.stderr


def test_help_documents_modes_and_exit_codes(tmp_path):
    result = run_factory_client("--help", env={}, cwd=tmp_path)

    assert result.returncode == 0
    for text in [
        "CEI_BASE_URL",
        "CEI_INT_TOKEN",
        "CEI_FACTORY_CSV_PATH",
        "--since-hours",
        "--dry-run",
        "--on-conflict",
        "CEI_CLIENT_ON_CONFLICT",
        "Spooled: S",
        "0  everything was stored",
        "1  usage or configuration error",
        "2  delivery failed after retries",
        "3  the server",
        "4  the token was refused",
    ]:
        assert text in result.stdout, text
