"""The life of a port through the public door, on in-memory SQLite."""

from naas_lib import constants


def test_port_life_cycle(service, ctx):
    net = service.create_network(ctx, name="net")
    sub = service.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/29")
    port = service.create_port(ctx, network_id=net.id)
    assert port.fixed_ips[0].subnet_id == sub.id
    assert port.fixed_ips[0].ip_address == "10.0.0.2"
    assert port.status == constants.PORT_STATUS_DOWN
    service.attach_port(ctx, port.id, "vif-1", instance_id="vm-1", host="compute-1")
    bound = service.get_port(ctx, port.id)
    assert bound.binding_host_id == "compute-1"
    assert bound.status == constants.PORT_STATUS_BUILD
    service.detach_port(ctx, port.id)
    service.delete_port(ctx, port.id)
    again = service.create_port(ctx, network_id=net.id)
    assert again.fixed_ips[0].ip_address == "10.0.0.2"  # the address came back to the pool
