"""reports

Revision ID: 0005_reports
Revises: 0004_analytics
Create Date: 2026-11-28 02:00:00

"""
from alembic import op
import sqlalchemy as sa



# revision identifiers, used by Alembic.
revision = '0005_reports'
down_revision = '0004_analytics'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'reports',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('organization_id', sa.Integer(), nullable=False),
        sa.Column('site_pk', sa.Integer(), nullable=True),
        sa.Column('site_id', sa.String(length=100), nullable=True),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('trigger', sa.String(length=16), nullable=False),
        sa.Column('schedule_key', sa.String(length=64), nullable=True),
        sa.Column('period_first', sa.Date(), nullable=False),
        sa.Column('period_last', sa.Date(), nullable=False),
        sa.Column('timezone', sa.String(length=64), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('requested_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('enqueued_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('duration_ms', sa.Float(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('summary', sa.JSON(), nullable=True),
        sa.Column('pdf_size', sa.Integer(), nullable=True),
        sa.Column('csv_size', sa.Integer(), nullable=True),
        sa.Column('pdf', sa.LargeBinary(), nullable=True),
        sa.Column('csv', sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_reports_organization_id_organizations'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_reports_requested_by_id_users'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['site_pk'], ['sites.id'], name=op.f('fk_reports_site_pk_sites'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_reports')),
        sa.UniqueConstraint('organization_id', 'schedule_key', name=op.f('uq_reports_organization_id')),
    )
    op.create_index('ix_reports_organization_id_id', 'reports', ['organization_id', 'id'], unique=False)
    op.create_index('ix_reports_status', 'reports', ['status'], unique=False)


def downgrade():
    op.drop_index('ix_reports_status', table_name='reports')
    op.drop_index('ix_reports_organization_id_id', table_name='reports')
    op.drop_table('reports')
