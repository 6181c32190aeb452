"""port bindings per host: a port_bindings table replaces the ports' binding columns

Each existing port becomes one ACTIVE binding (host "" while unbound, as
Neutron stores it) carrying the port's former host, VIF type, VIF details and
profile; the columns are then dropped from ``ports``.

Revision ID: 0002_port_bindings
Revises: 0001_initial
"""

import sqlalchemy as sa
from alembic import op

revision = '0002_port_bindings'
down_revision = '0001_initial'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'port_bindings',
        sa.Column('port_id', sa.String(length=36), nullable=False),
        sa.Column('host', sa.String(length=255), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=True),
        sa.Column('vif_type', sa.String(length=64), nullable=False),
        sa.Column('vif_details', sa.Text(), nullable=False),
        sa.Column('profile', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['port_id'], ['ports.id'],
                                name=op.f('fk_port_bindings_port_id_ports'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('port_id', 'host', name=op.f('pk_port_bindings')),
        sa.UniqueConstraint('port_id', 'active', name=op.f('uniq_port_bindings0port_id_active')),
    )
    with op.batch_alter_table('port_bindings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_port_bindings_host'), ['host'], unique=False)
    op.execute(
        "INSERT INTO port_bindings (port_id, host, status, active, vif_type, vif_details, "
        "profile) SELECT id, COALESCE(binding_host_id, ''), 'ACTIVE', "
        f"{_true()}, binding_vif_type, binding_vif_details, binding_profile FROM ports")
    with op.batch_alter_table('ports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ports_binding_host_id'))
        batch_op.drop_column('binding_host_id')
        batch_op.drop_column('binding_profile')
        batch_op.drop_column('binding_vif_type')
        batch_op.drop_column('binding_vif_details')


def _true() -> str:
    return 'true' if op.get_bind().dialect.name == 'postgresql' else '1'


def downgrade() -> None:
    with op.batch_alter_table('ports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('binding_host_id', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('binding_profile', sa.Text(), nullable=False,
                                      server_default='{}'))
        batch_op.add_column(sa.Column('binding_vif_type', sa.String(length=64), nullable=False,
                                      server_default='unbound'))
        batch_op.add_column(sa.Column('binding_vif_details', sa.Text(), nullable=False,
                                      server_default='{}'))
    bindings = sa.table('port_bindings', sa.column('port_id'), sa.column('host'),
                        sa.column('active'), sa.column('vif_type'), sa.column('vif_details'),
                        sa.column('profile'))
    ports = sa.table('ports', sa.column('id'), sa.column('binding_host_id'),
                     sa.column('binding_profile'), sa.column('binding_vif_type'),
                     sa.column('binding_vif_details'))
    conn = op.get_bind()
    rows = conn.execute(sa.select(bindings).where(bindings.c.active.is_(True))).fetchall()
    for row in rows:
        conn.execute(sa.update(ports).where(ports.c.id == row.port_id).values(
            binding_host_id=row.host or None, binding_profile=row.profile,
            binding_vif_type=row.vif_type, binding_vif_details=row.vif_details))
    with op.batch_alter_table('ports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ports_binding_host_id'), ['binding_host_id'],
                              unique=False)
    op.drop_table('port_bindings')
