"""hq: budget alerts for programme budgets too

Revision ID: c3a9e5f1d2b7
Revises: c3e8a1f05d72
Create Date: 2026-12-09 10:00:00.000000

An alert is about a store's budget or a programme budget (CHECK: exactly one), once per
kind, budget and month (UNIQUE). Existing alerts are all store alerts: nothing to back-fill.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c3a9e5f1d2b7'
down_revision = 'c3e8a1f05d72'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('hq_alerts', schema=None) as batch_op:
        batch_op.alter_column('store_id', existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column('programme_budget_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(op.f('fk_hq_alerts_programme_budget_id_programme_budgets'),
                                    'programme_budgets', ['programme_budget_id'], ['id'], ondelete='CASCADE')
        batch_op.create_unique_constraint('one_alert_per_programme_month', ['kind', 'programme_budget_id', 'month'])
        batch_op.create_check_constraint(op.f('ck_hq_alerts_one_alert_owner'),
                                         '(store_id IS NULL) <> (programme_budget_id IS NULL)')


def downgrade():
    op.execute("DELETE FROM hq_alerts WHERE programme_budget_id IS NOT NULL")
    with op.batch_alter_table('hq_alerts', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_hq_alerts_one_alert_owner'), type_='check')
        batch_op.drop_constraint('one_alert_per_programme_month', type_='unique')
        batch_op.drop_constraint(op.f('fk_hq_alerts_programme_budget_id_programme_budgets'), type_='foreignkey')
        batch_op.drop_column('programme_budget_id')
        batch_op.alter_column('store_id', existing_type=sa.Integer(), nullable=False)
