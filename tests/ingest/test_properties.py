"""Properties of the batch parser and the CSV reader, on random input (Hypothesis).

Directly, without a database: whatever bytes arrive, the CSV reader yields chunks of
records or refuses the file with ``INVALID_CSV``, and gives back exactly the cells of a
well-formed file, with the right row numbers, however it is split into chunks; the batch
decoder and the per-record checks take any JSON without raising, and account for every
record once (checked, or one error with a documented code). Through the API: whatever a
random well-formed batch or CSV file holds is stored exactly once, with the values sent,
and sending it again stores nothing more.
"""

import csv
import io
import json
import math

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cei.services.errors import ServiceError
from cei.services.ingest.checks import RecordChecker
from cei.services.ingest.codes import ErrorCode
from cei.services.ingest.columns import check_columns, decode_batch
from cei.services.ingest.csv_files import HEADER_ALIASES, read_chunks
from tests.ingest.conftest import hour_start, iso

FIELDS = sorted(set(HEADER_ALIASES.values()))
ALIASES = {field: [a for a, f in HEADER_ALIASES.items() if f == field] for field in FIELDS}
NOW = 1_718_000_000  # 2024-06-10T06:13:20Z, for the direct checks
FAST = settings(max_examples=150, deadline=None)

# Cell text as a spreadsheet may write it: any printable text, delimiters and quotes
# included, but no line breaks (row numbers are line numbers) and no leading space (the
# reader skips spaces after a delimiter, as in "a, b").
cells = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")),
    max_size=12,
).filter(lambda cell: not cell.startswith(" "))


