#!/usr/bin/env python3
"""CEI factory client: push meter readings to CEI's batch ingestion API.

Ramp mode (smoke test) sends synthetic hourly readings for the last N hours:

    python factory_client.py site-22 main-meter 24

CSV mode sends the rows of a factory export (CEI_FACTORY_CSV_PATH or --csv):

    python factory_client.py --csv site22_meter_main.csv

The client stands alone: Python 3.9+ and `requests`, nothing from the CEI server package.
Batches that cannot be delivered are kept in a spool directory and sent first on the next run.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import os
import random
import re
import sys
import tempfile
import time
import unicodedata
from array import array
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from email.utils import parsedate_to_datetime
from pathlib import Path

try:
    import requests
except ImportError:  # the one dependency; say how to get it instead of a traceback
    sys.exit("factory_client.py needs the requests package: python -m pip install requests")

__version__ = "1.1.0"

# datetime.UTC is Python 3.11+; this client supports Python 3.9.
UTC = timezone.utc  # noqa: UP017
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

EXIT_OK = 0
EXIT_USAGE = 1
EXIT_DELIVERY_FAILED = 2
EXIT_REJECTED = 3
EXIT_TOKEN_REFUSED = 4

TOKEN_PREFIX = "cei_int_"
BATCH_PATH = "/api/v1/timeseries/batch"
RAMP_BASE_VALUE = 100.0
MAX_RETRY_DELAY = 300.0  # seconds; a longer Retry-After means "try on the next run"
MAX_LISTED_REJECTIONS = 10_000
ON_CONFLICT = ("reject", "update")

# The server's rules for one record, checked before sending so a dry run finds what a real run
# would have refused, with the server's codes (DESIGN.md section 4).
# Unit, as CEI spells it -> (kWh per unit, whether it is an average power over the interval).
UNITS = {
    "Wh": (0.001, False),
    "kWh": (1.0, False),
    "MWh": (1000.0, False),
    "W": (0.001, True),
    "kW": (1.0, True),
    "MW": (1000.0, True),
}
KNOWN_UNITS = {name.lower() for name in UNITS}  # units are case-insensitive
UNIT_BY_NAME = {name.lower(): UNITS[name] for name in UNITS}
ERROR_CODES = (
    "MISSING_FIELD",
    "INVALID_SITE_ID",
    "INVALID_METER_ID",
    "INVALID_TIMESTAMP",
    "INVALID_VALUE",
    "INVALID_UNIT",
    "INVALID_IDEMPOTENCY_KEY",
    "UNKNOWN_SITE",
    "IDEMPOTENCY_KEY_REUSED",
    "CONFLICTING_VALUE",
)
MAX_ID_LENGTH = 100
MAX_KEY_LENGTH = 200
MAX_KWH = 1e9
MAX_FUTURE_SECONDS = 300
RETENTION_DAYS = 3653
MAX_INTERVAL_MINUTES = 1440
# C0 and C1 controls, lone surrogates, non-characters and the bidirectional overrides and
# isolates (text that displays differently from what it is).
_BAD_CHARACTERS = re.compile(
    "[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff\u202a-\u202e\u2066-\u2069]"
)

# Normalised CSV header -> record field (DESIGN.md section 4 lists the aliases).
COLUMN_ALIASES = {
    "timestamp_utc": "timestamp_utc",
    "timestamp": "timestamp_utc",
    "ts": "timestamp_utc",
    "time": "timestamp_utc",
    "value": "value",
    "kwh": "value",
    "site_id": "site_id",
    "site": "site_id",
    "meter_id": "meter_id",
    "meter": "meter_id",
    "unit": "unit",
    "idempotency_key": "idempotency_key",
    "interval_minutes": "interval_minutes",
}

HELP_EPILOG = """\
environment:
  CEI_BASE_URL            CEI address without /api/v1, e.g. https://cei.example.com (required)
  CEI_INT_TOKEN           integration token, starts with cei_int_ (required)
  CEI_FACTORY_CSV_PATH    CSV file to send when no <hours_back> is given (CSV mode)
  CEI_CLIENT_TIMEOUT      same as --timeout
  CEI_CLIENT_RETRIES      same as --retries
  CEI_CLIENT_BACKOFF      same as --backoff
  CEI_CLIENT_BATCH_SIZE   same as --batch-size
  CEI_CLIENT_SPOOL_DIR    same as --spool-dir
  CEI_CLIENT_LOG_FILE     same as --log-file
  CEI_CLIENT_ON_CONFLICT  same as --on-conflict (reject or update)

