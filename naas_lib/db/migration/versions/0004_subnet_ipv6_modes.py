"""subnets: Neutron's ipv6_ra_mode and ipv6_address_mode

Revision ID: 0004_subnet_ipv6_modes
Revises: 0003_ip_lanes
Create Date: 2026-12-04 23:55:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0004_subnet_ipv6_modes'
down_revision = '0003_ip_lanes'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('subnets') as batch:
        batch.add_column(sa.Column('ipv6_ra_mode', sa.String(length=32), nullable=True))
        batch.add_column(sa.Column('ipv6_address_mode', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('subnets') as batch:
        batch.drop_column('ipv6_address_mode')
        batch.drop_column('ipv6_ra_mode')
