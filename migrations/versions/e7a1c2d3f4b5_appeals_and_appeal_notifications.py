"""appeals: a member questions a statement line or an order; HQ resolves it (issue 17)

Revision ID: e7a1c2d3f4b5
Revises: b7e3c1a9d4f2
Create Date: 2026-12-02 04:10:00.000000

The `appeals` table, and the notification kind `appeal` (HQ's answer in the inbox).
"""
from alembic import op
import sqlalchemy as sa

import mall.types


# revision identifiers, used by Alembic.
revision = 'e7a1c2d3f4b5'
down_revision = 'b7e3c1a9d4f2'
branch_labels = None
depends_on = None

KINDS_BEFORE = "kind IN ('expiry_reminder', 'tier_change', 'presale', 'order_status')"
KINDS_AFTER = "kind IN ('expiry_reminder', 'tier_change', 'presale', 'order_status', 'appeal')"


def upgrade():
    op.create_table(
        'appeals',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('entry_id', sa.Integer(), nullable=True),
        sa.Column('order_id', sa.Integer(), nullable=True),
        sa.Column('reason', sa.String(length=500), nullable=False),
        sa.Column('photo', sa.String(length=120), nullable=True),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('idempotency_key', sa.String(length=40), nullable=False),
        sa.Column('created_at', mall.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('due_at', mall.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('resolved_at', mall.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('resolver_id', sa.Integer(), nullable=True),
        sa.Column('reply', sa.String(length=500), nullable=True),
        sa.Column('adjustment_points', sa.Integer(), nullable=True),
        sa.Column('adjustment_entry_id', sa.Integer(), nullable=True),
        sa.CheckConstraint("status IN ('open', 'adjusted', 'answered')", name=op.f('ck_appeals_known_status')),
        sa.CheckConstraint("(CASE WHEN entry_id IS NULL THEN 0 ELSE 1 END) + "
                           "(CASE WHEN order_id IS NULL THEN 0 ELSE 1 END) = 1", name=op.f('ck_appeals_one_subject')),
        sa.CheckConstraint("status = 'open' OR (resolved_at IS NOT NULL AND resolver_id IS NOT NULL)",
                           name=op.f('ck_appeals_resolved_has_who_and_when')),
        sa.CheckConstraint("(status = 'adjusted') = (adjustment_points IS NOT NULL)",
                           name=op.f('ck_appeals_adjusted_has_points')),
        sa.CheckConstraint('adjustment_points IS NULL OR adjustment_points > 0',
                           name=op.f('ck_appeals_adjustment_positive')),
        sa.ForeignKeyConstraint(['member_id'], ['users.id'], name=op.f('fk_appeals_member_id_users'), ondelete='RESTRICT'),
        sa.ForeignKeyConstraint(['entry_id'], ['ledger_entries.id'], name=op.f('fk_appeals_entry_id_ledger_entries')),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_appeals_order_id_orders')),
        sa.ForeignKeyConstraint(['resolver_id'], ['users.id'], name=op.f('fk_appeals_resolver_id_users')),
        sa.ForeignKeyConstraint(['adjustment_entry_id'], ['ledger_entries.id'],
                                name=op.f('fk_appeals_adjustment_entry_id_ledger_entries')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_appeals')),
        sa.UniqueConstraint('member_id', 'idempotency_key', name='one_appeal_per_submit'),
    )
    op.create_index('ix_appeals_status_due', 'appeals', ['status', 'due_at'], unique=False)
    op.create_index('ix_appeals_member_created', 'appeals', ['member_id', 'created_at'], unique=False)
    for table in ('notifications', 'notification_opt_outs'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(op.f(f'ck_{table}_known_kind'), type_='check')
            batch_op.create_check_constraint(op.f(f'ck_{table}_known_kind'), KINDS_AFTER)


def downgrade():
    for table in ('notifications', 'notification_opt_outs'):
        op.execute(f"DELETE FROM {table} WHERE kind = 'appeal'")
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(op.f(f'ck_{table}_known_kind'), type_='check')
            batch_op.create_check_constraint(op.f(f'ck_{table}_known_kind'), KINDS_BEFORE)
    op.drop_index('ix_appeals_member_created', table_name='appeals')
    op.drop_index('ix_appeals_status_due', table_name='appeals')
    op.drop_table('appeals')
