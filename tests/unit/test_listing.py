"""List calls: attribute filters, fields, sorting and limit/marker paging both ways."""

from __future__ import annotations

import uuid

import pytest

from naas_lib import exceptions as exc


@pytest.fixture
def nets(service, ctx):
    """Five networks with names n0..n4 created in that order; n1 and n3 are down."""
    return [service.create_network(ctx, name=f"n{i}", admin_state_up=i % 2 == 0)
            for i in range(5)]


def names(items) -> list[str]:
    return [i.name if hasattr(i, "name") else i["name"] for i in items]


def test_scalar_and_list_filters(service, ctx, nets):
    assert names(service.list_networks(ctx, name="n2")) == ["n2"]
    assert sorted(names(service.list_networks(ctx, admin_state_up=False))) == ["n1", "n3"]
    assert sorted(names(service.list_networks(ctx, name=["n0", "n4", "zz"]))) == ["n0", "n4"]
    assert service.list_networks(ctx, name="nothing") == []
    assert names(service.list_networks(ctx, id=nets[3].id)) == ["n3"]
    assert len(service.list_networks(ctx, tenant_id="project-a")) == 5
    assert service.list_networks(ctx, project_id="project-b") == []


def test_port_filters(service, ctx, net, subnet):
    a = service.create_port(ctx, network_id=net.id, device_id="vm-1", name="a")
    b = service.create_port(ctx, network_id=net.id, device_id="vm-2", name="b")
    other = service.create_network(ctx)
    c = service.create_port(ctx, network_id=other.id, device_id="vm-1", name="c")
    assert names(service.list_ports(ctx, network_id=net.id, device_id="vm-1")) == ["a"]
    assert sorted(names(service.list_ports(ctx, device_id="vm-1"))) == ["a", "c"]
    assert sorted(names(service.list_ports(ctx, device_id=["vm-1", "vm-2"]))) == ["a", "b", "c"]
    ip_b = b.fixed_ips[0].ip_address
    assert names(service.list_ports(ctx, fixed_ips={"ip_address": ip_b})) == ["b"]
    assert sorted(names(service.list_ports(ctx, fixed_ips=[{"subnet_id": subnet.id}]))) == \
        ["a", "b"]
    assert a.id != c.id


def test_subnet_filters(service, ctx, net):
    service.create_subnet(ctx, network_id=net.id, cidr="10.0.0.0/24", name="v4")
    service.create_subnet(ctx, network_id=net.id, cidr="2001:db8::/64", name="v6")
    assert names(service.list_subnets(ctx, ip_version=6)) == ["v6"]
    assert names(service.list_subnets(ctx, cidr="10.0.0.0/24")) == ["v4"]
    assert len(service.list_subnets(ctx, network_id=net.id)) == 2


@pytest.mark.parametrize("lister,field", [("list_networks", "colour"),
                                          ("list_subnets", "mtu"),
                                          ("list_ports", "hostname")])
def test_unknown_filter(service, ctx, lister, field):
    with pytest.raises(exc.UnknownField, match=field):
        getattr(service, lister)(ctx, **{field: "x"})


def test_fields_give_dicts(service, ctx, nets):
    got = service.list_networks(ctx, fields=["id", "name"], sorts=[("name", True)])
    assert got[0] == {"id": nets[0].id, "name": "n0"}
    assert all(set(d) == {"id", "name"} for d in got)


def test_sorts(service, ctx, nets):
    assert names(service.list_networks(ctx, sorts=[("name", False)])) == \
        ["n4", "n3", "n2", "n1", "n0"]
    by_state = service.list_networks(ctx, sorts=[("admin_state_up", True), ("name", False)])
    assert names(by_state) == ["n3", "n1", "n4", "n2", "n0"]
    with pytest.raises(exc.InvalidInput):
        service.list_networks(ctx, sorts=[("no_such_key", True)])


def test_sort_direction_words(service, ctx, nets):
    assert names(service.list_networks(ctx, sorts=[("name", "desc")])) == \
        ["n4", "n3", "n2", "n1", "n0"]
    assert names(service.list_networks(ctx, sorts=[("name", "asc")]))[0] == "n0"
    for bad in ("down", 0, None):
        with pytest.raises(exc.InvalidInput, match="sort_dir"):
            service.list_networks(ctx, sorts=[("name", bad)])


def test_limit_and_marker_forward(service, ctx, nets):
    order = [("name", True)]
    page1 = service.list_networks(ctx, sorts=order, limit=2)
    page2 = service.list_networks(ctx, sorts=order, limit=2, marker=page1[-1].id)
    page3 = service.list_networks(ctx, sorts=order, limit=2, marker=page2[-1].id)
    assert [names(p) for p in (page1, page2, page3)] == [["n0", "n1"], ["n2", "n3"], ["n4"]]
    assert service.list_networks(ctx, sorts=order, limit=2, marker=page3[-1].id) == []


def test_page_reverse(service, ctx, nets):
    order = [("name", True)]
    # the page before n3: the two networks preceding it, still in ascending order
    back = service.list_networks(ctx, sorts=order, limit=2, marker=nets[3].id,
                                 page_reverse=True)
    assert names(back) == ["n1", "n2"]
    back2 = service.list_networks(ctx, sorts=order, limit=2, marker=back[0].id,
                                  page_reverse=True)
    assert names(back2) == ["n0"]
    # without a marker: the last page
    assert names(service.list_networks(ctx, sorts=order, limit=2, page_reverse=True)) == \
        ["n3", "n4"]


