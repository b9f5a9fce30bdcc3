"""budgets: a refund inside the return window gives a purchase uplift's charge back

Revision ID: d5b2f8a4c6e1
Revises: c3a9e5f1d2b7
Create Date: 2026-12-09 11:00:00.000000

discretionary_grants.reversed_points (0 <= reversed_points <= points) and the status
`reversed` (all of it given back). Existing grants gave nothing back: 0.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd5b2f8a4c6e1'
down_revision = 'c3a9e5f1d2b7'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('discretionary_grants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reversed_points', sa.Integer(), server_default='0', nullable=False))
        batch_op.create_check_constraint(op.f('ck_discretionary_grants_reversed_within_points'),
                                         'reversed_points >= 0 AND reversed_points <= points')
        batch_op.drop_constraint(op.f('ck_discretionary_grants_known_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_discretionary_grants_known_status'),
                                         "status IN ('issued', 'held', 'approved', 'rejected', 'reversed')")


def downgrade():
    # A fully reversed grant was issued once: it becomes an issued grant again, and its month
    # takes the charge back, so the month's spend still equals its issued grants.
    op.execute("UPDATE budget_months SET used_points = used_points + COALESCE((SELECT SUM(g.reversed_points) "
               "FROM discretionary_grants g WHERE g.month = budget_months.month AND g.reversed_points > 0 "
               "AND ((budget_months.store_id IS NOT NULL AND g.store_id = budget_months.store_id) OR "
               "(budget_months.programme_budget_id IS NOT NULL "
               "AND g.programme_budget_id = budget_months.programme_budget_id))), 0), "
               "limit_points = limit_points + COALESCE((SELECT SUM(g.reversed_points) "
               "FROM discretionary_grants g WHERE g.month = budget_months.month AND g.reversed_points > 0 "
               "AND ((budget_months.store_id IS NOT NULL AND g.store_id = budget_months.store_id) OR "
               "(budget_months.programme_budget_id IS NOT NULL "
               "AND g.programme_budget_id = budget_months.programme_budget_id))), 0)")
    op.execute("UPDATE discretionary_grants SET status = 'issued' WHERE status = 'reversed'")
    with op.batch_alter_table('discretionary_grants', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_discretionary_grants_known_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_discretionary_grants_known_status'),
                                         "status IN ('issued', 'held', 'approved', 'rejected')")
        batch_op.drop_constraint(op.f('ck_discretionary_grants_reversed_within_points'), type_='check')
        batch_op.drop_column('reversed_points')
