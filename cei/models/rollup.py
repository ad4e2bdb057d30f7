"""Hourly rollups: exact energy sums per meter and per site, one row per site-local hour.

``ts`` is the UTC epoch second at which the site-local hour starts (for most zones a UTC
hour; for Asia/Kolkata the half hour, for Asia/Kathmandu the quarter to), so site-local days
are whole runs of rows across DST changes. ``energy_mwh`` is the sum in milliwatt-hours as an
integer: incremental updates add and subtract integers, so a rollup never drifts from the sum
of its readings, and a total read back is exact to the Wh. ``readings`` counts the readings
summed (coverage needs it).

Which rows exist is a rule of ``cei.services.rollups`` (see ``SiteLayout``): sub-hourly meters
have meter rows, sites whose total adds two or more meters have site rows; an hourly meter, or
a site whose total is one meter, is read from that meter's readings directly. No foreign
keys, as for readings: the services delete a meter's or site's rows with it.
"""

from sqlalchemy import BigInteger, Column, Integer, Table

from cei.extensions import db

meter_hours = Table(
    "meter_hours",
    db.metadata,
    Column("meter_pk", Integer, primary_key=True),  # meters.id
    Column("ts", BigInteger, primary_key=True, autoincrement=False),
    Column("energy_mwh", BigInteger, nullable=False),
    Column("readings", Integer, nullable=False),
    sqlite_with_rowid=False,
)

site_hours = Table(
    "site_hours",
    db.metadata,
    Column("site_pk", Integer, primary_key=True),  # sites.id
    Column("ts", BigInteger, primary_key=True, autoincrement=False),
    Column("energy_mwh", BigInteger, nullable=False),
    Column("readings", Integer, nullable=False),
    sqlite_with_rowid=False,
)
