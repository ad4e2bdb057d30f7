"""The client's own checks: a dry run names the rows a real run and the upload refuse."""

import importlib.util
import json
import re
import sys
from datetime import timedelta

import pytest

from tests.client.conftest import (
    CLIENT,
    METER,
    SITE,
    clear_of_hour_boundary,
    current_hour,
    iso,
    run_factory_client,
    summary,
    write_csv,
)

HEADER = [
    "timestamp_utc",
    "site_id",
    "meter_id",
    "value",
    "unit",
    "interval_minutes",
    "idempotency_key",
]
CODE = re.compile(r"^Rejected index=(\d+) row=\d+ code=(\w+) ", re.M)


def load_client():
    """Import client/factory_client.py as a module."""
    spec = importlib.util.spec_from_file_location("factory_client", CLIENT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def rows_and_codes():
    """Rows of a factory export, each with the code CEI gives it (None: accepted)."""
    hour = current_hour()

    def at(hours_back, value, unit="kWh", meter=METER, interval="", key="", site=SITE):
        return [iso(hour - timedelta(hours=hours_back)), site, meter, value, unit, interval, key]

    return [
        (at(10, "5"), None),
        (at(10, "6"), "CONFLICTING_VALUE"),  # another value for the same meter and hour
        (at(10, "5000", unit="Wh"), None),  # the same energy: a duplicate, not a conflict
        (at(9, "-1"), "INVALID_VALUE"),  # negative energy
        (at(9, "2", unit="furlong"), "INVALID_UNIT"),
        (at(-48, "1"), "INVALID_TIMESTAMP"),  # two days in the future
        (["2010-01-01T00:00:00Z", SITE, METER, "1", "kWh", "", ""], "INVALID_TIMESTAMP"),
        (at(8, "1", meter=""), "MISSING_FIELD"),
        (at(8, "1", unit="kW", interval="15.5"), "INVALID_VALUE"),
        (at(8, "2e9"), "INVALID_VALUE"),  # absurd
        (at(8, "1", meter="m" * 101), "INVALID_METER_ID"),
        (at(7, "1", key="k" * 201), "INVALID_IDEMPOTENCY_KEY"),
        (at(7, "1", site="site\x07"), "INVALID_SITE_ID"),
        (at(6, "3", unit="kW", interval="15"), None),  # 0.75 kWh
        (at(6, "0.75"), None),  # the same energy again
        (at(5, "1.5", unit="MWh"), None),
        (at(5, "7", meter="sub-meter"), None),
        (at(5, "8", meter="sub-meter"), "CONFLICTING_VALUE"),
    ]


def codes(run):
    """``[(index, code)]`` of a run's ``Rejected`` lines."""
    return [(int(index), code) for index, code in CODE.findall(run.stdout)]


def test_a_dry_run_names_the_rows_a_real_run_and_the_upload_refuse(
    run_client, account, second_account, tmp_path
):
    clear_of_hour_boundary()
    rows = rows_and_codes()
    path = write_csv(tmp_path / "export.csv", HEADER, [row for row, _ in rows])
    expected = [(index, code) for index, (_, code) in enumerate(rows) if code]

    dry = run_client("--csv", path, "--dry-run")

    assert dry.returncode == 3, dry.output
    header = dry.stdout.splitlines()[0]
    assert f"{len(rows) - len(expected)} records would be sent" in header, header
    assert f"{len(expected)} rows would be rejected" in header, header
    assert codes(dry) == expected
    assert {code for _, code in expected} <= set(load_client().ERROR_CODES)
    assert account.server.get("/api/v1/sites", account.access_token).json() == [], "sent"

    real = run_client("--csv", path)
    upload = second_account.upload(path)

    assert real.returncode == 3, real.output
    assert codes(real) == expected
    assert [(error["index"], error["code"]) for error in upload["errors"]] == expected
    counts = (upload["ingested"], upload["skipped_duplicate"], upload["failed"])
    assert real.summary == summary(*counts)
    assert account.export_rows(SITE, 24) == second_account.export_rows(SITE, 24)


def test_with_on_conflict_update_the_later_row_of_a_file_is_sent(tmp_path):
    rows = rows_and_codes()
    path = write_csv(tmp_path / "export.csv", HEADER, [row for row, _ in rows])
    expected = [
        (index, code)
        for index, (_, code) in enumerate(rows)
        if code and code != "CONFLICTING_VALUE"
    ]

    dry = run_factory_client(
        "--csv", path, "--dry-run", env={"CEI_CLIENT_ON_CONFLICT": "update"}, cwd=tmp_path
    )

    assert dry.returncode == 3, dry.output
    assert codes(dry) == expected


ACCEPTED = {
    "2025-03-01T10:00:00Z": "2025-03-01T10:00:00Z",
    "2025-03-01 11:00:00+01:00": "2025-03-01T10:00:00Z",
    "2025-03-01t10:00:00z": "2025-03-01T10:00:00Z",
    "2025-03-01T05:30:00-04:30": "2025-03-01T10:00:00Z",
    "2025-03-01T10:00:00.25Z": "2025-03-01T10:00:00.250000Z",
    "2025-03-01 10:00:00": "2025-03-01T10:00:00Z",  # no offset: --timezone, UTC by default
}
REFUSED = [
    "2025-W09-6T10:00:00Z",  # ISO week date
    "20250301T100000Z",  # basic format
    "2025-060T10:00:00Z",  # ordinal date
    "2025-03-01",  # a date alone
    "2025-03-01T10:00Z",  # no seconds
    "2025-03-01T10:00:00+0100",  # offset without colon
    "2025-02-29T10:00:00Z",  # no such day
    "2025-03-01T24:00:00Z",
    "\uff12\uff10\uff12\uff15-03-01T10:00:00Z",  # full-width digits
]


def test_timestamps_are_rfc_3339_as_cei_reads_them(tmp_path):
    stamps = [*ACCEPTED, *REFUSED]
    path = write_csv(tmp_path / "times.csv", ["timestamp_utc", "value"], [[s, "1"] for s in stamps])

    dry = run_factory_client(
        "--csv", path, SITE, METER, "--dry-run", "--batch-size", "1", env={}, cwd=tmp_path
    )

    sent = [
        json.loads(line.split(": ", 1)[1])["timestamp_utc"]
        for line in dry.stdout.splitlines()
        if line.startswith("  first ")
    ]
    assert sent == list(ACCEPTED.values()), dry.stdout
    refused = range(len(ACCEPTED), len(stamps))
    assert codes(dry) == [(index, "INVALID_TIMESTAMP") for index in refused]
    assert dry.returncode == 3


@pytest.mark.parametrize(
    ("cells", "code"),
    [
        ({"interval_minutes": "\u00b2"}, "INVALID_VALUE"),  # a digit to str.isdigit()
        ({"interval_minutes": "0"}, "INVALID_VALUE"),
        ({"meter_id": "main\u202emeter"}, "INVALID_METER_ID"),  # right-to-left override
        ({"value": "nan"}, "INVALID_VALUE"),
        ({"value": "1", "unit": "MW", "interval_minutes": "1440"}, None),
        ({"value": "2e6", "unit": "MW", "interval_minutes": "60"}, "INVALID_VALUE"),  # 2e9 kWh
    ],
)
def test_cells_cei_would_refuse_are_refused_before_sending(tmp_path, cells, code):
    row = {"timestamp_utc": iso(current_hour() - timedelta(hours=1)), "value": "1", **cells}
    path = write_csv(tmp_path / "one.csv", list(row), [list(row.values())])

    dry = run_factory_client("--csv", path, SITE, METER, "--dry-run", env={}, cwd=tmp_path)

    assert codes(dry) == ([(0, code)] if code else []), dry.stdout
    assert dry.returncode == (3 if code else 0)
