"""cart_lines: the key of the last submit that changed the line

Revision ID: f1b2c3d4e5a6
Revises: c0a1d2e3f4a5
Create Date: 2026-12-02 16:50:00.000000

`cart_lines.last_key`: the "Add to cart" form's key (PlanForm.key) of the last submit that
added to the line. A double tap or a resent form carries the same key and adds nothing;
NULL for lines added before this (and by callers with no key).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f1b2c3d4e5a6'
down_revision = 'c0a1d2e3f4a5'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('cart_lines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_key', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('cart_lines', schema=None) as batch_op:
        batch_op.drop_column('last_key')
