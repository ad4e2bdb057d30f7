"""hourly rollups per meter and per site

Revision ID: 0003_rollups
Revises: 0002
Create Date: 2026-11-28 01:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003_rollups'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    # ts: UTC epoch seconds of the start of the site-local hour; energy_mwh: exact sum in
    # milliwatt-hours (integers, so incremental updates never drift); readings: how many
    # readings the sum holds. No foreign keys, as for readings (cei/models/rollup.py).
    op.create_table('meter_hours',
    sa.Column('meter_pk', sa.Integer(), nullable=False),
    sa.Column('ts', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('energy_mwh', sa.BigInteger(), nullable=False),
    sa.Column('readings', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('meter_pk', 'ts', name=op.f('pk_meter_hours')),
    sqlite_with_rowid=False
    )
    op.create_table('site_hours',
    sa.Column('site_pk', sa.Integer(), nullable=False),
    sa.Column('ts', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('energy_mwh', sa.BigInteger(), nullable=False),
    sa.Column('readings', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('site_pk', 'ts', name=op.f('pk_site_hours')),
    sqlite_with_rowid=False
    )


def downgrade():
    op.drop_table('site_hours')
    op.drop_table('meter_hours')
