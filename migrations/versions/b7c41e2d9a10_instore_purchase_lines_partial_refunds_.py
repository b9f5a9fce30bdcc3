"""instore: purchase lines, purchase categories, partial refunds; rules per line and hour;
ledger entries' category shares (issue 12)

Revision ID: b7c41e2d9a10
Revises: 5e1f0a7c3b21
Create Date: 2026-12-01 10:00:00.000000

Existing purchases get one line of the default category ("") for their whole amount, with
the points they earned, so partial refunds work on them too.
"""
from alembic import op
import sqlalchemy as sa

import mall.types


# revision identifiers, used by Alembic.
revision = 'b7c41e2d9a10'
down_revision = '5e1f0a7c3b21'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'purchase_categories',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('slug', sa.String(length=40), nullable=False),
        sa.Column('name', sa.String(length=60), nullable=False),
        sa.Column('name_zh', sa.String(length=60), nullable=True),
        sa.Column('excluded', sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_purchase_categories')),
        sa.UniqueConstraint('slug', name=op.f('uq_purchase_categories_slug')),
    )
    op.create_table(
        'purchase_lines',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('purchase_id', sa.Integer(), nullable=False),
        sa.Column('line_no', sa.Integer(), nullable=False),
        sa.Column('sku', sa.String(length=40), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('category', sa.String(length=40), nullable=False),
        sa.Column('quantity', sa.Integer(), nullable=False),
        sa.Column('amount_minor', sa.Integer(), nullable=False),
        sa.Column('excluded', sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column('points', sa.Integer(), nullable=False),
        sa.Column('refunded_quantity', sa.Integer(), nullable=False),
        sa.Column('refunded_amount_minor', sa.Integer(), nullable=False),
        sa.Column('refunded_points', sa.Integer(), nullable=False),
        sa.CheckConstraint('quantity > 0', name=op.f('ck_purchase_lines_quantity_positive')),
        sa.CheckConstraint('amount_minor >= 0', name=op.f('ck_purchase_lines_amount_not_negative')),
        sa.CheckConstraint('refunded_quantity >= 0 AND refunded_quantity <= quantity',
                           name=op.f('ck_purchase_lines_refund_in_range')),
        sa.CheckConstraint('points >= 0 AND refunded_points >= 0 AND refunded_points <= points',
                           name=op.f('ck_purchase_lines_refunded_points_in_range')),
        sa.ForeignKeyConstraint(['purchase_id'], ['purchases.id'], name=op.f('fk_purchase_lines_purchase_id_purchases'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_purchase_lines')),
        sa.UniqueConstraint('purchase_id', 'line_no', name='uq_purchase_lines_purchase_line'),
    )
    with op.batch_alter_table('purchase_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_purchase_lines_purchase_id'), ['purchase_id'], unique=False)
    op.create_table(
        'purchase_refunds',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('purchase_id', sa.Integer(), nullable=False),
        sa.Column('refund_no', sa.String(length=40), nullable=False),
        sa.Column('lines', sa.JSON(), nullable=False),
        sa.Column('amount_minor', sa.Integer(), nullable=False),
        sa.Column('reversed_points', sa.Integer(), nullable=False),
        sa.Column('clawback_points', sa.Integer(), nullable=False),
        sa.Column('created_at', mall.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['purchase_id'], ['purchases.id'],
                                name=op.f('fk_purchase_refunds_purchase_id_purchases'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_purchase_refunds')),
        sa.UniqueConstraint('purchase_id', 'refund_no', name='uq_purchase_refunds_purchase_no'),
    )
    op.create_table(
        'ledger_entry_categories',
        sa.Column('entry_id', sa.Integer(), nullable=False),
        sa.Column('category', sa.String(length=40), nullable=False),
        sa.Column('points', sa.Integer(), nullable=False),
        sa.Column('spend_minor', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['entry_id'], ['ledger_entries.id'],
                                name=op.f('fk_ledger_entry_categories_entry_id_ledger_entries'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('entry_id', 'category', name=op.f('pk_ledger_entry_categories')),
    )
    with op.batch_alter_table('earning_rules', schema=None) as batch_op:
        batch_op.add_column(sa.Column('skus', sa.String(length=400), nullable=True))
        batch_op.add_column(sa.Column('minute_from', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('minute_to', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('month_days', sa.String(length=90), nullable=True))
        batch_op.add_column(sa.Column('birthday_month', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_check_constraint(
            'hours_in_a_day', "(minute_from IS NULL) = (minute_to IS NULL) AND (minute_from IS NULL OR "
                              "(minute_from >= 0 AND minute_to <= 1440 AND minute_to > minute_from))")
    # Every existing purchase becomes one line of the default category.
    op.execute("INSERT INTO purchase_lines (purchase_id, line_no, sku, name, category, quantity, amount_minor, "
               "excluded, points, refunded_quantity, refunded_amount_minor, refunded_points) "
               "SELECT id, 1, '', '', '', 1, amount_minor, false, points, "
               "CASE WHEN status = 'refunded' THEN 1 ELSE 0 END, "
               "CASE WHEN status = 'refunded' THEN amount_minor ELSE 0 END, "
               "CASE WHEN status = 'refunded' THEN points ELSE 0 END FROM purchases")


def downgrade():
    with op.batch_alter_table('earning_rules', schema=None) as batch_op:
        batch_op.drop_constraint('hours_in_a_day', type_='check')
        batch_op.drop_column('birthday_month')
        batch_op.drop_column('month_days')
        batch_op.drop_column('minute_to')
        batch_op.drop_column('minute_from')
        batch_op.drop_column('skus')
    op.drop_table('ledger_entry_categories')
    op.drop_table('purchase_refunds')
    with op.batch_alter_table('purchase_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_purchase_lines_purchase_id'))
    op.drop_table('purchase_lines')
    op.drop_table('purchase_categories')
