"""The README's unit list and error-code table, and the factory client's lists, follow the
server's one unit table and one enum of record error codes."""

import re
import sys
from pathlib import Path

import pytest

from cei.services.ingest.codes import ErrorCode
from cei.services.ingest.csv_files import HEADER_ALIASES
from cei.services.ingest.units import UNIT_NAMES

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def readme_section(title):
    """The README text from the heading ``title`` to the next heading."""
    start = README.index(f"### {title}\n")
    following = re.search(r"\n#{2,3} ", README[start + 4 :])
    return README[start : start + 4 + following.start()] if following else README[start:]


def test_readme_code_table_is_the_enum():
    section = readme_section("Units and record error codes")
    rows = re.findall(r"^\| `([A-Z_]+)` \| (.+) \|$", section, re.MULTILINE)
    assert rows == [(code.value, code.meaning) for code in ErrorCode]


def test_readme_unit_list_is_the_unit_table():
    section = readme_section("Units and record error codes")
    line = next(line for line in section.splitlines() if line.startswith("Units"))
    assert tuple(re.findall(r"`([^`]+)`", line)) == UNIT_NAMES


@pytest.fixture
def factory_client(monkeypatch):
    """The factory client module (it stands alone; imported from its folder)."""
    monkeypatch.syspath_prepend(str(ROOT / "client"))
    import factory_client

    yield factory_client
    sys.modules.pop("factory_client", None)


def test_client_knows_the_units(factory_client):
    assert factory_client.KNOWN_UNITS == {name.lower() for name in UNIT_NAMES}


def test_client_knows_the_error_codes(factory_client):
    assert {code.value for code in ErrorCode} <= set(factory_client.ERROR_CODES)


def test_client_reads_the_csv_headers_the_upload_reads(factory_client):
    # The client stands alone (it never imports cei), so the alias table is written twice;
    # this keeps the two copies equal.
    assert factory_client.COLUMN_ALIASES == HEADER_ALIASES
