"""analytics: due analyses, runs, site results, alerts, carbon and deviation settings

Revision ID: 0004_analytics
Revises: 0003_rollups
Create Date: 2026-11-28 01:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004_analytics'
down_revision = '0003_rollups'
branch_labels = None
depends_on = None


def upgrade():
    # Settings. The default emission factor (0.21 kgCO2e/kWh) is the EU-27 grid average of
    # 2023 (EEA); see cei/models/organization.py.
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('emission_factor_kg_per_kwh', sa.Float(), nullable=False, server_default='0.21'))
        batch_op.add_column(sa.Column('deviation_warning_pct', sa.Float(), nullable=False, server_default='10'))
        batch_op.add_column(sa.Column('deviation_critical_pct', sa.Float(), nullable=False, server_default='30'))
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.add_column(sa.Column('emission_factor_kg_per_kwh', sa.Float(), nullable=True))

    op.create_table('due_analyses',
    sa.Column('site_pk', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('due_since', sa.DateTime(timezone=True), nullable=False),
    sa.Column('marked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['site_pk'], ['sites.id'], name=op.f('fk_due_analyses_site_pk_sites'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('site_pk', name=op.f('pk_due_analyses'))
    )
    op.create_table('analysis_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('site_pk', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('trigger', sa.String(length=16), nullable=False),
    sa.Column('queued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('enqueued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('duration_ms', sa.Float(), nullable=True),
    sa.Column('read_ms', sa.Float(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('plugins', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_analysis_runs_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_pk'], ['sites.id'], name=op.f('fk_analysis_runs_site_pk_sites'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_analysis_runs'))
    )
    with op.batch_alter_table('analysis_runs', schema=None) as batch_op:
        batch_op.create_index('ix_analysis_runs_organization_id_id', ['organization_id', 'id'], unique=False)
        batch_op.create_index('ix_analysis_runs_site_pk_queued_at', ['site_pk', 'queued_at'], unique=False)
        batch_op.create_index('ix_analysis_runs_status', ['status'], unique=False)
        # At most one queued run per site.
        batch_op.create_index('uq_analysis_runs_queued_site', ['site_pk'], unique=True, postgresql_where=sa.text("status = 'queued'"), sqlite_where=sa.text("status = 'queued'"))

    op.create_table('site_analyses',
    sa.Column('site_pk', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('analysed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kpis', sa.JSON(), nullable=False),
    sa.Column('baseline', sa.JSON(), nullable=False),
    sa.Column('forecast', sa.JSON(), nullable=False),
    sa.Column('opportunities', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_site_analyses_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_pk'], ['sites.id'], name=op.f('fk_site_analyses_site_pk_sites'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('site_pk', name=op.f('pk_site_analyses'))
    )
    with op.batch_alter_table('site_analyses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_site_analyses_organization_id'), ['organization_id'], unique=False)

    op.create_table('alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('site_pk', sa.Integer(), nullable=False),
    sa.Column('meter_id', sa.String(length=100), nullable=True),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('dedupe_key', sa.String(length=255), nullable=False),
    sa.Column('period_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('period_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kwh_impact', sa.Float(), nullable=False),
    sa.Column('cost_impact', sa.Float(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('co2e_kg_impact', sa.Float(), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('occurrences', sa.Integer(), nullable=False),
    sa.Column('reopened', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by_id', sa.Integer(), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_by_id', sa.Integer(), nullable=True),
    sa.Column('muted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('muted_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['acknowledged_by_id'], ['users.id'], name=op.f('fk_alerts_acknowledged_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['muted_by_id'], ['users.id'], name=op.f('fk_alerts_muted_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_alerts_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['users.id'], name=op.f('fk_alerts_resolved_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['site_pk'], ['sites.id'], name=op.f('fk_alerts_site_pk_sites'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts')),
    sa.UniqueConstraint('site_pk', 'dedupe_key', name=op.f('uq_alerts_site_pk'))
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index('ix_alerts_organization_id_status', ['organization_id', 'status'], unique=False)

    op.create_table('alert_notes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('status_change', sa.String(length=16), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_alert_notes_alert_id_alerts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_alert_notes_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_notes'))
    )
    with op.batch_alter_table('alert_notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_notes_alert_id'), ['alert_id'], unique=False)


def downgrade():
    with op.batch_alter_table('alert_notes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_notes_alert_id'))
    op.drop_table('alert_notes')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_alerts_organization_id_status')
    op.drop_table('alerts')
    with op.batch_alter_table('site_analyses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_site_analyses_organization_id'))
    op.drop_table('site_analyses')
    with op.batch_alter_table('analysis_runs', schema=None) as batch_op:
        batch_op.drop_index('uq_analysis_runs_queued_site')
        batch_op.drop_index('ix_analysis_runs_status')
        batch_op.drop_index('ix_analysis_runs_site_pk_queued_at')
        batch_op.drop_index('ix_analysis_runs_organization_id_id')
    op.drop_table('analysis_runs')
    op.drop_table('due_analyses')
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.drop_column('emission_factor_kg_per_kwh')
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.drop_column('deviation_critical_pct')
        batch_op.drop_column('deviation_warning_pct')
        batch_op.drop_column('emission_factor_kg_per_kwh')
