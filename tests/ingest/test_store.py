"""The SQLite bulk store on its own: lookup, insert, and rows that appear in between."""

import pytest
from sqlalchemy import create_engine

from cei.services.ingest.store import ChangedRow, Row
from cei.services.ingest.store_sqlite import SqliteStore


@pytest.fixture
def connection():
    """A connection to a private in-memory SQLite database holding a bare readings table."""
    engine = create_engine("sqlite://")
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE readings (meter_pk INTEGER NOT NULL, ts BIGINT NOT NULL, "
            "value FLOAT NOT NULL, PRIMARY KEY (meter_pk, ts)) WITHOUT ROWID"
        )
        connection.exec_driver_sql("INSERT INTO readings VALUES (1, 100, 1.0), (1, 200, 2.0)")
        yield connection
    engine.dispose()


def stored(connection):
    return dict(
        ((meter_pk, ts), value)
        for meter_pk, ts, value in connection.exec_driver_sql("SELECT * FROM readings")
    )


SENT = [Row(1, 100, 1.0), Row(1, 200, 9.0), Row(1, 300, 3.0), Row(2, 100, 5.0)]


def summary(outcome):
    """``(inserted, replaced, differing)`` of a write, as plain tuples and dicts."""
    return (
        sorted(map(tuple, outcome.inserted)),
        sorted(map(tuple, outcome.replaced)),
        {slot: tuple(difference) for slot, difference in outcome.differing.items()},
    )


@pytest.mark.parametrize("shortcuts", [True, False])
def test_new_duplicate_and_differing_rows(connection, shortcuts):
    outcome = SqliteStore(connection, shortcuts).write_readings(SENT)
    assert summary(outcome) == ([(1, 300, 3.0), (2, 100, 5.0)], [], {(1, 200): (2.0, 9.0)})
    assert stored(connection)[1, 200] == 2.0


@pytest.mark.parametrize("shortcuts", [True, False])
def test_replace_overwrites_only_differing_rows_and_returns_old_values(connection, shortcuts):
    outcome = SqliteStore(connection, shortcuts).write_readings(SENT, replace=True)
    assert summary(outcome) == (
        [(1, 300, 3.0), (2, 100, 5.0)],
        [ChangedRow(1, 200, 9.0, 2.0)],
        {},
    )
    assert stored(connection) == {(1, 100): 1.0, (1, 200): 9.0, (1, 300): 3.0, (2, 100): 5.0}


def test_rows_appearing_under_the_write_lock_are_an_error(connection, monkeypatch):
    # The ingestion holds SQLite's write lock from its first lookup: a row found absent
    # and then present would break that promise, and must not pass silently.
    monkeypatch.setattr(SqliteStore, "_compare", lambda self, rows: (list(rows), {}))
    with pytest.raises(RuntimeError):
        SqliteStore(connection).write_readings(SENT)


def test_a_batch_spread_thinly_over_a_long_history(connection):
    connection.exec_driver_sql(
        "INSERT INTO readings VALUES " + ",".join(f"(3, {ts}, 1.0)" for ts in range(0, 5000))
    )
    # Two timestamps 4,000 s apart: the range holds far more rows than the batch.
    outcome = SqliteStore(connection).write_readings(
        [Row(3, 10, 1.0), Row(3, 4010, 7.0), Row(3, 9999, 1.0)]
    )
    assert summary(outcome) == ([(3, 9999, 1.0)], [], {(3, 4010): (1.0, 7.0)})


@pytest.mark.parametrize("shortcuts", [True, False])
@pytest.mark.parametrize("order", ["ascending", "descending", "shuffled"])
def test_replays_in_any_order_are_duplicates_and_one_changed_value_is_found(
    connection, order, shortcuts
):
    store = SqliteStore(connection, shortcuts)
    rows = [Row(4, ts, ts / 10) for ts in range(1000, 1600, 10)]
    assert summary(store.write_readings(rows)) == (sorted(rows), [], {})
    sent = {"ascending": rows, "descending": rows[::-1], "shuffled": rows[1::2] + rows[::2]}
    replay = sent[order]
    assert summary(store.write_readings(replay)) == ([], [], {})
    changed = [Row(4, ts, value + 1 if ts == 1250 else value) for _, ts, value in replay]
    assert summary(store.write_readings(changed)) == ([], [], {(4, 1250): (125.0, 126.0)})


def test_inserts_respect_a_low_parameter_limit(connection):
    import sqlite3

    driver = connection.connection.driver_connection
    driver.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)  # as SQLite before 3.32
    rows = [Row(5, ts, 1.0) for ts in range(2000)]
    assert len(SqliteStore(connection).write_readings(rows).inserted) == 2000
    assert sum(1 for (meter_pk, _) in stored(connection) if meter_pk == 5) == 2000
    connection.exec_driver_sql(
        "CREATE TABLE ingest_keys (organization_id INTEGER NOT NULL, key TEXT NOT NULL, "
        "meter_pk INTEGER NOT NULL, ts BIGINT NOT NULL, value FLOAT NOT NULL, "
        "PRIMARY KEY (organization_id, key)) WITHOUT ROWID"
    )
    keys = [(f"k-{ts}", 5, ts, 1.0) for ts in range(2000)]
    assert SqliteStore(connection).insert_keys(7, keys) == 2000
