"""ip_lanes: several high-water marks per allocation pool

Revision ID: 0003_ip_lanes
Revises: 0002_port_bindings
Create Date: 2026-12-04 23:55:00

Each pool gets its lanes lazily, on its first automatic allocation, starting
from ``allocation_pools.next_key`` (which stops moving): no data to convert.
"""

import sqlalchemy as sa
from alembic import op

revision = '0003_ip_lanes'
down_revision = '0002_port_bindings'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ip_lanes',
    sa.Column('pool_id', sa.Integer(), nullable=False),
    sa.Column('lane', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('next_key', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['pool_id'], ['allocation_pools.id'], name=op.f('fk_ip_lanes_pool_id_allocation_pools'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('pool_id', 'lane', name=op.f('pk_ip_lanes'))
    )


def downgrade() -> None:
    op.drop_table('ip_lanes')
