"""indexes for one host's reads at scale (issue 13)

``ports (network_id, device_owner, device_id)``: the DHCP reservation ports of
a host's networks (every reservation port has the same device id, so the
device id index alone visits every network's) and Nova's "ports of this
owner on this network".
``attachments.host``: a host's attachments (``list_attachments(host=...)``)
are found by index instead of visiting every attachment. A host's ports,
their networks' peers and a port's rows are already reached through
existing indexes (``port_bindings.host``, ``ports (network_id, mac_address)``,
primary keys); see doc/source/scale.rst.

Revision ID: 0006_scale
Revises: 0005_security_groups
"""

from alembic import op

revision = '0006_scale'
down_revision = '0005_security_groups'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('ports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ports_network_id_device_owner_device_id'),
                              ['network_id', 'device_owner', 'device_id'], unique=False)
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attachments_host'), ['host'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attachments_host'))
    with op.batch_alter_table('ports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ports_network_id_device_owner_device_id'))
