"""security groups, allowed address pairs and port security (issue 11)

Existing ports keep today's behaviour (``port_security_enabled`` false);
networks default to true, so ports created after the upgrade are filtered.

Revision ID: 0005_security_groups
Revises: 0004_subnet_ipv6_modes
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

# Kept here, not imported from the models: a migration is frozen in time.
TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

revision = '0005_security_groups'
down_revision = '0004_subnet_ipv6_modes'
branch_labels = None
depends_on = None


def _standard() -> list[sa.Column]:
    return [sa.Column('revision_number', sa.BigInteger(), nullable=False),
            sa.Column('created_at', TIMESTAMP, nullable=False),
            sa.Column('updated_at', TIMESTAMP, nullable=False)]


def upgrade() -> None:
    with op.batch_alter_table('networks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('port_security_enabled', sa.Boolean(), nullable=False,
                                      server_default=sa.true()))
    with op.batch_alter_table('ports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('port_security_enabled', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    op.create_table(
        'security_groups',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('project_id', sa.String(length=255), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('description', sa.String(length=255), nullable=False),
        *_standard(),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_security_groups')))
    with op.batch_alter_table('security_groups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_security_groups_project_id'), ['project_id'],
                              unique=False)
    op.create_table(
        'default_security_groups',
        sa.Column('project_id', sa.String(length=255), nullable=False),
        sa.Column('security_group_id', sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ['security_group_id'], ['security_groups.id'],
            name=op.f('fk_default_security_groups_security_group_id_security_groups'),
            ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('project_id', name=op.f('pk_default_security_groups')),
        sa.UniqueConstraint('security_group_id',
                            name=op.f('uniq_default_security_groups0security_group_id')))
    op.create_table(
        'security_group_rules',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('project_id', sa.String(length=255), nullable=False),
        sa.Column('security_group_id', sa.String(length=36), nullable=False),
        sa.Column('remote_group_id', sa.String(length=36), nullable=True),
        sa.Column('direction', sa.String(length=16), nullable=False),
        sa.Column('ethertype', sa.String(length=16), nullable=False),
        sa.Column('protocol', sa.String(length=40), nullable=True),
        sa.Column('port_range_min', sa.Integer(), nullable=True),
        sa.Column('port_range_max', sa.Integer(), nullable=True),
        sa.Column('remote_ip_prefix', sa.String(length=64), nullable=True),
        sa.Column('description', sa.String(length=255), nullable=False),
        sa.Column('rule_key', sa.String(length=255), nullable=False),
        *_standard(),
        sa.ForeignKeyConstraint(
            ['security_group_id'], ['security_groups.id'],
            name=op.f('fk_security_group_rules_security_group_id_security_groups'),
            ondelete='CASCADE'),
        sa.ForeignKeyConstraint(
            ['remote_group_id'], ['security_groups.id'],
            name=op.f('fk_security_group_rules_remote_group_id_security_groups'),
            ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_security_group_rules')),
        sa.UniqueConstraint('security_group_id', 'rule_key',
                            name=op.f('uniq_security_group_rules0security_group_id_rule_key')))
    with op.batch_alter_table('security_group_rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_security_group_rules_project_id'), ['project_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_security_group_rules_remote_group_id'),
                              ['remote_group_id'], unique=False)
    op.create_table(
        'port_security_groups',
        sa.Column('port_id', sa.String(length=36), nullable=False),
        sa.Column('security_group_id', sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(['port_id'], ['ports.id'],
                                name=op.f('fk_port_security_groups_port_id_ports'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(
            ['security_group_id'], ['security_groups.id'],
            name=op.f('fk_port_security_groups_security_group_id_security_groups')),
        sa.PrimaryKeyConstraint('port_id', 'security_group_id',
                                name=op.f('pk_port_security_groups')))
    with op.batch_alter_table('port_security_groups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_port_security_groups_security_group_id'),
                              ['security_group_id'], unique=False)
    op.create_table(
        'allowed_address_pairs',
        sa.Column('port_id', sa.String(length=36), nullable=False),
        sa.Column('mac_address', sa.String(length=32), nullable=False),
        sa.Column('ip_address', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['port_id'], ['ports.id'],
                                name=op.f('fk_allowed_address_pairs_port_id_ports'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('port_id', 'mac_address', 'ip_address',
                                name=op.f('pk_allowed_address_pairs')))


def downgrade() -> None:
    op.drop_table('allowed_address_pairs')
    op.drop_table('port_security_groups')
    op.drop_table('security_group_rules')
    op.drop_table('default_security_groups')
    op.drop_table('security_groups')
    with op.batch_alter_table('ports', schema=None) as batch_op:
        batch_op.drop_column('port_security_enabled')
    with op.batch_alter_table('networks', schema=None) as batch_op:
        batch_op.drop_column('port_security_enabled')