exit codes:
  0  everything was stored (new readings, duplicates of stored ones, corrections)
  1  usage or configuration error (missing variable, bad token prefix, unreadable CSV,
     wrong CEI_BASE_URL)
  2  delivery failed after retries; the data is spooled and sent on the next run
  3  the server (or the client's own checks) rejected some records; see the lines after
     the summary
  4  the token was refused (401/403); the data is spooled and sent once a valid token is set
  When several apply, the first of 4, 2, 3 in that order is returned.

output:
  stdout: "Ingested: X, Skipped duplicates: Y, Failed: Z", then one line per rejected record.
  ", Updated: U" follows with --on-conflict update, and ", Spooled: S" whenever S records
  wait in the spool (an outage: they are sent first on the next run).
  stderr: progress, retries and errors, with UTC timestamps.
"""

log = logging.getLogger("cei.factory_client")


class UsageError(Exception):
    """A usage or configuration problem: exit code 1."""


class TokenRefused(Exception):
    """The server refused the integration token (401 or 403)."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class DeliveryFailed(Exception):
    """A batch could not be delivered after all retries."""


class BatchRejected(Exception):
    """The server refused a whole batch with a status that retrying cannot change."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


@dataclass
class Batch:
    """Records to send in one request, with a label per record for error lines.

    A label says where a record came from: {"index": 3, "row": 5} for the fourth data row
    of a CSV file (line 5), {"index": 0, "timestamp": ...} in ramp mode, plus "spool" (the
    file name) when the batch is replayed from the spool.
    """

    source: str
    records: list[dict] = field(default_factory=list)
    labels: list[dict] = field(default_factory=list)
    on_conflict: str = "reject"  # "update" replaces stored values (a correction)

    def split(self) -> tuple[Batch, Batch]:
        """Return the two halves of this batch."""
        half = len(self.records) // 2
        return (
            Batch(self.source, self.records[:half], self.labels[:half], self.on_conflict),
            Batch(self.source, self.records[half:], self.labels[half:], self.on_conflict),
        )


@dataclass
class Totals:
    """Counts over all batches of a run and the lines describing rejected records."""

    ingested: int = 0
    skipped: int = 0
    failed: int = 0
    updated: int = 0
    show_updated: bool = False  # corrections were asked for: say how many were made
    spooled: int = 0  # records waiting in the whole spool after the run
    conflicts: int = 0  # CONFLICTING_VALUE rejections, for the --on-conflict hint
    rejections: list[tuple[tuple, str]] = field(default_factory=list)
    unlisted: int = 0

    def reject(self, label: dict, code: str, detail: object) -> None:
        """Count one rejected record and remember its output line."""
        self.failed += 1
        self.note_rejection(label, code, detail)

    def note_rejection(self, label: dict, code: str, detail: object) -> None:
        """Remember the output line of a rejected record already counted in `failed`."""
        if code == "CONFLICTING_VALUE":
            self.conflicts += 1
        if len(self.rejections) >= MAX_LISTED_REJECTIONS:
            self.unlisted += 1
            return
        text = detail if isinstance(detail, str) else json.dumps(detail, default=str)
        # Spooled batches were sent first; within a source, records keep their order.
        order = ("spool" not in label, label.get("spool", ""), label.get("index", -1))
        self.rejections.append((order, f"Rejected {describe(label)} code={code} detail={text}"))

    def rejection_lines(self) -> list[str]:
        """Return one line per rejected record, in input order."""
        lines = [line for _, line in sorted(self.rejections, key=lambda item: item[0])]
        if self.unlisted:
            lines.append(f"... and {self.unlisted} more rejected records not listed")
        return lines

    def summary(self) -> str:
        """Return the summary line printed first on stdout.

        Optional parts come last, so a reader of the first three counts keeps working.
        """
        line = (
            f"Ingested: {self.ingested}, Skipped duplicates: {self.skipped}, Failed: {self.failed}"
        )
        if self.show_updated or self.updated:
            line += f", Updated: {self.updated}"
        if self.spooled:
            line += f", Spooled: {self.spooled}"
        return line


def describe(label: dict) -> str:
    """Format a record label as "index=3 row=5"."""
    return " ".join(f"{key}={value}" for key, value in label.items())


# --------------------------------------------------------------------------- records


def floor_to_hour(moment: datetime) -> datetime:
    """Return the start of the hour containing `moment`."""
    return moment.replace(minute=0, second=0, microsecond=0)


def format_timestamp(moment: datetime) -> str:
    """Format an aware datetime as ISO 8601 UTC with a Z suffix."""
    moment = moment.astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}"
    return text + "Z"


def slug(text: str, limit: int = 80) -> str:
    """Reduce free text to a short identifier for the batch `source`."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return cleaned[:limit] or "unnamed"


def ramp_batches(
    site_id: str,
    meter_id: str,
    hours_back: int,
    batch_size: int,
    on_conflict: str = "reject",
    now: datetime | None = None,
) -> Iterator[Batch]:
    """Yield the synthetic hourly readings of ramp mode, newest hour first.

    Like CSV rows without a key column, they carry no idempotency key: a reading is stored
    once per meter and time, so a re-sent hour is a duplicate (see `CsvSource.rows`).
    """
    current_hour = floor_to_hour(now or datetime.now(UTC))
    source = f"factory-ramp-{slug(site_id)}"
    batch = Batch(source, on_conflict=on_conflict)
    for i in range(hours_back):
        moment = current_hour - timedelta(hours=i)
        batch.records.append(
            {
                "site_id": site_id,
                "meter_id": meter_id,
                "timestamp_utc": format_timestamp(moment),
                # Tied to the hour itself, not to "i hours ago", so a scheduled ramp sends
                # the same value for an hour on every run and overlaps are duplicates.
                "value": RAMP_BASE_VALUE + moment.hour,
                "unit": "kWh",
            }
        )
        batch.labels.append({"index": i, "timestamp": format_timestamp(moment)})
        if len(batch.records) >= batch_size:
            yield batch
            batch = Batch(source, on_conflict=on_conflict)
    if batch.records:
        yield batch


# --------------------------------------------------------------------------- CSV


# RFC 3339 date-time (a "T", "t" or space between date and time, seconds required, an
# optional fraction), with the offset optional: a timestamp without one is in --timezone.
# CEI refuses the other ISO 8601 forms (week dates 2026-W40-1, ordinal dates 2026-274, the
# basic format 20261001T000000Z, "+0100" offsets, a date alone), and so does the client.
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))?",
    re.ASCII,
)


def parse_timestamp(text: str, default_zone: tzinfo) -> datetime:
    """Parse an RFC 3339 timestamp; one without offset is in `default_zone`. Return UTC.

    Raise ValueError for anything else. Fractions beyond microseconds are dropped.
    """
    match = _RFC3339.fullmatch(text.strip())
    if match is None:
        raise ValueError("not an RFC 3339 timestamp")
    year, month, day, hour, minute, second, fraction, utc, sign, off_h, off_m = match.groups()
    if utc:
        zone = UTC
    elif sign:
        if int(off_h) > 23 or int(off_m) > 59:
            raise ValueError("offset out of range")
        offset = timedelta(hours=int(off_h), minutes=int(off_m))
        zone = timezone(-offset if sign == "-" else offset)
    else:
        zone = default_zone
    moment = datetime(  # raises ValueError for a month 13, a 31 April or a second 60
        int(year),
        int(month),
        int(day),
        int(hour),
        int(minute),
        int(second),
        int((fraction or "").ljust(6, "0")[:6]),
        tzinfo=zone,
    )
    return moment.astimezone(UTC)


