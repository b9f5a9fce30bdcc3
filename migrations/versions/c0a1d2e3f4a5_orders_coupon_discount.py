"""orders: the coupon discount an order was priced with

Revision ID: c0a1d2e3f4a5
Revises: e7a1c2d3f4b5
Create Date: 2026-12-02 16:10:00.000000

`orders.coupon_discount_minor`: what a coupon took off the order's cash when it was placed
(0: none). The wallet gives a coupon back when an order expires or its payment fails and
forgets the order; a payment arriving after that must not confirm the order at the discount
of a coupon the member has again (checkout/payments.py refunds it instead).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c0a1d2e3f4a5'
down_revision = 'e7a1c2d3f4b5'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('coupon_discount_minor', sa.Integer(), server_default='0', nullable=False))
        batch_op.create_check_constraint(op.f('ck_orders_coupon_discount_not_negative'),
                                         "coupon_discount_minor >= 0")


def downgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_orders_coupon_discount_not_negative'), type_='check')
        batch_op.drop_column('coupon_discount_minor')
