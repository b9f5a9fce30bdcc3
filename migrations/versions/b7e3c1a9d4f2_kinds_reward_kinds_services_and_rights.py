"""kinds: reward kinds, service slots and bookings, rights, a presale priority window

Revision ID: b7e3c1a9d4f2
Revises: 9c338288907b
Create Date: 2026-12-02 04:00:00.000000

items.kind and order_lines.item_kind (existing rows are goods); the order status
`fulfilled` (a coupon, red packet or right delivered to the account); service_slots and
bookings; right_specs and right_grants; presales.priority_opens_at.
"""
from alembic import op
import sqlalchemy as sa

import mall.types

# revision identifiers, used by Alembic.
revision = 'b7e3c1a9d4f2'
down_revision = '9c338288907b'
branch_labels = None
depends_on = None

KINDS = "('goods', 'coupon', 'red_packet', 'service', 'right')"
RIGHT_KINDS = "('priority_purchase', 'free_delivery', 'exclusive_service')"
OLD_STATUSES = ("('awaiting_payment', 'preordered', 'offered', 'ready', 'picked_up', 'cancelled', 'expired', "
                "'payment_failed', 'refunded', 'in_review')")
NEW_STATUSES = OLD_STATUSES[:-1] + ", 'fulfilled')"


def upgrade():
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=12), server_default='goods', nullable=False))
        batch_op.create_check_constraint(op.f('ck_items_known_kind'), f"kind IN {KINDS}")
        batch_op.create_index(batch_op.f('ix_items_kind'), ['kind'], unique=False)
    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('item_kind', sa.String(length=12), server_default='goods', nullable=False))
        batch_op.create_check_constraint(op.f('ck_order_lines_known_item_kind'), f"item_kind IN {KINDS}")
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_orders_known_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_orders_known_status'), f"status IN {NEW_STATUSES}")
    with op.batch_alter_table('presales', schema=None) as batch_op:
        batch_op.add_column(sa.Column('priority_opens_at', mall.types.UTCDateTime(), nullable=True))
        batch_op.create_check_constraint(op.f('ck_presales_priority_before_opening'),
                                         'priority_opens_at IS NULL OR priority_opens_at < opens_at')

    op.create_table('service_slots',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('item_id', sa.Integer(), nullable=False),
        sa.Column('starts_at', mall.types.UTCDateTime(), nullable=False),
        sa.Column('ends_at', mall.types.UTCDateTime(), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=False),
        sa.Column('at_home', sa.Boolean(), nullable=False),
        sa.Column('capacity', sa.Integer(), nullable=False),
        sa.Column('booked', sa.Integer(), nullable=False),
        sa.Column('created_at', mall.types.UTCDateTime(), nullable=False),
        sa.CheckConstraint('capacity > 0', name=op.f('ck_service_slots_capacity_positive')),
        sa.CheckConstraint('booked >= 0 AND booked <= capacity', name=op.f('ck_service_slots_never_overbooked')),
        sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_service_slots_ends_after_it_starts')),
        sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_service_slots_item_id_items'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_service_slots_store_id_stores')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_service_slots')),
    )
    op.create_index('ix_service_slots_item_starts', 'service_slots', ['item_id', 'starts_at'], unique=False)
    op.create_table('bookings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('order_id', sa.Integer(), nullable=False),
        sa.Column('slot_id', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('address', sa.String(length=200), nullable=False),
        sa.Column('reschedule_count', sa.Integer(), nullable=False),
        sa.Column('done_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', mall.types.UTCDateTime(), nullable=False),
        sa.Column('updated_at', mall.types.UTCDateTime(), nullable=False),
        sa.CheckConstraint("status IN ('booked', 'rescheduled', 'done', 'cancelled')",
                           name=op.f('ck_bookings_known_status')),
        sa.CheckConstraint('reschedule_count >= 0 AND reschedule_count <= 1',
                           name=op.f('ck_bookings_rescheduled_at_most_once')),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_bookings_order_id_orders'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['slot_id'], ['service_slots.id'], name=op.f('fk_bookings_slot_id_service_slots')),
        sa.ForeignKeyConstraint(['member_id'], ['users.id'], name=op.f('fk_bookings_member_id_users')),
        sa.ForeignKeyConstraint(['done_by_id'], ['users.id'], name=op.f('fk_bookings_done_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_bookings')),
        sa.UniqueConstraint('order_id', name=op.f('uq_bookings_order_id')),
    )
    op.create_index(op.f('ix_bookings_slot_id'), 'bookings', ['slot_id'], unique=False)
    op.create_index(op.f('ix_bookings_member_id'), 'bookings', ['member_id'], unique=False)
    op.create_table('right_specs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('item_id', sa.Integer(), nullable=False),
        sa.Column('right_kind', sa.String(length=24), nullable=False),
        sa.Column('valid_days', sa.Integer(), nullable=False),
        sa.CheckConstraint(f"right_kind IN {RIGHT_KINDS}", name=op.f('ck_right_specs_known_right_kind')),
        sa.CheckConstraint('valid_days BETWEEN 1 AND 3660', name=op.f('ck_right_specs_valid_days_in_range')),
        sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_right_specs_item_id_items'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_right_specs')),
        sa.UniqueConstraint('item_id', name=op.f('uq_right_specs_item_id')),
    )
    op.create_table('right_grants',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('right_kind', sa.String(length=24), nullable=False),
        sa.Column('source', sa.String(length=60), nullable=False),
        sa.Column('item_id', sa.Integer(), nullable=True),
        sa.Column('order_id', sa.Integer(), nullable=True),
        sa.Column('valid_from', mall.types.UTCDateTime(), nullable=False),
        sa.Column('valid_until', mall.types.UTCDateTime(), nullable=False),
        sa.Column('created_at', mall.types.UTCDateTime(), nullable=False),
        sa.CheckConstraint(f"right_kind IN {RIGHT_KINDS}", name=op.f('ck_right_grants_known_right_kind')),
        sa.CheckConstraint('valid_until > valid_from', name=op.f('ck_right_grants_ends_after_it_starts')),
        sa.ForeignKeyConstraint(['account_id'], ['users.id'], name=op.f('fk_right_grants_account_id_users'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_right_grants_item_id_items'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_right_grants_order_id_orders'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_right_grants')),
        sa.UniqueConstraint('source', name=op.f('uq_right_grants_source')),
    )
    op.create_index('ix_right_grants_account_kind', 'right_grants', ['account_id', 'right_kind'], unique=False)


def downgrade():
    op.drop_index('ix_right_grants_account_kind', table_name='right_grants')
    op.drop_table('right_grants')
    op.drop_table('right_specs')
    op.drop_index(op.f('ix_bookings_member_id'), table_name='bookings')
    op.drop_index(op.f('ix_bookings_slot_id'), table_name='bookings')
    op.drop_table('bookings')
    op.drop_index('ix_service_slots_item_starts', table_name='service_slots')
    op.drop_table('service_slots')
    with op.batch_alter_table('presales', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_presales_priority_before_opening'), type_='check')
        batch_op.drop_column('priority_opens_at')
    # A fulfilled order (a coupon, red packet or right) reads as handed over before this.
    op.execute("UPDATE orders SET status = 'picked_up' WHERE status = 'fulfilled'")
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_orders_known_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_orders_known_status'), f"status IN {OLD_STATUSES}")
    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_order_lines_known_item_kind'), type_='check')
        batch_op.drop_column('item_kind')
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_items_kind'))
        batch_op.drop_constraint(op.f('ck_items_known_kind'), type_='check')
        batch_op.drop_column('kind')