def epoch_seconds(moment: datetime) -> int:
    """Whole seconds since 1970 (floored), the time by which CEI keys a reading."""
    return (moment - EPOCH) // timedelta(seconds=1)


def parse_value(text: str, decimal_comma: bool) -> float:
    """Parse a reading; raise ValueError when it is not a finite number."""
    value = text.strip()
    if decimal_comma and re.fullmatch(r"-?\d+,\d+", value):
        value = value.replace(",", ".")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError("not a finite number")
    return number


def normalise_header(name: str) -> str:
    """Lower-case a CSV header and turn spaces and dashes into underscores."""
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


@dataclass
class CsvSource:
    """A factory CSV export, read as a stream of records."""

    path: Path
    default_site: str | None
    default_meter: str | None
    zone: tzinfo
    since: datetime | None
    encoding: str = "utf-8-sig"
    on_conflict: str = "reject"
    now: float = field(default_factory=time.time)
    skipped_old: int = 0
    _ids: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def source_name(self) -> str:
        """Return the batch `source` derived from the file name."""
        return f"factory-csv-{slug(self.path.stem)}"

    def check_header(self) -> None:
        """Open the file and check its header now, before anything is sent."""
        with self._reader():
            pass

    def batches(self, batch_size: int, totals: Totals) -> Iterator[Batch]:
        """Yield batches of valid records; count rows that fail local checks in `totals`."""
        batch = Batch(self.source_name, on_conflict=self.on_conflict)
        for label, record, error in self.rows():
            if error is not None:
                totals.reject(label, *error)
                continue
            batch.records.append(record)
            batch.labels.append(label)
            if len(batch.records) >= batch_size:
                yield batch
                batch = Batch(self.source_name, on_conflict=self.on_conflict)
        if batch.records:
            yield batch
        if self.skipped_old:
            log.info(
                "Left out %d rows older than %s (--since-hours)",
                self.skipped_old,
                format_timestamp(self.since),
            )

    def rows(self) -> Iterator[tuple[dict, dict | None, tuple[str, str] | None]]:
        """Yield (label, record, error) per data row; error is (code, detail) or None.

        Besides each row's own checks, a row giving another value for the meter and time of
        an earlier row is a CONFLICTING_VALUE, as in a CSV upload: the first value is sent,
        the later one refused (with --on-conflict update both are sent and the later one
        replaces the first). Rows sharing an idempotency key are left to the server.
        """
        first_rows = FirstReadings() if self.on_conflict == "reject" else None
        with self._reader() as (reader, columns, decimal_comma):
            index = 0
            for cells in reader:
                if not any(cell.strip() for cell in cells):
                    continue
                label = {"index": index, "row": reader.line_num}
                index += 1
                record, error, reading = self._record(cells, columns, decimal_comma)
                if record is None and error is None:
                    self.skipped_old += 1
                    continue
                if first_rows is not None and reading is not None:
                    key = record.get("idempotency_key")
                    conflict = first_rows.conflict(*reading, key, label["row"])
                    if conflict is not None:
                        record, error = None, ("CONFLICTING_VALUE", conflict)
                yield label, record, error

    @contextmanager
    def _reader(self) -> Iterator[tuple[Iterator[list[str]], dict[str, int], bool]]:
        """Open the file; yield (reader after the header, column positions, decimal comma)."""
        try:
            handle = self.path.open("r", encoding=self.encoding, newline="")
        except OSError as exc:
            raise UsageError(f"cannot read CSV file {self.path}: {exc}") from exc
        with handle:
            try:
                # Excel in many locales writes ";" (and a decimal comma); pick what the
                # header line uses most.
                delimiter = max(",;\t|", key=handle.readline().count)
                handle.seek(0)
                reader = csv.reader(handle, delimiter=delimiter)
                columns = self._columns(next(reader, []))
                yield reader, columns, delimiter != ","
            except (UnicodeDecodeError, csv.Error) as exc:
                raise UsageError(
                    f"cannot read CSV file {self.path} (wrong --encoding?): {exc}"
                ) from exc

    def _columns(self, header: list[str]) -> dict[str, int]:
        """Map record fields to column positions; raise UsageError for unusable headers."""
        columns: dict[str, int] = {}
        for position, name in enumerate(header):
            target = COLUMN_ALIASES.get(normalise_header(name))
            if target is None:
                continue
            if target in columns:
                raise UsageError(
                    f"CSV file {self.path}: two columns mean {target} "
                    f"({header[columns[target]]!r} and {name!r})"
                )
            columns[target] = position
        missing = [name for name in ("timestamp_utc", "value") if name not in columns]
        if "site_id" not in columns and not self.default_site:
            missing.append("site_id (or give <site_id> <meter_id> as arguments)")
        if "meter_id" not in columns and not self.default_meter:
            missing.append("meter_id (or give <site_id> <meter_id> as arguments)")
        if missing:
            found = ", ".join(repr(name) for name in header) or "nothing"
            raise UsageError(
                f"CSV file {self.path} lacks columns: {', '.join(missing)} (header has {found})"
            )
        return columns

    def _record(
        self, cells: list[str], columns: dict[str, int], decimal_comma: bool
    ) -> tuple[dict | None, tuple[str, str] | None, tuple | None]:
        """Check one row as CEI would; return (record, error, reading).

        `error` is (code, detail) with CEI's code for the first problem, in CEI's order of
        checks; `reading` is (site, meter, second, amount, per_interval) for the conflict
        check: `amount` in kWh, or in kW when `per_interval` (a power reading whose meter's
        interval only CEI knows). (None, None, None) means "older than --since-hours".
        """

        def cell(name: str) -> str:
            position = columns.get(name)
            if position is None or position >= len(cells):
                return ""
            return cells[position].strip()

        stamp = cell("timestamp_utc")
        try:
            moment = parse_timestamp(stamp, self.zone) if stamp else None
        except ValueError:
            moment = None
        if moment is not None and self.since is not None and moment < self.since:
            return None, None, None
        site_id = self._identifier(cell("site_id") or self.default_site or "")
        meter_id = self._identifier(cell("meter_id") or self.default_meter or "")
        value_text = cell("value")
        required = (
            ("site_id", site_id),
            ("meter_id", meter_id),
            ("timestamp_utc", stamp),
            ("value", value_text),
        )
        missing = [name for name, text in required if not text]
        if missing:
            return None, ("MISSING_FIELD", "missing " + ", ".join(missing)), None
        for code, name, text in (
            ("INVALID_SITE_ID", "site_id", site_id),
            ("INVALID_METER_ID", "meter_id", meter_id),
        ):
            problem = text_problem(text, name, MAX_ID_LENGTH)
            if problem:
                return None, (code, problem), None
        if moment is None:
            return None, ("INVALID_TIMESTAMP", timestamp_problem(stamp)), None
        second = epoch_seconds(moment)
        if second > self.now + MAX_FUTURE_SECONDS:
            detail = f"{stamp} is more than 5 minutes in the future"
            return None, ("INVALID_TIMESTAMP", detail), None
        if second < self.now - RETENTION_DAYS * 86400:
            detail = f"{stamp} is older than the retention limit ({RETENTION_DAYS} days)"
            return None, ("INVALID_TIMESTAMP", detail), None
        unit = cell("unit") or "kWh"
        known = UNIT_BY_NAME.get(unit.lower())
        if known is None:
            return None, ("INVALID_UNIT", f"{unit!r} is not one of {', '.join(UNITS)}"), None
        try:
            value = parse_value(value_text, decimal_comma)
        except ValueError:
            return None, ("INVALID_VALUE", f"{value_text!r} is not a number"), None
        if value < 0:
            return None, ("INVALID_VALUE", "value must not be negative"), None
        if value > MAX_KWH:
            detail = f"value is implausibly large (more than {MAX_KWH:g} kWh)"
            return None, ("INVALID_VALUE", detail), None
        interval_text = cell("interval_minutes")
        interval = None
        if interval_text:
            # ASCII digits only: "²" is a digit to str.isdigit() but not to int().
            if re.fullmatch(r"[0-9]{1,4}", interval_text):
                interval = int(interval_text)
            if interval is None or not 1 <= interval <= MAX_INTERVAL_MINUTES:
                detail = (
                    f"interval_minutes must be a whole number from 1 to "
                    f"{MAX_INTERVAL_MINUTES}, got {interval_text!r}"
                )
                return None, ("INVALID_VALUE", detail), None
        factor, is_power = known
        amount = value * factor
        if is_power and interval is not None:
            amount = amount * interval / 60
        if amount > MAX_KWH:
            return None, ("INVALID_VALUE", f"{value:g} {unit} is more than {MAX_KWH:g} kWh"), None
        key = cell("idempotency_key")
        if key:
            problem = text_problem(key, "idempotency_key", MAX_KEY_LENGTH)
            if problem:
                return None, ("INVALID_IDEMPOTENCY_KEY", problem), None
        record = {
            "site_id": site_id,
            "meter_id": meter_id,
            "timestamp_utc": format_timestamp(moment),
            "value": value,
            "unit": unit,
        }
        if key:  # a row without a key is stored once per meter and time all the same
            record["idempotency_key"] = key
        if interval is not None:
            record["interval_minutes"] = interval
        per_interval = is_power and interval is None
        # -0.0 + 0.0 is 0.0: a zero reading compares as plain zero, as on the server.
        return record, None, (site_id, meter_id, second, amount + 0.0, per_interval)

    def _identifier(self, text: str) -> str:
        """Return a site or meter id in Unicode NFC, as CEI stores it, shared between rows."""
        if not text.isascii():
            text = unicodedata.normalize("NFC", text)
        return self._ids.setdefault(text, text)


