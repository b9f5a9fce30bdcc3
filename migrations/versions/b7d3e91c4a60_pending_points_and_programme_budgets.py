"""points: pending purchase points (return window); budgets: programme budgets per campaign or task

Revision ID: b7d3e91c4a60
Revises: b7c41e2d9a10
Create Date: 2026-12-02 10:00:00.000000

Pending points (DESIGN.md #10): points_accounts.pending (CHECK pending <= balance) and each
lot's pending state. One budget model (DESIGN.md #9): programme_budgets, and budget months
and grants that belong to a store or to a programme budget. Existing rows are all store
budgets and spendable lots, so nothing needs back-filling.
"""
from alembic import op
import sqlalchemy as sa
import mall.types


# revision identifiers, used by Alembic.
revision = 'b7d3e91c4a60'
down_revision = 'b7c41e2d9a10'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('points_accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pending', sa.Integer(), server_default='0', nullable=False))
        batch_op.create_check_constraint(op.f('ck_points_accounts_pending_within_balance'),
                                         'pending >= 0 AND pending <= balance')
    with op.batch_alter_table('point_lots', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pending_until', mall.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('pending_state', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('released_at', mall.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_check_constraint(
            op.f('ck_point_lots_known_pending_state'),
            "pending_state IS NULL OR pending_state IN ('pending', 'released', 'cancelled')")
        batch_op.create_check_constraint(op.f('ck_point_lots_pending_has_date'),
                                         '(pending_state IS NULL) = (pending_until IS NULL)')
        batch_op.create_index('ix_lots_pending_until', ['pending_state', 'pending_until'], unique=False)

    op.create_table('programme_budgets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=10), nullable=False),
    sa.Column('target', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('monthly_points', sa.Integer(), nullable=False),
    sa.Column('when_exhausted', sa.String(length=10), nullable=False),
    sa.Column('updated_by', sa.Integer(), nullable=True),
    sa.Column('updated_at', mall.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("scope IN ('campaign', 'task')", name=op.f('ck_programme_budgets_known_scope')),
    sa.CheckConstraint('monthly_points > 0', name=op.f('ck_programme_budgets_monthly_points_positive')),
    sa.CheckConstraint("when_exhausted IN ('hold', 'refuse')", name=op.f('ck_programme_budgets_known_when_exhausted')),
    sa.ForeignKeyConstraint(['updated_by'], ['users.id'], name=op.f('fk_programme_budgets_updated_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_programme_budgets')),
    sa.UniqueConstraint('scope', 'target', name='one_budget_per_target')
    )
    with op.batch_alter_table('budget_months', schema=None) as batch_op:
        batch_op.alter_column('store_id', existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column('programme_budget_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(op.f('fk_budget_months_programme_budget_id_programme_budgets'),
                                    'programme_budgets', ['programme_budget_id'], ['id'], ondelete='CASCADE')
        batch_op.create_unique_constraint('one_row_per_programme_month', ['programme_budget_id', 'month'])
        batch_op.create_check_constraint(op.f('ck_budget_months_one_budget_owner'),
                                         '(store_id IS NULL) <> (programme_budget_id IS NULL)')
    with op.batch_alter_table('discretionary_grants', schema=None) as batch_op:
        batch_op.alter_column('store_id', existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column('programme_budget_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(op.f('fk_discretionary_grants_programme_budget_id_programme_budgets'),
                                    'programme_budgets', ['programme_budget_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_discretionary_grants_programme_budget_id'), ['programme_budget_id'],
                              unique=False)
        batch_op.create_check_constraint(op.f('ck_discretionary_grants_one_budget'),
                                         'store_id IS NULL OR programme_budget_id IS NULL')


def downgrade():
    op.execute("DELETE FROM discretionary_grants WHERE programme_budget_id IS NOT NULL")
    op.execute("DELETE FROM budget_months WHERE programme_budget_id IS NOT NULL")
    with op.batch_alter_table('discretionary_grants', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_discretionary_grants_one_budget'), type_='check')
        batch_op.drop_index(batch_op.f('ix_discretionary_grants_programme_budget_id'))
        batch_op.drop_constraint(op.f('fk_discretionary_grants_programme_budget_id_programme_budgets'),
                                 type_='foreignkey')
        batch_op.drop_column('programme_budget_id')
        batch_op.alter_column('store_id', existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table('budget_months', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_budget_months_one_budget_owner'), type_='check')
        batch_op.drop_constraint('one_row_per_programme_month', type_='unique')
        batch_op.drop_constraint(op.f('fk_budget_months_programme_budget_id_programme_budgets'), type_='foreignkey')
        batch_op.drop_column('programme_budget_id')
        batch_op.alter_column('store_id', existing_type=sa.Integer(), nullable=False)
    op.drop_table('programme_budgets')
    with op.batch_alter_table('point_lots', schema=None) as batch_op:
        batch_op.drop_index('ix_lots_pending_until')
        batch_op.drop_constraint(op.f('ck_point_lots_pending_has_date'), type_='check')
        batch_op.drop_constraint(op.f('ck_point_lots_known_pending_state'), type_='check')
        batch_op.drop_column('released_at')
        batch_op.drop_column('pending_state')
        batch_op.drop_column('pending_until')
    with op.batch_alter_table('points_accounts', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_points_accounts_pending_within_balance'), type_='check')
        batch_op.drop_column('pending')
