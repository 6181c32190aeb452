"""``naas`` output options as cliff-based OpenStack clients have them, and what start-up loads.

The formatters are checked on their own (no database) and through real
commands run in-process against a temporary SQLite file; what ``naas --help``
and ``naas network list`` import is checked in a fresh interpreter.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys

import pytest
import yaml

from naas_lib.cli import main, output

DOCS = [
    {"id": "b", "name": "beta", "mtu": 9000, "subnets": ["s1", "s2"], "shared": False},
    {"id": "a", "name": "alpha", "mtu": 1400, "subnets": [], "shared": True},
    {"id": "c", "name": "gamma", "mtu": None, "subnets": ["s3"], "shared": False},
]
COLUMNS = ("id", "name", "mtu")


def printed(capsys, fmt: str, docs=DOCS, **options) -> str:
    """What one resource (a dict) or a list with COLUMNS prints; ``columns`` is ``-c``."""
    args = argparse.Namespace(format=fmt, **options)
    if isinstance(docs, dict):
        output.show_one(args, docs)
    else:
        output.show_list(args, docs, COLUMNS)
    return capsys.readouterr().out


def test_value_prints_bare_values_one_row_a_line(capsys):
    assert printed(capsys, "value") == "b beta 9000\na alpha 1400\nc gamma \n"
    assert printed(capsys, "value", docs=[]) == ""


def test_value_of_one_resource_is_one_field_a_line_in_field_order(capsys):
    out = printed(capsys, "value", docs=DOCS[0], columns=["name", "mtu"])
    assert out == "9000\nbeta\n"  # -c keeps the resource's own (sorted) field order
    assert printed(capsys, "value", docs=DOCS[1]) == "a\n1400\nalpha\nTrue\n\n"


def test_csv_quotes_text_and_leaves_numbers_bare(capsys):
    out = printed(capsys, "csv", columns=["id", "mtu", "subnets"])
    assert out.splitlines() == ['"id","mtu","subnets"', '"b",9000,"s1, s2"', '"a",1400,""',
                                '"c","","s3"']
    assert list(csv.reader(out.splitlines()))[1] == ["b", "9000", "s1, s2"]


def test_json_and_yaml_lists_are_whole_documents_unless_columns_are_chosen(capsys):
    assert json.loads(printed(capsys, "json")) == DOCS
    assert yaml.safe_load(printed(capsys, "yaml")) == DOCS
    narrowed = json.loads(printed(capsys, "json", columns=["name", "subnets"]))
    assert narrowed == [{"name": d["name"], "subnets": d["subnets"]} for d in DOCS]


def test_yaml_without_pyyaml_says_what_is_missing(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "yaml", None)  # as if PyYAML were not installed
    with pytest.raises(output.OutputError, match="needs PyYAML"):
        printed(capsys, "yaml")


def test_columns_keep_the_commands_order_and_may_name_any_field(capsys):
    table = printed(capsys, "table", columns=["shared", "name", "nope"]).splitlines()
    assert table[0].split() == ["name", "shared"]
    assert table[2].split() == ["beta", "False"]
    with pytest.raises(output.OutputError, match="no recognized column names in nope"):
        printed(capsys, "table", columns=["nope"])


def test_sort_by_columns_numbers_by_value_empty_last(capsys):
    def names(**sort) -> list[str]:
        return printed(capsys, "value", columns=["name"], **sort).split()

    assert names(sort_columns=["mtu"]) == ["alpha", "beta", "gamma"]
    assert names(sort_columns=["mtu"], sort_direction="desc") == ["gamma", "beta", "alpha"]
    assert names(sort_columns=["shared", "name"]) == ["beta", "gamma", "alpha"]
    assert names(sort_columns=["no-such-column"]) == ["beta", "alpha", "gamma"]  # ignored


# -- through the real commands --------------------------------------------------------


@pytest.fixture
def naas(tmp_path, capsys):
    """Run ``naas ARGS`` in-process; returns (exit code, stdout, stderr)."""
    url = f"sqlite:///{tmp_path / 'out.sqlite'}"

    def run(*argv: str) -> tuple[int, str, str]:
        code = main.main(["--database-url", url, *argv])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def test_commands_honour_format_columns_and_sorting(naas):
    for name, mtu in (("web", "1400"), ("db", "1450"), ("app", "1300")):
        assert naas("network", "create", name, "--mtu", mtu, "-f", "value", "-c", "id")[0] == 0
    code, out, _ = naas("network", "list", "-f", "value", "-c", "name", "-c", "mtu",
                        "--sort-column", "mtu", "--sort-descending")
    assert code == 0 and out.splitlines() == ["db 1450", "web 1400", "app 1300"]
    assert naas("network", "show", "web", "-f", "value", "-c", "mtu")[1] == "1400\n"
    shown = yaml.safe_load(naas("-f", "yaml", "network", "show", "web")[1])
    assert shown["mtu"] == 1400 and shown["provider:network_type"] == "vxlan"
    rows = list(csv.DictReader(naas("network", "list", "-f", "csv", "--sort-column",
                                    "name")[1].splitlines()))
    assert [r["name"] for r in rows] == ["app", "db", "web"] and rows[0]["mtu"] == "1300"
    assert "status" in rows[0] and "description" not in rows[0]  # the list's own columns
    listed = json.loads(naas("network", "list", "-f", "json", "-c", "name", "-c", "mtu",
                             "--sort-column", "name")[1])
    assert listed == [{"name": "app", "mtu": 1300}, {"name": "db", "mtu": 1450},
                      {"name": "web", "mtu": 1400}]
    updated = naas("network", "update", "web", "--mtu", "1200", "-f", "json", "-c", "mtu")[1]
    assert json.loads(updated) == {"mtu": 1200}


def test_an_unknown_column_is_a_usage_error(naas):
    naas("network", "create", "web")
    code, out, err = naas("network", "show", "web", "-c", "colour")
    assert (code, out) == (2, "")
    assert err.startswith("naas: error: no recognized column names in colour") and \
        len(err.splitlines()) == 1


def test_special_commands_print_through_the_same_layer(naas):
    naas("network", "create", "edge")
    naas("service", "create", "fw1", "--type", "firewall")
    code, out, _ = naas("service", "associate", "fw1", "edge", "-f", "value", "-c", "network_id")
    assert code == 0 and out.strip() == naas("network", "show", "edge", "-f", "value",
                                             "-c", "id")[1].strip()
    assert naas("service", "networks", "fw1", "-f", "value", "-c", "name")[1] == "edge\n"
    naas("port", "create", "edge", "--name", "p1")
    assert naas("port", "attach", "p1", "vif-1", "-f", "value", "-c", "interface_id")[1] \
        == "vif-1\n"
    code, out, _ = naas("-f", "csv", "sync", "--host", "h1")
    assert code == 0 and out.splitlines()[0] == '"Change","What"'


# -- what start-up loads ----------------------------------------------------------------

HEAVY = ("sqlalchemy", "oslo_db", "alembic", "oslo_config", "oslo_policy", "oslo_context",
         "stevedore", "yaml", "naas_lib.service", "naas_lib.db")
NEVER_FOR_A_LIST = ("naas_lib.api", "naas_lib.virt", "naas_lib.drivers.linuxbridge",
                    "pyroute2", "webob", "cheroot", "oslo_messaging", "oslo_log.log")


def loaded_modules(argv: list[str]) -> set[str]:
    """Modules imported by ``naas ARGV`` in a fresh interpreter."""
    script = ("import contextlib, io, json, sys\n"
              "from naas_lib.cli import main\n"
              "with contextlib.redirect_stdout(io.StringIO()):\n"
              "    try:\n"
              f"        main.main({argv!r})\n"
              "    except SystemExit:\n"
              "        pass\n"
              "print(json.dumps(sorted(sys.modules)))\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, timeout=120)
    return set(json.loads(out.stdout))


def _hits(modules: set[str], prefixes: tuple[str, ...]) -> set[str]:
    return {m for m in modules for p in prefixes if m == p or m.startswith(p + ".")}


def test_help_loads_neither_the_database_nor_the_config_stack():
    for argv in (["--help"], ["network", "list", "--help"], ["port", "frobnicate"]):
        modules = loaded_modules(argv)
        assert "naas_lib.cli.network" in modules
        assert _hits(modules, HEAVY) == set(), argv


def test_listing_networks_loads_no_api_virt_or_host_driver(tmp_path):
    modules = loaded_modules(["--database-url", f"sqlite:///{tmp_path / 'l.sqlite'}",
                              "network", "list"])
    assert "sqlalchemy" in modules  # the command did run
    assert _hits(modules, NEVER_FOR_A_LIST) == set()
