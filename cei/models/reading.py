"""Readings and the idempotency keys they were sent with.

Readings are the hot table: one row per (meter, interval start), value in kWh, keyed by
``(meter_pk, ts)`` with no surrogate id (cheaper inserts, no sequence burnt per duplicate).
``ts`` is the interval start as whole seconds since the Unix epoch, UTC.

Neither table has foreign keys: PostgreSQL checks one row by row (a lock on the meter per
inserted reading), which halved bulk inserts. Integrity is kept by the code instead:
ingestion locks the batch's meters once (``FOR KEY SHARE``), and deleting a site deletes its
meters' readings and keys in the same transaction (``cei.services.sites.delete_site``).
"""

from sqlalchemy import BigInteger, Column, Float, Integer, String, Table

from cei.extensions import db

readings = Table(
    "readings",
    db.metadata,
    Column("meter_pk", Integer, primary_key=True),  # meters.id
    Column("ts", BigInteger, primary_key=True, autoincrement=False),
    Column("value", Float, nullable=False),
    sqlite_with_rowid=False,
)

# An idempotency key names one reading (meter, time, value) for its organization, forever:
# the same key again with the same reading is a duplicate, with another reading an error.
ingest_keys = Table(
    "ingest_keys",
    db.metadata,
    Column("organization_id", Integer, primary_key=True),  # organizations.id
    # Bytewise order on PostgreSQL too (as on SQLite): ingestion scans keys by range between
    # bounds computed in Python, and bytewise comparisons are the cheapest.
    Column(
        "key",
        String(200).with_variant(String(200, collation="C"), "postgresql"),
        primary_key=True,
    ),
    Column("meter_pk", Integer, nullable=False),  # meters.id
    Column("ts", BigInteger, nullable=False),
    Column("value", Float, nullable=False),
    sqlite_with_rowid=False,
)