def text_problem(text: str, what: str, limit: int) -> str | None:
    """Return why `text` is not an acceptable id or key for CEI, or None when it is."""
    if len(text) > limit:
        return f"{what} must be at most {limit} characters, got {len(text)}"
    if not (text.isascii() and text.isprintable()) and _BAD_CHARACTERS.search(text):
        return f"{what} must not contain control or bidirectional-override characters"
    return None


def timestamp_problem(stamp: str) -> str:
    """Say why a timestamp cell was refused."""
    return (
        f"{stamp!r} is not an RFC 3339 timestamp (e.g. 2025-03-01T10:00:00Z, "
        "2025-03-01 11:00:00+01:00, or 2025-03-01 10:00:00 in --timezone)"
    )


class FirstReadings:
    """The first reading of a file for each meter and time, to find later rows that differ.

    Kept compactly (a dict entry per meter and second, the rest in arrays): about 100 bytes
    a row (measured on 500,000 rows), so a million rows need about 100 MB for the check.
    """

    def __init__(self) -> None:
        self.times: dict[tuple[str, str], dict[int, int]] = {}  # -> {second: position}
        self.amounts = array("d")  # kWh, or kW for `per_interval` readings
        self.rows = array("q")  # CSV line numbers
        self.per_interval = bytearray()
        self.keys: dict[int, str] = {}  # position -> idempotency key, for keyed rows only
        self._last: tuple[tuple[str, str], dict[int, int]] | None = None

    def conflict(
        self,
        site: str,
        meter: str,
        second: int,
        amount: float,
        per_interval: bool,
        key: str | None,
        row: int,
    ) -> str | None:
        """Remember a reading first met; describe how it conflicts with the first, or None.

        Rows of a power unit without `interval_minutes` are compared only with each other
        (CEI alone knows the meter's interval); rows sharing a key are left to CEI.
        """
        meter_key = (site, meter)
        if self._last is not None and self._last[0] == meter_key:
            times = self._last[1]
        else:  # rows usually come meter by meter: look the meter up when it changes
            times = self.times.setdefault(meter_key, {})
            self._last = (meter_key, times)
        position = times.get(second)
        if position is None:
            position = times[second] = len(self.amounts)
            self.amounts.append(amount)
            self.rows.append(row)
            self.per_interval.append(per_interval)
            if key is not None:
                self.keys[position] = key
            return None
        kept = self.amounts[position]
        if (
            kept == amount
            or self.per_interval[position] != per_interval
            or (key is not None and self.keys.get(position) == key)
        ):
            return None
        unit = "kW" if per_interval else "kWh"
        return (
            f"row {self.rows[position]} of this file gives {kept:g} {unit} for the same meter "
            f"and time; this one gives {amount:g} {unit} (--on-conflict update sends both and "
            "keeps the later value)"
        )


