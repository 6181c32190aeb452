"""The installed ``naas`` command, run as a subprocess against a temporary SQLite file.

Checks what an operator or a script sees: tables, JSON documents, exit codes,
one-line error messages without tracebacks, and ``--help`` everywhere.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys

import pytest

from naas_lib.cli import main as cli_main


def _naas_path() -> str:
    path = os.path.join(os.path.dirname(sys.executable), "naas")
    if not os.path.exists(path):
        path = shutil.which("naas") or ""
    if not path:
        pytest.fail("the naas console script is not installed (pip install -e .)")
    return path


NAAS = _naas_path()


class Naas:
    """Runs the command against one database, as admin unless told otherwise."""

    def __init__(self, url: str, env: dict[str, str]) -> None:
        self.url, self.env = url, env

    def run(self, *args: str, db: bool = True) -> subprocess.CompletedProcess:
        argv = [NAAS, *(["--database-url", self.url] if db else []), *args]
        return subprocess.run(argv, capture_output=True, text=True, env=self.env, timeout=120)

    def ok(self, *args: str) -> str:
        out = self.run(*args)
        assert out.returncode == 0, (args, out.stdout, out.stderr)
        assert out.stderr == "", out.stderr
        return out.stdout

    def json(self, *args: str):
        return json.loads(self.ok(*args, "-f", "json"))

    def fails(self, *args: str, code: int = 1) -> str:
        out = self.run(*args)
        assert out.returncode == code, (args, out.returncode, out.stdout, out.stderr)
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1, f"one line expected, got: {out.stderr!r}"
        assert "Traceback" not in out.stderr
        return lines[0]


@pytest.fixture
def naas(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAAS_")}
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg")  # never the real user's database
    return Naas(f"sqlite:///{tmp_path / 'cli.sqlite'}", env)


def test_network_lifecycle_table_and_json(naas):
    net = naas.json("network", "create", "web", "--mtu", "1400", "--description", "front")
    assert net["name"] == "web" and net["mtu"] == 1400 and net["description"] == "front"
    assert net["provider:network_type"] == "vxlan" and net["tenant_id"] == net["project_id"]
    table = naas.ok("network", "list").splitlines()
    assert table[0].split()[:3] == ["id", "name", "provider:network_type"]
    assert set(table[1]) <= {"-", " "}
    assert table[2].split()[:3] == [net["id"], "web", "vxlan"]
    shown = naas.ok("network", "show", "web")
    assert any(line.split() == ["mtu", "1400"] for line in shown.splitlines())
    updated = naas.json("network", "update", net["id"], "--name", "www",
                        "--revision", str(net["revision_number"]))
    assert updated["name"] == "www" and updated["revision_number"] == net["revision_number"] + 1
    assert "revision" in naas.fails("network", "update", "www", "--name", "x",
                                    "--revision", "1")
    naas.ok("network", "delete", "www")
    assert naas.json("network", "list") == []


def test_subnet_port_attach_detach(naas):
    naas.ok("network", "create", "app")
    sub = naas.json("subnet", "create", "app", "10.5.0.0/24", "--name", "app-v4",
                    "--allocation-pool", "start=10.5.0.100,end=10.5.0.110",
                    "--dns-nameserver", "10.5.0.2")
    assert sub["allocation_pools"] == [{"start": "10.5.0.100", "end": "10.5.0.110"}]
    assert sub["gateway_ip"] == "10.5.0.1" and sub["dns_nameservers"] == ["10.5.0.2"]
    port = naas.json("port", "create", "app", "--name", "p1",
                     "--fixed-ip", f"subnet={sub['id']},ip-address=10.5.0.105")
    assert port["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.5.0.105"}]
    assert "binding:host_id" in port and port["tenant_id"] == "admin"
    att = naas.json("port", "attach", "p1", "vif-7", "--instance-id", "vm-7")
    assert (att["port_id"], att["interface_id"], att["instance_id"]) == (
        port["id"], "vif-7", "vm-7")
    assert "attached" in naas.fails("port", "delete", "p1")
    assert "attached ports" in naas.fails("network", "delete", "app")
    assert naas.json("port", "detach", "p1")["interface_id"] == "vif-7"
    listed = naas.ok("port", "list", "--network", "app")
    assert "10.5.0.105" in listed and "p1" in listed
    naas.ok("port", "delete", "p1")
    naas.ok("subnet", "delete", "app-v4")
    naas.ok("network", "delete", "app")


def test_services_and_associations(naas):
    net = naas.json("network", "create", "edge")
    svc = naas.json("service", "create", "fw1", "--type", "firewall",
                    "--description", "stateful")
    assert (svc["service_type"], svc["description"], svc["network_ids"]) == (
        "firewall", "stateful", [])
    assoc = naas.json("service", "associate", "fw1", "edge")
    assert (assoc["service_id"], assoc["network_id"]) == (svc["id"], net["id"])
    assert [s["id"] for s in naas.json("service", "list", "--network", "edge")] == [svc["id"]]
    assert [n["id"] for n in naas.json("service", "networks", "fw1")] == [net["id"]]
    assert "already" in naas.fails("service", "associate", "fw1", "edge")
    naas.ok("service", "disassociate", "fw1", "edge")
    assert naas.json("service", "list", "--network", "edge") == []
    naas.ok("service", "associate", "fw1", "edge")
    naas.ok("service", "delete", "fw1")
    assert naas.json("service", "list") == []
    assert "could not be found" in naas.fails("service", "show", svc["id"])


def test_project_scoping(naas):
    naas.ok("--project", "alpha", "network", "create", "mine")
    assert naas.json("--project", "beta", "network", "list") == []
    assert "could not be found" in naas.fails("--project", "beta", "network", "show", "mine")
    assert [n["name"] for n in naas.json("network", "list")] == ["mine"]  # admin sees all
    assert "Not authorized" in naas.fails("--project", "beta", "network", "create", "x",
                                          "--shared", "true")


@pytest.mark.parametrize("argv, code, words", [
    (["network", "show", "no-such"], 1, "could not be found"),
    (["network", "create", "x", "--mtu", "70000"], 1, "MTU 70000"),
    (["network", "create", "x", "--mtu", "big"], 2, "invalid int value"),
    (["network", "create", "x", "--shared", "maybe"], 2, "not a boolean"),
    (["network", "update", "x"], 2, "nothing to update"),
    (["subnet", "create", "no-net", "10.0.0.0/24"], 1, "could not be found"),
    (["service", "create", "s", "--type", "router"], 2, "invalid choice"),
    (["service", "create", "s"], 2, "--type"),
    (["port", "create"], 2, "required"),
    (["network", "frobnicate"], 2, "invalid choice"),
    ([], 2, "required"),
    (["--format", "xml", "network", "list"], 2, "invalid choice"),
])
def test_bad_input_is_one_line_and_non_zero(naas, argv, code, words):
    assert words in naas.fails(*argv, code=code)


def test_bad_subnet_input(naas):
    naas.ok("network", "create", "n")
    assert "Invalid CIDR" in naas.fails("subnet", "create", "n", "10.0.0.0/33")
    assert "start=...,end=..." in naas.fails("subnet", "create", "n", "10.0.0.0/24",
                                             "--allocation-pool", "10.0.0.5-10.0.0.9", code=2)


def test_unreachable_database_is_one_line(naas):
    out = naas.run("--database-url", "postgresql+psycopg2://nobody@127.0.0.1:1/none",
                   "network", "list", db=False)
    assert out.returncode == 3
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


def test_default_database_is_the_user_data_file(naas, tmp_path):
    out = naas.run("network", "create", "embedded", db=False)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "xdg" / "naas" / "naas.sqlite").exists()
    assert "embedded" in naas.run("network", "list", db=False).stdout


def test_config_file_names_the_database(naas, tmp_path):
    conf = tmp_path / "naas.conf"
    conf.write_text(f"[database]\nconnection = {naas.url}\n")
    naas.ok("network", "create", "from-conf")
    out = naas.run("--config-file", str(conf), "network", "list", db=False)
    assert "from-conf" in out.stdout
    assert "does not exist" in naas.fails("--config-file", str(tmp_path / "nope.conf"),
                                          "network", "list", code=2)


def _leaf_commands(parser, prefix=()):
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _leaf_commands(sub, (*prefix, name))
            return
    yield prefix


def test_help_on_every_subcommand(naas, capsys):
    leaves = list(_leaf_commands(cli_main.build_parser()))
    assert ("network", "create") in leaves and ("service", "associate") in leaves
    groups = sorted({leaf[:1] for leaf in leaves})
    # Every parser in-process (one interpreter start per command would take minutes)...
    for argv in [(), *groups, *leaves]:
        with pytest.raises(SystemExit) as info:
            cli_main.main([*argv, "--help"])
        assert info.value.code == 0, argv
        assert capsys.readouterr().out.startswith(f"usage: naas {' '.join(argv)}".rstrip())
    # ...and the installed command for a group and a leaf.
    for argv in (("service",), ("port", "attach")):
        out = naas.run(*argv, "--help", db=False)
        assert out.returncode == 0 and out.stdout.startswith("usage: naas"), out.stderr


def test_subnet_ipv6_modes_are_set_and_cleared(tmp_path):
    url = f"sqlite:///{tmp_path}/modes.sqlite"
    naas = [os.path.join(os.path.dirname(sys.executable), "naas"), "--database-url", url]
    run = functools.partial(subprocess.run, capture_output=True, text=True, timeout=120)
    assert run([*naas, "network", "create", "n6"]).returncode == 0
    made = run([*naas, "-f", "json", "subnet", "create", "n6", "fd00::/64", "--name", "s6",
                "--ipv6-ra-mode", "slaac", "--ipv6-address-mode", "slaac"])
    assert made.returncode == 0, made.stderr
    doc = json.loads(made.stdout)
    assert (doc["ipv6_ra_mode"], doc["ipv6_address_mode"]) == ("slaac", "slaac")
    cleared = run([*naas, "-f", "json", "subnet", "update", "s6", "--no-ipv6-ra-mode",
                   "--no-ipv6-address-mode"])
    assert cleared.returncode == 0, cleared.stderr
    doc = json.loads(cleared.stdout)
    assert (doc["ipv6_ra_mode"], doc["ipv6_address_mode"]) == (None, None)
    bad = run([*naas, "subnet", "update", "s6", "--ipv6-ra-mode", "bogus"])
    assert bad.returncode == 2


def test_security_groups_rules_and_port_options(tmp_path):
    url = f"sqlite:///{tmp_path}/sg.sqlite"
    naas = [os.path.join(os.path.dirname(sys.executable), "naas"), "--database-url", url]
    run = functools.partial(subprocess.run, capture_output=True, text=True, timeout=120)
    group = run([*naas, "-f", "value", "security-group", "create", "web", "-c", "id"])
    assert group.returncode == 0, group.stderr
    group_id = group.stdout.strip()
    rule = [*naas, "security-group-rule", "create", "web", "--direction", "ingress",
            "--protocol", "tcp", "--port-range-min", "80", "--port-range-max", "80"]
    assert run(rule).returncode == 0
    again = run(rule)
    assert again.returncode == 1 and "already exists" in again.stderr
    listed = run([*naas, "-f", "value", "security-group-rule", "list", "--group", "web",
                  "-c", "direction", "-c", "protocol", "-c", "port_range_min"])
    assert sorted(listed.stdout.split("\n")[:-1]) == ["egress  ", "egress  ", "ingress tcp 80"]
    assert run([*naas, "network", "create", "n"]).returncode == 0
    assert run([*naas, "subnet", "create", "n", "10.0.0.0/24"]).returncode == 0
    port = run([*naas, "-f", "json", "port", "create", "n", "--security-group", group_id,
                "--allowed-address", "ip-address=10.0.0.50"])
    assert port.returncode == 0, port.stderr
    doc = json.loads(port.stdout)
    assert doc["security_groups"] == [group_id]
    assert [p["ip_address"] for p in doc["allowed_address_pairs"]] == ["10.0.0.50"]
    in_use = run([*naas, "security-group", "delete", "web"])
    assert in_use.returncode == 1 and "in use" in in_use.stderr.lower()


def test_port_security_groups_and_pairs_are_cleared_and_unset_like_openstack(tmp_path):
    url = f"sqlite:///{tmp_path}/sgclear.sqlite"
    naas = [os.path.join(os.path.dirname(sys.executable), "naas"), "--database-url", url]
    run = functools.partial(subprocess.run, capture_output=True, text=True, timeout=120)

    def port_doc(*args):
        done = run([*naas, "-f", "json", "port", *args])
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    ids = [run([*naas, "-f", "value", "security-group", "create", name, "-c", "id"])
           .stdout.strip() for name in ("web", "db")]
    assert all(ids)
    assert run([*naas, "network", "create", "n"]).returncode == 0
    assert run([*naas, "subnet", "create", "n", "10.0.0.0/24"]).returncode == 0
    doc = port_doc("create", "n", "--name", "p", "--security-group", ids[0],
                   "--security-group", ids[1], "--allowed-address", "ip-address=10.0.0.50",
                   "--allowed-address", "ip-address=10.0.0.51,mac-address=fa:16:3e:00:00:51")
    assert sorted(doc["security_groups"]) == sorted(ids)
    # unset removes what is named and keeps the rest.
    doc = port_doc("unset", "p", "--security-group", "web",
                   "--allowed-address", "ip-address=10.0.0.51")
    assert doc["security_groups"] == [ids[1]]
    assert [p["ip_address"] for p in doc["allowed_address_pairs"]] == ["10.0.0.50"]
    # --no-security-group with --security-group: exactly the ones given.
    doc = port_doc("set", "p", "--no-security-group", "--security-group", ids[0])
    assert doc["security_groups"] == [ids[0]]
    # Port security off while the port has groups and pairs: refused, nothing changes ...
    refused = run([*naas, "port", "set", "p", "--port-security", "false"])
    assert refused.returncode == 1 and "cleared" in refused.stderr
    assert port_doc("show", "p")["port_security_enabled"] is True
    # ... and accepted with both cleared in the same command.
    doc = port_doc("update", "p", "--port-security", "false", "--no-security-group",
                   "--no-allowed-address")
    assert doc["port_security_enabled"] is False
    assert doc["security_groups"] == [] and doc["allowed_address_pairs"] == []
    # A port created with --no-security-group does not join the default group.
    doc = port_doc("create", "n", "--no-security-group")
    assert doc["security_groups"] == [] and doc["port_security_enabled"] is True
    empty = run([*naas, "port", "unset", "p"])
    assert empty.returncode != 0 and "nothing to unset" in empty.stderr
