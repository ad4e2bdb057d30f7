"""Reading uploaded CSV files of readings: header aliases, delimiter, chunks of records.

The file is decoded and parsed as a stream and handed on in chunks, so a file of any size
costs the memory of one chunk. Problems with the file itself (no usable header, not
valid CSV) raise ``ServiceError("INVALID_CSV")``; problems with a row are the
usual per-record errors.
"""

import csv
import io
from itertools import chain

from cei.services.errors import ServiceError

CHUNK_ROWS = 5000
# Normalised header (lower case, blanks as "_") -> record field.
HEADER_ALIASES = {
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
DELIMITERS = (",", ";", "\t")


def invalid_csv(message, **detail):
    """Return the error for a file that cannot be read as CSV of readings."""
    return ServiceError(message, code="INVALID_CSV", status=422, detail=detail or None)


def _shown(header):
    """The header as an error may echo it: short, and valid UTF-8 whatever the file was."""
    return [title[:100].encode("utf-8", "replace").decode("utf-8") for title in header[:50]]


def _field_names(header, defaults):
    names = []
    seen = {}
    for position, title in enumerate(header):
        normalised = "_".join(title.strip().lower().split())
        field = HEADER_ALIASES.get(normalised)
        if field is None:
            names.append(f"_ignored_{position}")
            continue
        if field in seen:
            raise invalid_csv(
                f"Columns {seen[field]!r} and {title!r} both give {field}",
                header=_shown(header),
            )
        seen[field] = title
        names.append(field)
    needed = ["timestamp_utc", "value"] + [
        field for field in ("site_id", "meter_id") if not defaults.get(field)
    ]
    missing = [field for field in needed if field not in seen]
    if missing:
        raise invalid_csv(
            "The header lacks " + ", ".join(missing) + " (site_id and meter_id may instead "
            "be given as form fields)",
            missing=missing,
            header=_shown(header),
        )
    return names


def _filled(records, defaults):
    """Give records the form's defaults where their cell is empty or missing."""
    for name, value in defaults.items():
        for record in records:
            if not record.get(name):
                record[name] = value
    return records


def _delimiter(line):
    counts = [line.count(delimiter) for delimiter in DELIMITERS]
    return DELIMITERS[counts.index(max(counts))]


def read_chunks(stream, defaults, chunk_rows=None):
    """Yield ``(records, first_index, row_numbers)`` for the CSV in the binary ``stream``.

    ``records`` are dicts with the canonical field names (empty cells are ""), with
    ``defaults`` (form fields: site_id, meter_id, unit) filling what a row lacks;
    ``row_numbers`` are the file's line numbers of those records (the header is row 1).
    Blank lines are skipped and neither counted nor numbered as records.
    """
    chunk_rows = chunk_rows or CHUNK_ROWS
    defaults = {name: value for name, value in defaults.items() if value}
    # Bytes that are not UTF-8 become lone surrogates, which every field check refuses:
    # the row with them fails with its row number instead of the whole file failing.
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
    reader = None
    try:
        first = text.readline()
        if not first.strip():
            raise invalid_csv("The file is empty or its first line is blank; expected a header")
        reader = csv.reader(
            chain([first], text), delimiter=_delimiter(first), skipinitialspace=True
        )
        names = _field_names(next(reader), defaults)
        index = 0
        records, lines = [], []
        for row in reader:
            if not any(row):
                continue
            # Empty cells stay "" (the checks read them as absent); a short row lacks
            # the cells it does not have.
            records.append(dict(zip(names, row)))  # noqa: B905 - short rows lack cells
            lines.append(reader.line_num)
            if len(records) >= chunk_rows:
                yield _filled(records, defaults), index, lines
                index += len(records)
                records, lines = [], []
        if records:
            yield _filled(records, defaults), index, lines
    except csv.Error as exc:
        line = reader.line_num if reader else 1
        raise invalid_csv("The file is not valid CSV", line=line, reason=str(exc)[:200]) from exc
    finally:
        # Leave the upload's own stream open: the request closes it.
        text.detach()
