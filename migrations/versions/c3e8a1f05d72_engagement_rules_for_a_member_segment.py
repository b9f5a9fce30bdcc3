"""engagement: an earning rule may be scoped to a member's RFM segment

Revision ID: c3e8a1f05d72
Revises: b7d3e91c4a60
Create Date: 2026-12-03 10:00:00.000000

earning_rules.segment (NULL: every member). The member_segments table is unchanged: only its
Python class moved from mall/hq to mall/engagement, so that earning can read it.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c3e8a1f05d72'
down_revision = 'b7d3e91c4a60'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('earning_rules', schema=None) as batch_op:
        batch_op.add_column(sa.Column('segment', sa.String(length=10), nullable=True))
        batch_op.create_check_constraint(
            op.f('ck_earning_rules_known_segment'),
            "segment IS NULL OR segment IN ('loyal', 'potential', 'dormant', 'ordinary')")


def downgrade():
    with op.batch_alter_table('earning_rules', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_earning_rules_known_segment'), type_='check')
        batch_op.drop_column('segment')