# --------------------------------------------------------------------------- delivery


def error_envelope(response: requests.Response) -> tuple[str, str]:
    """Return (code, message) from CEI's JSON error envelope, or from the bare response."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and (body.get("code") or body.get("message")):
        return str(body.get("code") or f"HTTP_{response.status_code}"), str(
            body.get("message") or ""
        )
    text = " ".join(response.text.split())[:200]
    return f"HTTP_{response.status_code}", text or response.reason or ""


def retry_after_seconds(response: requests.Response) -> float | None:
    """Return the delay a Retry-After header asks for, or None without a usable one."""
    header = response.headers.get("Retry-After")
    if not header:
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


_OS_ERROR = re.compile(r"\[(?:Errno -?\d+|SSL[^\]]*)\][^\"')]*")


def describe_failure(exc: requests.RequestException) -> str:
    """Return a one-line reason for a failed request, without urllib3's wrapping."""
    if isinstance(exc, requests.Timeout):
        return f"{type(exc).__name__}: no answer in time"
    found = _OS_ERROR.findall(str(exc))
    detail = found[-1].strip() if found else " ".join(str(exc).split())[:300]
    return f"{type(exc).__name__}: {detail}"


class Sender:
    """Posts batches to the ingestion endpoint, retrying only what can succeed later."""

    def __init__(self, base_url: str, token: str, timeout: float, retries: int, backoff: float):
        self.url = base_url + BATCH_PATH
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.session = requests.Session()
        self.session.headers.update(
            {
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "Accept": "application/json",
                "User-Agent": f"cei-factory-client/{__version__}",
            }
        )

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self.session.close()

    def send(self, batch: Batch) -> dict:
        """Post one batch and return the server's result.

        Raises TokenRefused (401/403), BatchRejected (other statuses that a retry cannot
        change) or DeliveryFailed (still failing after the retries).
        """
        body = json.dumps(
            {"records": batch.records, "source": batch.source, "on_conflict": batch.on_conflict},
            separators=(",", ":"),
            allow_nan=False,
        ).encode()
        reason = "not sent"
        for attempt in range(self.retries + 1):
            retry_after = None
            try:
                response = self.session.post(
                    self.url, data=body, timeout=self.timeout, allow_redirects=False
                )
            except requests.RequestException as exc:
                reason = describe_failure(exc)
            else:
                status = response.status_code
                if 200 <= status < 300:
                    try:
                        result = response.json()
                    except ValueError:
                        result = None
                    if isinstance(result, dict):
                        return result
                    reason = f"HTTP {status} with a body that is not a JSON object"
                elif status in (401, 403):
                    raise TokenRefused(status, *error_envelope(response))
                elif status == 429 or status >= 500:
                    code, message = error_envelope(response)
                    reason = f"HTTP {status} {code}: {message}".rstrip(": ")
                    retry_after = retry_after_seconds(response)
                else:
                    code, message = error_envelope(response)
                    if 300 <= status < 400:
                        message = f"redirected to {response.headers.get('Location', '?')}"
                    raise BatchRejected(status, code, message)
            if attempt == self.retries:
                break
            delay = self._delay(attempt, retry_after)
            if delay is None:
                log.warning(
                    "%s; server asks to wait %.0f s: leaving it to the next run",
                    reason,
                    retry_after,
                )
                break
            log.warning("%s; retry %d/%d in %.2f s", reason, attempt + 1, self.retries, delay)
            time.sleep(delay)
        raise DeliveryFailed(reason)

    def _delay(self, attempt: int, retry_after: float | None) -> float | None:
        """Return the wait before the next attempt, or None when it would be too long."""
        if retry_after is not None:
            return retry_after if retry_after <= MAX_RETRY_DELAY else None
        ceiling = min(MAX_RETRY_DELAY, self.backoff * 2**attempt)
        return ceiling * random.uniform(0.5, 1.0)


# --------------------------------------------------------------------------- spool


