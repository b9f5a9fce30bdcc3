"""ledger: a 0-point adjust line that only takes spend off the tier window

Revision ID: d1e2f3a4b5c6
Revises: f1b2c3d4e5a6
Create Date: 2026-12-02 17:00:00.000000

A refund of receipt lines that earned no points (a gift card, an excluded category, a unit
whose share rounded to 0) still takes its spend back from the tier window: one ledger line
of kind `adjust`, 0 points, negative spend_minor. `points <> 0` becomes
`points <> 0 OR (kind = 'adjust' AND spend_minor < 0)`. The downgrade deletes such lines
(they hold no points; the spend they took off counts again).
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'd1e2f3a4b5c6'
down_revision = 'f1b2c3d4e5a6'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_ledger_entries_points_not_zero'), type_='check')
        batch_op.create_check_constraint(op.f('ck_ledger_entries_points_or_spend'),
                                         "points <> 0 OR (kind = 'adjust' AND spend_minor < 0)")


def downgrade():
    op.execute("DELETE FROM ledger_entries WHERE points = 0")
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_ledger_entries_points_or_spend'), type_='check')
        batch_op.create_check_constraint(op.f('ck_ledger_entries_points_not_zero'), "points <> 0")
