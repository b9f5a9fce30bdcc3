"""accounts: users.session_version, so logout, a new password and a freeze end every session

Revision ID: 5e1f0a7c3b21
Revises: aebbf8b48b3c
Create Date: 2026-11-25 10:00:00.000000

Existing rows start at 1. Cookies issued before this revision carry a bare user id, which
the app no longer accepts: members logged in at deploy time log in once more.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5e1f0a7c3b21'
down_revision = 'aebbf8b48b3c'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default='1', nullable=False))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('session_version')
