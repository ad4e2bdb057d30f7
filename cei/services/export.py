"""CSV export of readings, streamed in chunks so a million rows never sit in memory.

One query ordered by ``(ts, meter_pk)`` is read through a server-side cursor on PostgreSQL (a
plain cursor on SQLite already steps lazily) and turned into CSV text a chunk at a time. The
database does the ordering within its own memory limits (PostgreSQL spills a large sort to
disk), and a single meter's export needs no sort at all: it walks the primary key.
"""

import re
from dataclasses import dataclass

from sqlalchemy import select

from cei.models import readings
from cei.services.readings import in_window
from cei.services.windows import UtcStamps, Window

HEADER = "timestamp_utc,site_id,meter_id,value\r\n"
# Rows per fetch and per chunk written to the socket: large enough that per-chunk costs vanish,
# small enough (about 1 MB of CSV) to keep memory flat.
CHUNK_ROWS = 20_000
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
NEEDS_QUOTES = re.compile(r'[",\r\n]')


def csv_text(value):
    """Return ``value`` as a CSV cell that a spreadsheet shows as text, never runs."""
    if value.startswith(FORMULA_STARTS):
        value = "'" + value
    if NEEDS_QUOTES.search(value):
        value = '"' + value.replace('"', '""') + '"'
    return value


@dataclass(frozen=True)
class ExportPlan:
    """Everything the stream needs, as plain values: it runs after the request's session."""

    site_id: str
    # meter primary key -> external meter_id
    meters: dict
    window: Window

    @property
    def filename(self):
        """An ASCII file name naming the site and the window."""
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", self.site_id).strip("._")[:60] or "site"
        day = self.window.from_timestamp[:10]
        return f"cei-{slug}-{day}.csv"


def plan_export(scope, window):
    """Return the plan for exporting every reading of ``scope``'s meters in ``window``."""
    return ExportPlan(
        site_id=scope.site.site_id,
        meters={meter.id: meter.meter_id for meter in scope.meters},
        window=window,
    )


def _format_rows(rows, prefixes, stamp):
    lines = []
    append = lines.append
    last_ts = text = None
    for ts, meter_pk, value in rows:
        # Rows come ordered by time, so meters sharing a timestamp share its text.
        if ts != last_ts:
            last_ts = ts
            text = stamp(ts)
        append(f"{text}{prefixes[meter_pk]}{value!r}\r\n")
    return "".join(lines).encode()


def export_chunks(engine, plan, chunk_rows=None):
    """Yield the CSV (header first) as byte chunks of ``chunk_rows`` rows (``CHUNK_ROWS``)."""
    chunk_rows = chunk_rows or CHUNK_ROWS
    yield HEADER.encode()
    if not plan.meters:
        return
    site_cell = csv_text(plan.site_id)
    prefixes = {pk: f",{site_cell},{csv_text(meter_id)}," for pk, meter_id in plan.meters.items()}
    query = (
        select(readings.c.ts, readings.c.meter_pk, readings.c.value)
        .where(*in_window(list(plan.meters), plan.window))
        .order_by(readings.c.ts, readings.c.meter_pk)
    )
    stamp = UtcStamps()
    # Its own connection, not the request session's: the stream outlives the view.
    with engine.connect() as connection:
        result = connection.execution_options(stream_results=True, yield_per=chunk_rows).execute(
            query
        )
        for rows in result.partitions():
            yield _format_rows(rows, prefixes, stamp)