class Spool:
    """A directory of undelivered batches, one JSON file each, replayed oldest first."""

    def __init__(self, directory: Path):
        self.directory = directory
        self._sequence = 0

    def pending(self) -> list[Path]:
        """Return the spooled batch files, oldest first."""
        if not self.directory.is_dir():
            return []
        return sorted(self.directory.glob("batch-*.json"))

    def write(self, batch: Batch) -> Path:
        """Store a batch atomically (temporary file, then rename) and return its path."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self._sequence += 1
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        target = self.directory / f"batch-{stamp}-{os.getpid()}-{self._sequence:06d}.json"
        document = {
            "version": 1,
            "spooled_at": format_timestamp(datetime.now(UTC)),
            "source": batch.source,
            "on_conflict": batch.on_conflict,
            "records": batch.records,
            "labels": batch.labels,
        }
        descriptor, temporary = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                json.dump(document, handle, separators=(",", ":"))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return target

    def read(self, path: Path) -> Batch:
        """Load a spooled batch; raise ValueError when the file is not one."""
        document = json.loads(path.read_text(encoding="utf-8"))
        records = document["records"]
        labels = document.get("labels") or [{"index": i} for i in range(len(records))]
        if not isinstance(records, list) or len(labels) != len(records):
            raise ValueError("records and labels do not match")
        on_conflict = document.get("on_conflict", "reject")  # files of client 1.0 lack it
        if on_conflict not in ON_CONFLICT:
            raise ValueError(f"on_conflict {on_conflict!r} is not one of {ON_CONFLICT}")
        return Batch(
            str(document["source"]),
            records,
            [{**label, "spool": path.name} for label in labels],
            on_conflict,
        )

    def count_records(self) -> int:
        """Return how many records wait in the whole spool (unreadable files count 0)."""
        total = 0
        for path in self.pending():
            try:
                total += len(json.loads(path.read_text(encoding="utf-8"))["records"])
            except (OSError, ValueError, KeyError, TypeError):
                continue  # gone meanwhile, or set aside as *.corrupt by the next run
        return total

    def set_aside(self, path: Path, suffix: str) -> None:
        """Rename a spooled file so it is kept for inspection but never replayed."""
        try:
            path.replace(path.with_name(path.name + suffix))
        except FileNotFoundError:
            pass

    def remove(self, path: Path) -> None:
        """Delete a delivered spool file (another run may have done it already)."""
        path.unlink(missing_ok=True)


# --------------------------------------------------------------------------- run


class Run:
    """Delivers batches, spools what cannot be delivered and keeps the totals."""

    def __init__(self, sender: Sender, spool: Spool, totals: Totals):
        self.sender = sender
        self.spool = spool
        self.totals = totals
        self.stopped_with: int | None = None  # EXIT_DELIVERY_FAILED or EXIT_TOKEN_REFUSED
        self.spooled_records = 0
        self.batch_number = 0

    def replay_spool(self) -> None:
        """Send the spooled batches of earlier runs, oldest first."""
        pending = self.spool.pending()
        if pending:
            log.info("Replaying %d spooled batch(es) from %s", len(pending), self.spool.directory)
        for path in pending:
            if self.stopped_with is not None:
                return
            try:
                batch = self.spool.read(path)
            except FileNotFoundError:
                continue  # another run delivered it meanwhile
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.error("Spool file %s is unreadable (%s); renamed to *.corrupt", path, exc)
                self.spool.set_aside(path, ".corrupt")
                continue
            self.deliver(batch, spooled=path)

    def deliver(self, batch: Batch, spooled: Path | None = None) -> None:
        """Send one batch, or spool it once delivery has stopped for this run."""
        if self.stopped_with is not None:
            if spooled is None:
                self._spool(batch)
            return
        self.batch_number += 1
        number = self.batch_number
        where = f" from {spooled.name}" if spooled else ""
        started = time.monotonic()
        try:
            result = self.sender.send(batch)
        except TokenRefused as exc:
            log.error("Token refused (HTTP %d %s): %s", exc.status, exc.code, exc.message)
            self.stopped_with = EXIT_TOKEN_REFUSED
            if spooled is None:
                self._spool(batch)
            return
        except DeliveryFailed as exc:
            log.error("Batch %d%s not delivered: %s", number, where, exc)
            self.stopped_with = EXIT_DELIVERY_FAILED
            if spooled is None:
                self._spool(batch)
            return
        except BatchRejected as exc:
            if exc.status == 413 and len(batch.records) > 1:
                log.warning(
                    "Batch %d%s: too large for the server (HTTP 413); splitting it", number, where
                )
                for half in batch.split():
                    self.deliver(half)
                if spooled is not None:
                    self.spool.remove(spooled)
                return
            if exc.status == 404 or 300 <= exc.status < 400:
                raise UsageError(
                    f"POST {self.sender.url} answered HTTP {exc.status} ({exc.message}); "
                    "check CEI_BASE_URL (the address without /api/v1)"
                ) from exc
            log.error(
                "Batch %d%s: rejected as a whole (HTTP %d %s): %s",
                number,
                where,
                exc.status,
                exc.code,
                exc.message,
            )
            for label in batch.labels:
                self.totals.reject(label, exc.code, exc.message)
            if spooled is not None:
                self.spool.set_aside(spooled, ".rejected")
            return
        self._count(batch, result)
        log.info(
            "Batch %d%s: %d records -> ingested %d, updated %d, duplicates %d, failed %d (%.2f s)",
            number,
            where,
            len(batch.records),
            result.get("ingested", 0),
            result.get("updated", 0),
            result.get("skipped_duplicate", 0),
            result.get("failed", 0),
            time.monotonic() - started,
        )
        if spooled is not None:
            self.spool.remove(spooled)

    def _count(self, batch: Batch, result: dict) -> None:
        """Add one batch result to the totals."""
        totals = self.totals
        totals.ingested += int(result.get("ingested") or 0)
        totals.updated += int(result.get("updated") or 0)
        totals.skipped += int(result.get("skipped_duplicate") or 0)
        totals.failed += int(result.get("failed") or 0)
        errors = result.get("errors") or []
        for error in errors:
            index = error.get("index")
            if isinstance(index, int) and 0 <= index < len(batch.labels):
                label = batch.labels[index]
            else:
                label = {"index": index}
            totals.note_rejection(label, error.get("code", "?"), error.get("detail", ""))
        if result.get("errors_truncated"):
            totals.unlisted += max(0, int(result.get("failed") or 0) - len(errors))

    def _spool(self, batch: Batch) -> None:
        """Write a batch to the spool; losing it is logged loudly."""
        try:
            path = self.spool.write(batch)
        except OSError as exc:
            log.critical(
                "Could not spool %d records to %s: %s; THEY ARE NOT SAVED",
                len(batch.records),
                self.spool.directory,
                exc,
            )
            return
        self.spooled_records += len(batch.records)
        log.info("Spooled %d records to %s", len(batch.records), path)

    def exit_code(self) -> int:
        """Return the exit code for the outcome of the run."""
        if self.stopped_with is not None:
            return self.stopped_with
        return EXIT_REJECTED if self.totals.failed else EXIT_OK


# --------------------------------------------------------------------------- CLI


class ArgumentParser(argparse.ArgumentParser):
    """An argument parser whose usage errors exit with 1 (2 means "delivery failed")."""

    def error(self, message: str):
        """Print the usage and exit with EXIT_USAGE."""
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def env_default(name: str, fallback: str) -> str:
    """Return an environment variable, or `fallback` when it is unset or blank."""
    return os.environ.get(name, "").strip() or fallback


def default_spool_dir() -> str:
    """Return the per-user spool directory used when none is configured."""
    if os.name == "nt" and os.environ.get("LOCALAPPDATA"):
        return str(Path(os.environ["LOCALAPPDATA"]) / "CEI" / "factory-client" / "spool")
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return str(Path(state) / "cei-factory-client" / "spool")


def build_parser() -> ArgumentParser:
    """Build the command-line parser."""
    parser = ArgumentParser(
        prog="factory_client.py",
        description=(
            "Send meter readings to CEI's batch ingestion API.\n\n"
            "ramp mode (smoke test): factory_client.py <site_id> <meter_id> <hours_back>\n"
            "  sends synthetic hourly readings (100 + hour of day kWh) for the last N hours,\n"
            "  the current hour included.\n"
            "CSV mode: factory_client.py [--csv PATH] [<site_id> <meter_id>]\n"
            "  sends the rows of --csv PATH or CEI_FACTORY_CSV_PATH; columns timestamp_utc\n"
            "  (or timestamp, ts, time), site_id (site), meter_id (meter), value (kwh), unit,\n"
            "  idempotency_key; <site_id> <meter_id> fill in files without those columns."
        ),
        epilog=HELP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("site_id", nargs="?", help="site (ramp mode; CSV default)")
    parser.add_argument("meter_id", nargs="?", help="meter (ramp mode; CSV default)")
    parser.add_argument("hours_back", nargs="?", type=int, help="ramp mode: hours to send")
    parser.add_argument("--csv", metavar="PATH", help="CSV file to send (CSV mode)")
    parser.add_argument(
        "--since-hours",
        type=float,
        metavar="N",
        help="CSV mode: send only rows from the last N hours",
    )
    parser.add_argument(
        "--timezone",
        default="UTC",
        metavar="ZONE",
        help="CSV mode: IANA zone of timestamps without offset, e.g. Europe/Rome (default UTC)",
    )
    parser.add_argument(
        "--encoding", default="utf-8-sig", help="CSV mode: file encoding (default utf-8)"
    )
    parser.add_argument(
        "--on-conflict",
        choices=ON_CONFLICT,
        default=env_default("CEI_CLIENT_ON_CONFLICT", "reject"),
        help=(
            "when CEI already holds another value for a meter and time: reject the new one "
            "(CONFLICTING_VALUE, the default) or update, i.e. replace the stored value"
        ),
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help=(
            "apply every local check of a real run, print what would be sent and how many "
            "rows would be rejected; send nothing"
        ),
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=float(env_default("CEI_CLIENT_TIMEOUT", "30")),
        metavar="SECONDS",
        help="HTTP timeout per request (default 30)",
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=int(env_default("CEI_CLIENT_RETRIES", "5")),
        metavar="N",
        help="retries per batch after the first attempt (default 5)",
    )
    parser.add_argument(
        "--backoff",
        type=float,
        default=float(env_default("CEI_CLIENT_BACKOFF", "2")),
        metavar="SECONDS",
        help="first retry delay, doubled each retry, with jitter (default 2)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=int(env_default("CEI_CLIENT_BATCH_SIZE", "5000")),
        metavar="N",
        help="records per request (default 5000)",
    )
    parser.add_argument(
        "--spool-dir",
        default=env_default("CEI_CLIENT_SPOOL_DIR", default_spool_dir()),
        metavar="DIR",
        help=f"where undelivered batches wait (default {default_spool_dir()})",
    )
    parser.add_argument(
        "--log-file",
        default=env_default("CEI_CLIENT_LOG_FILE", ""),
        metavar="PATH",
        help="also append the log and the results to this file",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line; bad tuning values in the environment are usage errors."""
    try:
        args = build_parser().parse_args(argv)
    except ValueError as exc:  # a CEI_CLIENT_* default that is not a number
        raise UsageError(f"bad CEI_CLIENT_* environment value: {exc}") from exc
    if args.on_conflict not in ON_CONFLICT:  # argparse leaves defaults from the environment
        raise UsageError(
            f"CEI_CLIENT_ON_CONFLICT must be reject or update (got {args.on_conflict!r})"
        )
    return args


