"""Ids, filters and markers on reads are checked as on writes, on every backend.

A NUL or a lone surrogate in a value a read compares with stored ones must be
a typed error (or "not found"), never a database error, and change nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from naas_lib import RequestContext
from naas_lib import exceptions as exc
from tests.unit.conftest import unchanged

CTX = RequestContext(project_id="project-a", user_id="alice", roles=["member"])
ADMIN = RequestContext(project_id="admin-project", user_id="admin", roles=["admin"])
BAD = {"nul": "ab\x00cd", "surrogate": "ab\ud800cd"}

Call = Callable[[Any, dict[str, Any], str], Any]

# (name, call(service, seed, bad)); seed holds ids of real resources of CTX.
CASES: list[tuple[str, Call]] = [
    ("get_network", lambda s, w, b: s.get_network(CTX, b)),
    ("get_subnet", lambda s, w, b: s.get_subnet(CTX, b)),
    ("get_port", lambda s, w, b: s.get_port(CTX, b)),
    ("get_attachment", lambda s, w, b: s.get_attachment(CTX, b)),
    ("get_host", lambda s, w, b: s.get_host(ADMIN, b)),
    ("get_service", lambda s, w, b: s.get_service(ADMIN, b)),
    ("update_network", lambda s, w, b: s.update_network(CTX, b, name="x")),
    ("update_subnet", lambda s, w, b: s.update_subnet(CTX, b, name="x")),
    ("update_port", lambda s, w, b: s.update_port(CTX, b, name="x")),
    ("delete_network", lambda s, w, b: s.delete_network(CTX, b)),
    ("delete_subnet", lambda s, w, b: s.delete_subnet(CTX, b)),
    ("delete_port", lambda s, w, b: s.delete_port(CTX, b)),
    ("delete_service", lambda s, w, b: s.delete_service(ADMIN, b)),
    ("attach_port", lambda s, w, b: s.attach_port(CTX, b, interface_id="vif-1")),
    ("detach_port", lambda s, w, b: s.detach_port(CTX, b)),
    ("set_port_status", lambda s, w, b: s.set_port_status(b, "DOWN")),
    ("plug_port", lambda s, w, b: s.plug_port(b)),
    ("list_service_networks", lambda s, w, b: s.list_service_networks(ADMIN, b)),
    ("associate_service.service_id",
     lambda s, w, b: s.associate_service(ADMIN, b, w["network"])),
    ("associate_service.network_id",
     lambda s, w, b: s.associate_service(ADMIN, w["service"], b)),
    ("disassociate_service", lambda s, w, b: s.disassociate_service(ADMIN, w["service"], b)),
    ("create_port.network_id", lambda s, w, b: s.create_port(CTX, network_id=b)),
    ("create_subnet.network_id",
     lambda s, w, b: s.create_subnet(CTX, network_id=b, cidr="10.9.0.0/24")),
    ("create_port.fixed_ips.subnet_id",
     lambda s, w, b: s.create_port(CTX, network_id=w["network"], fixed_ips=[{"subnet_id": b}])),
    ("list_networks.marker", lambda s, w, b: s.list_networks(CTX, marker=b)),
    ("list_subnets.marker", lambda s, w, b: s.list_subnets(CTX, marker=b)),
    ("list_ports.marker", lambda s, w, b: s.list_ports(CTX, marker=b)),
    ("list_networks.filter", lambda s, w, b: s.list_networks(CTX, name=b)),
    ("list_networks.filter_id", lambda s, w, b: s.list_networks(CTX, id=[w["network"], b])),
    ("list_subnets.filter", lambda s, w, b: s.list_subnets(CTX, network_id=b)),
    ("list_ports.filter", lambda s, w, b: s.list_ports(CTX, device_id=b)),
    ("list_attachments.instance_id", lambda s, w, b: s.list_attachments(CTX, instance_id=b)),
    ("list_attachments.host", lambda s, w, b: s.list_attachments(CTX, host=b)),
    ("list_services.filter", lambda s, w, b: s.list_services(ADMIN, name=b)),
    ("list_services.network_id", lambda s, w, b: s.list_services(ADMIN, network_id=b)),
]


@pytest.fixture(scope="module")
def seeded(module_db_service):
    """One populated database per backend; every case proves it changed nothing."""
    s = module_db_service
    net = s.create_network(CTX, name="net")
    s.create_subnet(CTX, network_id=net.id, cidr="10.0.0.0/24")
    port = s.create_port(CTX, network_id=net.id)
    svc = s.create_service(ADMIN, name="fw", service_type="firewall")
    return s, {"network": net.id, "port": port.id, "service": svc.id}


@pytest.mark.parametrize("bad", sorted(BAD))
@pytest.mark.parametrize("name,call", CASES, ids=[c[0] for c in CASES])
def test_hostile_lookup_is_a_typed_error(seeded, name, call, bad):
    service, seed = seeded
    with unchanged(service):
        try:
            call(service, seed, BAD[bad])
        except exc.NaasError:
            pass
