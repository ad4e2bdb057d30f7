"""Readings and the idempotency keys they were sent with.

Readings are the hot table: one row per (meter, interval start), value in kWh, keyed by
``(meter_pk, ts)`` with no surrogate id (cheaper inserts, no sequence burnt per duplicate).
``ts`` is the interval start as whole seconds since the Unix epoch, UTC.
"""

from sqlalchemy import BigInteger, Column, Float, ForeignKey, Integer, String, Table

from cei.extensions import db

readings = Table(
    "readings",
    db.metadata,
    Column("meter_pk", Integer, ForeignKey("meters.id", ondelete="CASCADE"), primary_key=True),
    Column("ts", BigInteger, primary_key=True, autoincrement=False),
    Column("value", Float, nullable=False),
    sqlite_with_rowid=False,
)

# An idempotency key names one reading (meter, time, value) for its organization, forever:
# the same key again with the same reading is a duplicate, with another reading an error.
ingest_keys = Table(
    "ingest_keys",
    db.metadata,
    Column(
        "organization_id",
        Integer,
        ForeignKey("organizations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("key", String(200), primary_key=True),
    Column("meter_pk", Integer, ForeignKey("meters.id", ondelete="CASCADE"), nullable=False),
    Column("ts", BigInteger, nullable=False),
    Column("value", Float, nullable=False),
    sqlite_with_rowid=False,
)