def read_settings() -> tuple[str, str]:
    """Return (base_url, token) from the environment, checked."""
    base_url = os.environ.get("CEI_BASE_URL", "").strip().rstrip("/")
    token = os.environ.get("CEI_INT_TOKEN", "").strip()
    if not base_url:
        raise UsageError("CEI_BASE_URL is not set (e.g. https://cei.example.com)")
    if not token:
        raise UsageError(
            "CEI_INT_TOKEN is not set (create one under Settings -> Integration tokens)"
        )
    check_token(token)
    if not re.match(r"^https?://[^/\s]+", base_url):
        raise UsageError(f"CEI_BASE_URL must start with https:// or http:// (got {base_url!r})")
    if base_url.endswith("/api/v1"):
        log.warning("CEI_BASE_URL should not end with /api/v1; using it without")
        base_url = base_url[: -len("/api/v1")]
    host = re.sub(r"^https?://", "", base_url).split("/")[0].split(":")[0]
    if base_url.startswith("http://") and host not in ("localhost", "127.0.0.1", "::1"):
        log.warning("CEI_BASE_URL uses http://: the token travels unencrypted")
    return base_url, token


def check_token(token: str) -> None:
    """Raise UsageError unless the token looks like an integration token."""
    if not token.startswith(TOKEN_PREFIX) or len(token) <= len(TOKEN_PREFIX):
        raise UsageError(
            "CEI_INT_TOKEN must be an integration token starting with cei_int_ "
            "(a user access token or the token's display prefix will not work)"
        )


def load_zone(name: str) -> tzinfo:
    """Return the time zone for --timezone."""
    if name.upper() in ("UTC", "Z", "ETC/UTC"):
        return UTC
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name)
    except Exception as exc:  # ZoneInfoNotFoundError, ValueError for odd names
        raise UsageError(
            f"unknown --timezone {name!r} (an IANA name like Europe/Rome; on Windows "
            "`pip install tzdata` provides them)"
        ) from exc


def check_tuning(args: argparse.Namespace) -> None:
    """Raise UsageError for tuning values that make no sense."""
    if args.timeout <= 0:
        raise UsageError("--timeout must be positive")
    if args.retries < 0:
        raise UsageError("--retries must be 0 or more")
    if args.backoff < 0:
        raise UsageError("--backoff must be 0 or more")
    if args.batch_size < 1:
        raise UsageError("--batch-size must be at least 1")


