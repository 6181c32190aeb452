"""allocation_pools.hot_until: contention known to every process (issue 14 item 2)

A writer that loses an address race sets ``hot_until`` on the pools of its
network; every allocation reads it with the pools, so the writers of every
process (and node) spread over the lanes at once instead of each learning it
from a lost race of its own. NULL (never contended) for existing pools.

Revision ID: 0007_pool_hot_until
Revises: 0006_scale
"""

import sqlalchemy as sa
from alembic import op

revision = '0007_pool_hot_until'
down_revision = '0006_scale'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('allocation_pools', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hot_until', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('allocation_pools', schema=None) as batch_op:
        batch_op.drop_column('hot_until')
