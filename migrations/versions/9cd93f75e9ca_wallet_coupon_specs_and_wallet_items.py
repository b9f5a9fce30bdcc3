"""wallet: coupon specs and wallet items

Revision ID: 9cd93f75e9ca
Revises: d5b2f8a4c6e1
Create Date: 2026-12-02 03:46:48.888702

coupon_specs (+ coupon_spec_categories) define coupons; wallet_items hold each issued
coupon or red packet with its value copied at issue, its codes, state and redemption.

"""
from alembic import op
import sqlalchemy as sa
import mall.types


# revision identifiers, used by Alembic.
revision = '9cd93f75e9ca'
down_revision = 'd5b2f8a4c6e1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('coupon_specs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('name_zh', sa.String(length=120), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('threshold_minor', sa.Integer(), nullable=False),
    sa.Column('value_minor', sa.Integer(), nullable=True),
    sa.Column('percent', sa.Integer(), nullable=True),
    sa.Column('cap_minor', sa.Integer(), nullable=True),
    sa.Column('valid_from', mall.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('valid_until', mall.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('valid_days', sa.Integer(), nullable=True),
    sa.Column('stacks_with', sa.String(length=80), nullable=False),
    sa.Column('per_member_limit', sa.Integer(), nullable=True),
    sa.Column('item_id', sa.Integer(), nullable=True),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('budget_target', sa.String(length=40), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', mall.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(kind = 'threshold' AND value_minor > 0 AND threshold_minor >= value_minor AND percent IS NULL) OR (kind = 'percent' AND percent BETWEEN 1 AND 99 AND value_minor IS NULL AND (cap_minor IS NULL OR cap_minor > 0)) OR (kind IN ('amount', 'red_packet') AND value_minor > 0 AND percent IS NULL) OR (kind = 'free_delivery' AND value_minor IS NULL AND percent IS NULL)", name=op.f('ck_coupon_specs_kind_fields')),
    sa.CheckConstraint("kind IN ('threshold', 'percent', 'amount', 'free_delivery')", name=op.f('ck_coupon_specs_known_kind')),
    sa.CheckConstraint('(valid_days IS NULL) <> (valid_until IS NULL)', name=op.f('ck_coupon_specs_one_validity')),
    sa.CheckConstraint('per_member_limit IS NULL OR per_member_limit > 0', name=op.f('ck_coupon_specs_limit_positive')),
    sa.CheckConstraint('threshold_minor >= 0', name=op.f('ck_coupon_specs_threshold_not_negative')),
    sa.CheckConstraint('valid_days IS NULL OR valid_days > 0', name=op.f('ck_coupon_specs_valid_days_positive')),
    sa.CheckConstraint('valid_from IS NULL OR valid_until IS NULL OR valid_until > valid_from', name=op.f('ck_coupon_specs_window_ends_after_it_starts')),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_coupon_specs_item_id_items'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_coupon_specs_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coupon_specs')),
    sa.UniqueConstraint('item_id', name='one_spec_per_item')
    )
    op.create_table('coupon_spec_categories',
    sa.Column('spec_id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['categories.id'], name=op.f('fk_coupon_spec_categories_category_id_categories'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['spec_id'], ['coupon_specs.id'], name=op.f('fk_coupon_spec_categories_spec_id_coupon_specs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('spec_id', 'category_id', name=op.f('pk_coupon_spec_categories'))
    )
    op.create_table('wallet_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('spec_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('name_zh', sa.String(length=120), nullable=True),
    sa.Column('threshold_minor', sa.Integer(), nullable=False),
    sa.Column('value_minor', sa.Integer(), nullable=True),
    sa.Column('percent', sa.Integer(), nullable=True),
    sa.Column('cap_minor', sa.Integer(), nullable=True),
    sa.Column('category_ids', sa.JSON(), nullable=False),
    sa.Column('stacks_with', sa.String(length=80), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('short_code', sa.String(length=12), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('issued_at', mall.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('valid_from', mall.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('expires_at', mall.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', mall.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', mall.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reminded_at', mall.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('source_ref', sa.String(length=80), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('redeemed_store_id', sa.Integer(), nullable=True),
    sa.Column('purchase_id', sa.Integer(), nullable=True),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('discount_minor', sa.Integer(), nullable=True),
    sa.Column('times_returned', sa.Integer(), server_default='0', nullable=False),
    sa.CheckConstraint("(kind = 'red_packet') = (spec_id IS NULL)", name=op.f('ck_wallet_items_coupon_has_spec')),
    sa.CheckConstraint("(kind = 'threshold' AND value_minor > 0 AND threshold_minor >= value_minor AND percent IS NULL) OR (kind = 'percent' AND percent BETWEEN 1 AND 99 AND value_minor IS NULL AND (cap_minor IS NULL OR cap_minor > 0)) OR (kind IN ('amount', 'red_packet') AND value_minor > 0 AND percent IS NULL) OR (kind = 'free_delivery' AND value_minor IS NULL AND percent IS NULL)", name=op.f('ck_wallet_items_kind_fields')),
    sa.CheckConstraint("(state = 'cancelled') = (cancelled_at IS NOT NULL)", name=op.f('ck_wallet_items_cancelled_has_time')),
    sa.CheckConstraint("(state = 'used') = (used_at IS NOT NULL)", name=op.f('ck_wallet_items_used_has_used_at')),
    sa.CheckConstraint("kind IN ('threshold', 'percent', 'amount', 'free_delivery', 'red_packet')", name=op.f('ck_wallet_items_known_kind')),
    sa.CheckConstraint("source IN ('points', 'campaign', 'hq', 'game')", name=op.f('ck_wallet_items_known_source')),
    sa.CheckConstraint("state <> 'used' OR (discount_minor IS NOT NULL AND discount_minor >= 0 AND (purchase_id IS NOT NULL) <> (order_id IS NOT NULL))", name=op.f('ck_wallet_items_used_has_one_redemption')),
    sa.CheckConstraint("state = 'used' OR (purchase_id IS NULL AND order_id IS NULL AND discount_minor IS NULL)", name=op.f('ck_wallet_items_unused_has_no_redemption')),
    sa.CheckConstraint("state IN ('available', 'used', 'expired', 'cancelled')", name=op.f('ck_wallet_items_known_state')),
    sa.CheckConstraint('expires_at > issued_at', name=op.f('ck_wallet_items_expires_after_issue')),
    sa.CheckConstraint('seq > 0', name=op.f('ck_wallet_items_seq_positive')),
    sa.CheckConstraint('threshold_minor >= 0', name=op.f('ck_wallet_items_threshold_not_negative')),
    sa.ForeignKeyConstraint(['account_id'], ['users.id'], name=op.f('fk_wallet_items_account_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_wallet_items_order_id_orders')),
    sa.ForeignKeyConstraint(['purchase_id'], ['purchases.id'], name=op.f('fk_wallet_items_purchase_id_purchases')),
    sa.ForeignKeyConstraint(['redeemed_store_id'], ['stores.id'], name=op.f('fk_wallet_items_redeemed_store_id_stores')),
    sa.ForeignKeyConstraint(['spec_id'], ['coupon_specs.id'], name=op.f('fk_wallet_items_spec_id_coupon_specs')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_wallet_items_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wallet_items')),
    sa.UniqueConstraint('code', name='uq_wallet_items_code'),
    sa.UniqueConstraint('short_code', name='uq_wallet_items_short_code'),
    sa.UniqueConstraint('source', 'source_ref', 'seq', name='one_item_per_intent')
    )
    with op.batch_alter_table('wallet_items', schema=None) as batch_op:
        batch_op.create_index('ix_wallet_items_account_state', ['account_id', 'state'], unique=False)
        batch_op.create_index('ix_wallet_items_order', ['order_id'], unique=False)
        batch_op.create_index('ix_wallet_items_purchase', ['purchase_id'], unique=False)
        batch_op.create_index('ix_wallet_items_spec', ['spec_id'], unique=False)
        batch_op.create_index('ix_wallet_items_state_expires', ['state', 'expires_at'], unique=False)



def downgrade():
    with op.batch_alter_table('wallet_items', schema=None) as batch_op:
        batch_op.drop_index('ix_wallet_items_state_expires')
        batch_op.drop_index('ix_wallet_items_spec')
        batch_op.drop_index('ix_wallet_items_purchase')
        batch_op.drop_index('ix_wallet_items_order')
        batch_op.drop_index('ix_wallet_items_account_state')

    op.drop_table('wallet_items')
    op.drop_table('coupon_spec_categories')
    op.drop_table('coupon_specs')