def written(header, rows, delimiter, line_end, bom):
    """The CSV bytes of ``header`` and ``rows`` as a spreadsheet would save them."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=line_end)
    writer.writerow(header)
    writer.writerows(rows)
    return (("\ufeff" if bom else "") + out.getvalue()).encode("utf-8")


def read_all(data, defaults=None, chunk_rows=None):
    """Every chunk the reader yields for ``data``."""
    return list(read_chunks(io.BytesIO(data), defaults or {}, chunk_rows=chunk_rows))


@st.composite
def csv_files(draw, needed=("timestamp_utc", "value", "site_id", "meter_id")):
    """A well-formed file: a header of aliases (any case, spaced) and rows of cells.

    The header has the ``needed`` fields and some others.
    """
    fields = list(needed) + draw(st.lists(st.sampled_from(FIELDS), unique=True, max_size=4))
    fields = list(dict.fromkeys(fields))
    draw(st.randoms()).shuffle(fields)
    header = []
    for field in fields:
        alias = draw(st.sampled_from(ALIASES[field]))
        alias = alias.replace("_", draw(st.sampled_from(("_", " "))))
        header.append(draw(st.sampled_from((alias, alias.upper(), alias.title()))))
    # A row with no cell filled is a blank line, which the reader skips: the timestamp
    # cell is never empty.
    row = st.fixed_dictionaries(
        {field: cells.filter(bool) if field == "timestamp_utc" else cells for field in fields}
    )
    rows = draw(st.lists(row, max_size=30))
    return fields, header, rows


@FAST
@given(
    file=csv_files(),
    delimiter=st.sampled_from((",", ";", "\t")),
    line_end=st.sampled_from(("\n", "\r\n")),
    bom=st.booleans(),
    chunk_rows=st.integers(1, 7),
)
def test_the_csv_reader_gives_back_every_cell_in_order(file, delimiter, line_end, bom, chunk_rows):
    fields, header, rows = file
    data = written(header, [[row[f] for f in fields] for row in rows], delimiter, line_end, bom)
    chunks = read_all(data, chunk_rows=chunk_rows)
    records = [record for chunk, _, _ in chunks for record in chunk]
    assert records == rows
    assert [len(chunk) for chunk, _, _ in chunks] == [chunk_rows] * (len(rows) // chunk_rows) + (
        [len(rows) % chunk_rows] if len(rows) % chunk_rows else []
    )
    assert [first for _, first, _ in chunks] == list(range(0, len(rows), chunk_rows))
    numbers = [number for _, _, lines in chunks for number in lines]
    assert numbers == list(range(2, len(rows) + 2))  # the header is row 1


@FAST
@given(
    file=csv_files(needed=("timestamp_utc", "value")),
    site=st.sampled_from(("", "form-site")),
    meter=st.sampled_from(("", "form-meter")),
    unit=st.sampled_from(("", "Wh")),
)
def test_form_fields_fill_exactly_the_empty_cells(file, site, meter, unit):
    fields, header, rows = file
    defaults = {"site_id": site, "meter_id": meter, "unit": unit}
    data = written(header, [[row[f] for f in fields] for row in rows], ",", "\n", False)
    try:
        chunks = read_all(data, defaults)
    except ServiceError as refused:
        # Only a file that lacks a site or meter column the form does not give.
        assert refused.code == "INVALID_CSV"
        lacking = set(refused.detail["missing"])
        assert lacking and lacking <= {"site_id", "meter_id"} - {
            name for name, value in defaults.items() if value
        }
        return
    records = [record for chunk, _, _ in chunks for record in chunk]
    for sent, record in zip(rows, records, strict=True):
        for name, default in defaults.items():
            expected = sent.get(name) or default
            assert record.get(name, "") == expected
        for name in set(sent) - set(defaults):
            assert record[name] == sent[name]


def csv_like_bytes():
    """Bytes that look like CSV more often than not, and plain noise."""
    pieces = list('ts,;\t"\r\n value\x00é時') + ["timestamp", "kwh", '"a""b"']
    text = st.lists(st.sampled_from(pieces), max_size=40).map("".join)
    return st.one_of(
        st.binary(max_size=200),
        text.map(lambda t: t.encode("utf-8")),
        text.map(lambda t: ("timestamp,value,site,meter\n" + t).encode("utf-8")),
        st.tuples(text, st.binary(max_size=20)).map(
            lambda parts: ("ts;kwh;site;meter\r\n" + parts[0]).encode("utf-8") + parts[1]
        ),
    )


@settings(max_examples=300, deadline=None)
@given(data=csv_like_bytes(), chunk_rows=st.integers(1, 5))
def test_any_bytes_are_read_or_refused_as_invalid_csv(data, chunk_rows):
    try:
        chunks = read_all(data, {"site_id": "s"}, chunk_rows=chunk_rows)
    except ServiceError as refused:
        assert refused.code == "INVALID_CSV" and refused.status == 422
        orjson.dumps(refused.detail)  # echoed in the answer: JSON-safe whatever the bytes
        return
    seen = 0
    last_row = 1
    for records, first_index, lines in chunks:
        assert first_index == seen and 0 < len(records) <= chunk_rows
        assert len(lines) == len(records) and lines == sorted(lines) and lines[0] > last_row
        names = {name for record in records for name in record}
        assert all(name in FIELDS or name.startswith("_ignored_") for name in names)
        seen += len(records)
        last_row = lines[-1]


# JSON values of every kind, for records and whole bodies.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
record_like = st.dictionaries(
    st.sampled_from(FIELDS + ["note"]),
    json_values
    | st.sampled_from(("site-1", "main", "kWh", "Wh", "kW", 60, 15, "2024-06-10T05:00:00Z")),
    max_size=8,
)
DOCUMENTED = {code.value for code in ErrorCode}


@settings(max_examples=300, deadline=None)
@given(records=st.lists(record_like | json_values, max_size=12), first_index=st.integers(0, 50))
def test_every_record_is_checked_or_refused_once_with_a_documented_code(records, first_index):
    failures = []
    checked = RecordChecker(NOW).check(
        records, first_index, lambda index, code, detail: failures.append((index, code, detail))
    )
    indices = sorted([row.index for row in checked] + [index for index, _, _ in failures])
    assert indices == list(range(first_index, first_index + len(records)))
    assert {code for _, code, _ in failures} <= DOCUMENTED
    assert all(isinstance(detail, str) and detail for _, _, detail in failures)
    for row in checked:
        assert math.isfinite(row.amount) and row.amount >= 0
        assert NOW - 3653 * 86400 <= row.ts <= NOW + 300


@settings(max_examples=300, deadline=None)
@given(
    body=st.one_of(
        st.binary(max_size=120),
        json_values.map(lambda value: json.dumps(value).encode()),
        st.lists(record_like, max_size=6).map(lambda rs: json.dumps({"records": rs}).encode()),
    )
)
def test_the_batch_decoder_takes_any_bytes_and_vouches_only_for_what_the_checks_accept(body):
    batch = decode_batch(body)
    if batch is None:
        return
    fast = check_columns(RecordChecker(NOW), batch.records)
    if fast is None:
        return
    failures = []
    slow = RecordChecker(NOW).check(orjson.loads(body)["records"], 0, lambda *f: failures.append(f))
    assert failures == [] and fast.records() == slow


# Through the API: well-formed readings are stored exactly once.
SITES = ("site-1", "Stabilimento-Città", "工場 2")
METERS = ("main", "Zähler-3")
UNITS = {"kWh": 1.0, "Wh": 0.001, "MWh": 1000.0}


@st.composite
def readings(draw):
    """Distinct well-formed readings: ``{(site, meter, hours_ago): (value, unit)}``."""
    keys = draw(
        st.lists(
            st.tuples(st.sampled_from(SITES), st.sampled_from(METERS), st.integers(1, 24 * 40)),
            unique=True,
            min_size=1,
            max_size=40,
        )
    )
    values = st.one_of(
        st.integers(0, 10**6).map(float),
        st.floats(0, 1e5, allow_nan=False, allow_infinity=False),
    )
    return {key: (draw(values), draw(st.sampled_from(tuple(UNITS)))) for key in keys}


def expected_rows(sent):
    """The rows ``sent`` must leave: kWh per (site, meter, epoch seconds)."""
    return {
        (site, meter, int(hour_start(hours).timestamp())): value * UNITS[unit] + 0.0
        for (site, meter, hours), (value, unit) in sent.items()
    }


API = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def clean_ingest(ingest):
    """The :class:`Ingest` helper, with a way to empty its readings between examples."""
    from sqlalchemy import delete, select

    from cei.extensions import db
    from cei.models import Meter, Site, ingest_keys, readings

    def empty():
        with ingest.app.app_context():
            sites = select(Site.id).where(Site.organization_id == ingest.organization_id)
            meters = select(Meter.id).where(Meter.site_pk.in_(sites))
            db.session.execute(delete(readings).where(readings.c.meter_pk.in_(meters)))
            db.session.execute(
                delete(ingest_keys).where(ingest_keys.c.organization_id == ingest.organization_id)
            )
            db.session.commit()

    ingest.empty = empty
    return ingest


@API
@given(sent=readings(), keyed=st.booleans(), repeat=st.integers(1, 3))
def test_a_well_formed_batch_is_stored_exactly_once(clean_ingest, sent, keyed, repeat):
    clean_ingest.empty()
    records = [
        {
            "site_id": site,
            "meter_id": meter,
            "timestamp_utc": iso(hour_start(hours)),
            "value": value,
            "unit": unit,
            **({"idempotency_key": f"{site}/{meter}/{hours}"} if keyed else {}),
        }
        for (site, meter, hours), (value, unit) in sent.items()
    ]
    # Repeats inside the batch are duplicates of the first, never new rows.
    body = clean_ingest.send(records * repeat)
    assert body["failed"] == 0, body["errors"][:3]
    assert body["ingested"] == len(sent)
    assert body["skipped_duplicate"] == len(sent) * (repeat - 1)
    assert clean_ingest.stored() == pytest.approx(expected_rows(sent))
    again = clean_ingest.send(records)
    assert (again["ingested"], again["skipped_duplicate"]) == (0, len(sent))
    assert len(clean_ingest.stored()) == len(sent)


@API
@given(sent=readings(), delimiter=st.sampled_from((",", ";", "\t")), keyed=st.booleans())
def test_a_well_formed_csv_file_is_stored_exactly_once(clean_ingest, sent, delimiter, keyed):
    clean_ingest.empty()
    header = ["timestamp_utc", "site_id", "meter_id", "value", "unit"]
    header += ["idempotency_key"] if keyed else []
    rows = [
        [iso(hour_start(hours)), site, meter, repr(value), unit]
        + ([f"{site}/{meter}/{hours}"] if keyed else [])
        for (site, meter, hours), (value, unit) in sent.items()
    ]
    data = written(header, rows, delimiter, "\r\n", False)
    body = clean_ingest.upload(data)
    assert (body["rows"], body["ingested"], body["failed"]) == (len(sent), len(sent), 0)
    assert clean_ingest.stored() == pytest.approx(expected_rows(sent))
    again = clean_ingest.upload(data)
    assert (again["ingested"], again["skipped_duplicate"]) == (0, len(sent))