def plan_batches(args: argparse.Namespace, totals: Totals) -> tuple[str, Iterable[Batch]]:
    """Pick the mode from the arguments; return a description and the batches to send."""
    if args.hours_back is not None:
        if args.csv or args.since_hours is not None:
            raise UsageError("<hours_back> is ramp mode; --csv and --since-hours are CSV mode")
        if args.hours_back < 1:
            raise UsageError("<hours_back> must be at least 1")
        if os.environ.get("CEI_FACTORY_CSV_PATH"):
            log.info("Ramp mode: CEI_FACTORY_CSV_PATH is ignored")
        description = (
            f"ramp mode, {args.hours_back} hourly readings for {args.site_id}/{args.meter_id}"
        )
        return description, ramp_batches(
            args.site_id, args.meter_id, args.hours_back, args.batch_size, args.on_conflict
        )
    csv_path = args.csv or os.environ.get("CEI_FACTORY_CSV_PATH", "").strip()
    if not csv_path:
        raise UsageError(
            "nothing to send: give <site_id> <meter_id> <hours_back> (ramp mode), "
            "or --csv PATH / CEI_FACTORY_CSV_PATH (CSV mode)"
        )
    if args.meter_id is None and args.site_id is not None:
        raise UsageError("CSV mode takes both <site_id> and <meter_id>, or neither")
    since = None
    if args.since_hours is not None:
        if args.since_hours <= 0:
            raise UsageError("--since-hours must be positive")
        since = datetime.now(UTC) - timedelta(hours=args.since_hours)
    source = CsvSource(
        Path(csv_path).expanduser(),
        args.site_id,
        args.meter_id,
        load_zone(args.timezone),
        since,
        args.encoding,
        args.on_conflict,
    )
    source.check_header()
    return f"CSV mode, {source.path} as {source.source_name}", source.batches(
        args.batch_size, totals
    )


def configure_logging() -> None:
    """Log to stderr with UTC timestamps."""
    for stream in (sys.stdout, sys.stderr):
        # A Windows console or log file in a legacy code page must not crash the run.
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    log.handlers.clear()
    handler = logging.StreamHandler(sys.stderr)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%SZ")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def add_log_file(path: str) -> None:
    """Also append the log to `path` (for schedulers that keep no output)."""
    target = Path(path).expanduser()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(target, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot open --log-file {target}: {exc}") from exc
    handler.setFormatter(log.handlers[0].formatter)
    log.addHandler(handler)


def emit(lines: list[str]) -> None:
    """Print result lines on stdout and copy them to the log file, if any."""
    for line in lines:
        print(line)
    for handler in log.handlers:
        if isinstance(handler, logging.FileHandler):
            handler.stream.write("".join(line + "\n" for line in lines))
            handler.flush()


def result_lines(totals: Totals) -> list[str]:
    """Return the summary line followed by one line per rejected record."""
    return [totals.summary(), *totals.rejection_lines()]


def dry_run(
    description: str, batches: Iterable[Batch], totals: Totals, url: str, spool: Spool
) -> int:
    """Print what would be sent, send nothing, and return the exit code.

    The batches went through every local check of a real run; only what CEI alone can
    know (unknown sites, values already stored, keys already used) is not checked.
    """
    count = 0
    lines = []
    for number, batch in enumerate(batches, start=1):
        count += len(batch.records)
        lines.append(f"Batch {number}: {len(batch.records)} records, source {batch.source}")
        lines.append(f"  first {describe(batch.labels[0])}: {json.dumps(batch.records[0])}")
        if len(batch.records) > 1:
            lines.append(f"  last {describe(batch.labels[-1])}: {json.dumps(batch.records[-1])}")
    header = (
        f"Dry run ({description}): {count} records would be sent to {url}; "
        f"{totals.failed} rows would be rejected by local checks"
    )
    waiting = spool.count_records()
    if waiting:
        header += f"; {waiting} spooled records would be sent first"
    emit([header, *lines, *totals.rejection_lines()])
    return EXIT_REJECTED if totals.failed else EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Run the client and return its exit code."""
    configure_logging()
    totals = Totals()
    try:
        args = parse_arguments(argv)
        if args.log_file:
            add_log_file(args.log_file)
        check_tuning(args)
        if args.dry_run:
            if os.environ.get("CEI_INT_TOKEN", "").strip():
                check_token(os.environ["CEI_INT_TOKEN"].strip())
            base_url = os.environ.get("CEI_BASE_URL", "").strip().rstrip("/") or "$CEI_BASE_URL"
        else:
            base_url, token = read_settings()
        description, batches = plan_batches(args, totals)
        totals.show_updated = args.on_conflict == "update"
        spool = Spool(Path(args.spool_dir).expanduser())
        if args.dry_run:
            return dry_run(description, batches, totals, base_url + BATCH_PATH, spool)
    except UsageError as exc:
        log.error("%s", exc)
        return EXIT_USAGE

    log.info("Starting (%s) -> %s", description, base_url)
    sender = Sender(base_url, token, args.timeout, args.retries, args.backoff)
    run = Run(sender, spool, totals)
    code = None
    try:
        run.replay_spool()
        for batch in batches:
            run.deliver(batch)
    except UsageError as exc:
        log.error("%s", exc)
        code = EXIT_USAGE
    finally:
        sender.close()
    totals.spooled = run.spool.count_records()
    if totals.spooled:
        log.warning(
            "%d records wait in the spool %s (%d spooled by this run); they are sent first "
            "on the next run%s",
            totals.spooled,
            run.spool.directory,
            run.spooled_records,
            " once CEI_INT_TOKEN holds a valid token"
            if run.stopped_with == EXIT_TOKEN_REFUSED
            else "",
        )
    if totals.conflicts and args.on_conflict == "reject":
        log.warning(
            "%d records give another value than CEI holds for their meter and time; to "
            "replace the stored values, send them again with --on-conflict update "
            "(or CEI_CLIENT_ON_CONFLICT=update)",
            totals.conflicts,
        )
    emit(result_lines(totals))
    return code if code is not None else run.exit_code()


if __name__ == "__main__":
    sys.exit(main())
