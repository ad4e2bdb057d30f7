"""meters.corrected: whether a reading of the meter was ever replaced

Revision ID: 0006_meter_corrected
Revises: 0005_reports
Create Date: 2026-11-28 05:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006_meter_corrected'
down_revision = '0005_reports'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('meters', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('corrected', sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    # A meter whose readings may have been replaced before this column existed: its keys'
    # values cannot be trusted to be today's readings, so assume it was corrected.
    op.execute(
        "UPDATE meters SET corrected = true WHERE id IN "
        "(SELECT DISTINCT k.meter_pk FROM ingest_keys k JOIN readings r "
        "ON r.meter_pk = k.meter_pk AND r.ts = k.ts WHERE r.value <> k.value)"
    )


def downgrade():
    with op.batch_alter_table('meters', schema=None) as batch_op:
        batch_op.drop_column('corrected')
