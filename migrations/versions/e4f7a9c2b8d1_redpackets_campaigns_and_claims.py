"""redpackets: red-packet campaigns and the claims members make

Revision ID: e4f7a9c2b8d1
Revises: 9cd93f75e9ca
Create Date: 2026-12-02 04:00:00.000000
"""
from alembic import op
import sqlalchemy as sa

import mall.types


# revision identifiers, used by Alembic.
revision = 'e4f7a9c2b8d1'
down_revision = '9cd93f75e9ca'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'red_packet_campaigns',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=True),
        sa.Column('name', sa.String(length=80), nullable=False),
        sa.Column('name_zh', sa.String(length=80), nullable=True),
        sa.Column('mode', sa.String(length=10), nullable=False),
        sa.Column('total_minor', sa.Integer(), nullable=False),
        sa.Column('min_minor', sa.Integer(), nullable=False),
        sa.Column('max_minor', sa.Integer(), nullable=False),
        sa.Column('packet_count', sa.Integer(), nullable=False),
        sa.Column('remaining_minor', sa.Integer(), nullable=False),
        sa.Column('remaining_count', sa.Integer(), nullable=False),
        sa.Column('audience', sa.String(length=10), nullable=False),
        sa.Column('tier_id', sa.Integer(), nullable=True),
        sa.Column('segment', sa.String(length=20), nullable=True),
        sa.Column('limit_per_member', sa.Integer(), nullable=False),
        sa.Column('starts_at', mall.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('ends_at', mall.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('valid_until', mall.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('valid_days', sa.Integer(), nullable=True),
        sa.Column('share_token', sa.String(length=43), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('created_by', sa.Integer(), nullable=True),
        sa.Column('created_at', mall.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('closed_at', mall.types.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint('total_minor > 0 AND packet_count > 0', name=op.f('ck_red_packet_campaigns_total_positive')),
        sa.CheckConstraint('min_minor > 0 AND min_minor <= max_minor', name=op.f('ck_red_packet_campaigns_range_valid')),
        sa.CheckConstraint('CAST(packet_count AS BIGINT) * min_minor <= total_minor '
                           'AND total_minor <= CAST(packet_count AS BIGINT) * max_minor',
                           name=op.f('ck_red_packet_campaigns_packets_fit_total')),
        sa.CheckConstraint('remaining_minor >= 0 AND remaining_count >= 0',
                           name=op.f('ck_red_packet_campaigns_remaining_not_negative')),
        sa.CheckConstraint('remaining_minor <= total_minor AND remaining_count <= packet_count',
                           name=op.f('ck_red_packet_campaigns_remaining_within_total')),
        sa.CheckConstraint('CAST(remaining_count AS BIGINT) * min_minor <= remaining_minor '
                           'AND remaining_minor <= CAST(remaining_count AS BIGINT) * max_minor',
                           name=op.f('ck_red_packet_campaigns_remainder_payable')),
        sa.CheckConstraint("mode IN ('fixed', 'random')", name=op.f('ck_red_packet_campaigns_known_mode')),
        sa.CheckConstraint("audience IN ('everyone', 'tier', 'segment', 'link')",
                           name=op.f('ck_red_packet_campaigns_known_audience')),
        sa.CheckConstraint("status IN ('open', 'closed')", name=op.f('ck_red_packet_campaigns_known_status')),
        sa.CheckConstraint('limit_per_member >= 1', name=op.f('ck_red_packet_campaigns_limit_positive')),
        sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_red_packet_campaigns_window_valid')),
        sa.CheckConstraint('(valid_until IS NULL) <> (valid_days IS NULL)', name=op.f('ck_red_packet_campaigns_one_validity')),
        sa.CheckConstraint('valid_days IS NULL OR valid_days > 0', name=op.f('ck_red_packet_campaigns_valid_days_positive')),
        sa.CheckConstraint("audience <> 'tier' OR tier_id IS NOT NULL", name=op.f('ck_red_packet_campaigns_tier_named')),
        sa.CheckConstraint("audience <> 'segment' OR segment IS NOT NULL",
                           name=op.f('ck_red_packet_campaigns_segment_named')),
        sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_red_packet_campaigns_created_by_users')),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_red_packet_campaigns_store_id_stores')),
        sa.ForeignKeyConstraint(['tier_id'], ['tiers.id'], name=op.f('fk_red_packet_campaigns_tier_id_tiers')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_red_packet_campaigns')),
        sa.UniqueConstraint('share_token', name=op.f('uq_red_packet_campaigns_share_token')),
    )
    with op.batch_alter_table('red_packet_campaigns', schema=None) as batch_op:
        batch_op.create_index('ix_red_packet_campaigns_status_ends', ['status', 'ends_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_red_packet_campaigns_store_id'), ['store_id'], unique=False)

    op.create_table(
        'red_packet_claims',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.Column('amount_minor', sa.Integer(), nullable=False),
        sa.Column('wallet_item_id', sa.Integer(), nullable=True),
        sa.Column('claimed_at', mall.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint('n >= 1', name=op.f('ck_red_packet_claims_n_positive')),
        sa.CheckConstraint('amount_minor > 0', name=op.f('ck_red_packet_claims_amount_positive')),
        sa.ForeignKeyConstraint(['account_id'], ['users.id'], name=op.f('fk_red_packet_claims_account_id_users')),
        sa.ForeignKeyConstraint(['campaign_id'], ['red_packet_campaigns.id'],
                                name=op.f('fk_red_packet_claims_campaign_id_red_packet_campaigns')),
        sa.ForeignKeyConstraint(['wallet_item_id'], ['wallet_items.id'],
                                name=op.f('fk_red_packet_claims_wallet_item_id_wallet_items')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_red_packet_claims')),
        sa.UniqueConstraint('campaign_id', 'account_id', 'n', name='one_claim_per_number'),
        sa.UniqueConstraint('wallet_item_id', name=op.f('uq_red_packet_claims_wallet_item_id')),
    )
    with op.batch_alter_table('red_packet_claims', schema=None) as batch_op:
        batch_op.create_index('ix_red_packet_claims_account', ['account_id', 'claimed_at'], unique=False)


def downgrade():
    with op.batch_alter_table('red_packet_claims', schema=None) as batch_op:
        batch_op.drop_index('ix_red_packet_claims_account')
    op.drop_table('red_packet_claims')
    with op.batch_alter_table('red_packet_campaigns', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_red_packet_campaigns_store_id'))
        batch_op.drop_index('ix_red_packet_campaigns_status_ends')
    op.drop_table('red_packet_campaigns')