def test_paging_with_duplicate_sort_values_is_complete(service, ctx):
    for _ in range(5):
        service.create_network(ctx, name="same")
    seen, marker = [], None
    while True:
        page = service.list_networks(ctx, sorts=[("name", True)], limit=2, marker=marker)
        if not page:
            break
        seen += [n.id for n in page]
        marker = page[-1].id
    assert len(seen) == 5 and len(set(seen)) == 5


def test_default_order_is_stable_by_id(service, ctx, nets):
    listed = [n.id for n in service.list_networks(ctx)]
    assert listed == sorted(n.id for n in nets)


def test_port_and_subnet_paging(service, ctx, net, subnet):
    ports = [service.create_port(ctx, network_id=net.id, name=f"p{i}") for i in range(3)]
    first = service.list_ports(ctx, sorts=[("name", True)], limit=1)
    rest = service.list_ports(ctx, sorts=[("name", True)], marker=first[0].id)
    assert names(first + rest) == ["p0", "p1", "p2"]
    assert len(ports) == 3
    sub2 = service.create_subnet(ctx, network_id=net.id, cidr="10.1.0.0/24", name="z")
    assert [s.id for s in service.list_subnets(ctx, sorts=[("name", False)], limit=1)] == \
        [sub2.id]


def test_unknown_marker(service, ctx, nets):
    with pytest.raises(exc.NetworkNotFound):
        service.list_networks(ctx, marker=str(uuid.uuid4()))
    with pytest.raises(exc.PortNotFound):
        service.list_ports(ctx, marker=str(uuid.uuid4()))


@pytest.mark.parametrize("limit", [-1, "2", True, 1.5])
def test_bad_limit(service, ctx, nets, limit):
    with pytest.raises(exc.InvalidInput):
        service.list_networks(ctx, limit=limit)


def test_marker_of_hidden_resource_is_not_found(service, ctx, other_ctx, nets):
    """Paging must not reveal that another project's private network exists."""
    hidden = service.create_network(other_ctx, name="n2.5")
    with pytest.raises(exc.NetworkNotFound):
        service.list_networks(ctx, sorts=[("name", True)], marker=hidden.id)
    port = service.create_port(other_ctx, network_id=hidden.id)
    with pytest.raises(exc.PortNotFound):
        service.list_ports(ctx, marker=port.id)


@pytest.mark.parametrize("ascending", [True, False])
def test_paging_over_a_nullable_sort_key(service, admin_ctx, ascending):
    """Local networks have no segmentation id: paging by it must neither fail nor lose rows."""
    made = []
    for _ in range(3):
        made.append(service.create_network(admin_ctx, network_type="local"))
        made.append(service.create_network(admin_ctx))
    order = [("segmentation_id", ascending)]
    full = service.list_networks(admin_ctx, sorts=order)
    seen, marker = [], None
    while True:
        page = service.list_networks(admin_ctx, sorts=order, limit=2, marker=marker)
        if not page:
            break
        seen += page
        marker = page[-1].id
    assert [n.id for n in seen] == [n.id for n in full]
    assert {n.id for n in seen} == {n.id for n in made}
    seg = [n.segmentation_id for n in full]
    nulls_first = [None] * 3 + sorted(s for s in seg if s is not None)
    assert seg == (nulls_first if ascending else nulls_first[::-1])
    # and backwards from the last row
    back = service.list_networks(admin_ctx, sorts=order, limit=4, marker=full[-1].id,
                                 page_reverse=True)
    assert [n.id for n in back] == [n.id for n in full[-5:-1]]


def test_filter_values_are_converted_to_the_attribute_type(service, ctx, nets):
    """'false' and '1450' (as from a query string) match like False and 1450."""
    assert sorted(names(service.list_networks(ctx, admin_state_up="false"))) == ["n1", "n3"]
    assert len(service.list_networks(ctx, mtu="1450")) == 5
    assert len(service.list_networks(ctx, shared=["False", True])) == 5
    assert service.list_networks(ctx, name=[]) == []
    for bad in ({"admin_state_up": "maybe"}, {"mtu": "big"}, {"shared": [True, "x"]}):
        with pytest.raises(exc.InvalidInput):
            service.list_networks(ctx, **bad)


def test_filter_on_null(service, admin_ctx):
    local = service.create_network(admin_ctx, network_type="local")
    vx = service.create_network(admin_ctx)
    assert [n.id for n in service.list_networks(admin_ctx, segmentation_id=None)] == [local.id]
    got = service.list_networks(admin_ctx, segmentation_id=[None, vx.segmentation_id])
    assert {n.id for n in got} == {local.id, vx.id}


def test_malformed_list_parameters(service, ctx, nets):
    assert len(service.list_networks(ctx, limit=2**40)) == 5  # larger than any page: no limit
    for bad in ({"sorts": "name"}, {"sorts": [("name",)]}, {"sorts": [(5, True)]},
                {"fields": "name"}, {"fields": [1]}, {"name": {"a": 1}}, {"mtu": 2**70}):
        with pytest.raises(exc.InvalidInput):
            service.list_networks(ctx, **bad)
    with pytest.raises(exc.InvalidInput):
        service.get_network(ctx, nets[0].id, fields="name")
