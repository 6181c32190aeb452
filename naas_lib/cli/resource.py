"""The ``create``/``list``/``show``/``update``/``delete`` commands of a resource, from one table.

A resource module (``network.py``, ``subnet.py`` ...) describes its resource
once with a :class:`Resource`: the list's columns and, as :class:`Option`
rows, what ``create``, ``list`` and ``update`` accept and which keyword of the
:class:`~naas_lib.NetworkService` call each one fills. :func:`register` turns
that into the five commands, all alike:

* ``create [POSITIONALS] [OPTIONS]`` calls ``create_<name>(ctx, **attrs)``;
* ``list [FILTERS]`` calls ``list_<plural>(ctx, **filters)``;
* ``show REF`` finds the resource by id or unique name;
* ``update REF [OPTIONS] [--revision N]`` calls
  ``update_<name>(ctx, id, expected_revision=N, **attrs)`` and refuses an
  empty change before touching the database;
* ``delete REF [REF ...]`` calls ``delete_<name>(ctx, id)`` for each.

Only options given on the command line are passed on, so the service's own
defaults apply to the rest. Results are shown as the REST API shows them
(:mod:`naas_lib.wire`) through :mod:`naas_lib.cli.output`.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from naas_lib import wire
from naas_lib.cli import common, output

#: Value of a flag that sets its attribute to None (``--no-gateway``).
CLEAR = object()


@dataclasses.dataclass(frozen=True)
class Option:
    """One argument of a command and the keyword of the service call it fills.

    ``name`` starting with ``--`` is an option, otherwise a positional.
    ``ref`` names a resource kind: the value is an id or a unique name,
    passed on as the resource's id. ``clears`` makes a flag that sets the
    attribute to None.
    """

    name: str
    help: str
    attr: str | None = None
    type: Callable[[str], Any] | None = None
    metavar: str | None = None
    choices: Sequence[Any] | None = None
    repeat: bool = False
    required: bool = False
    ref: str | None = None
    clears: bool = False

    @property
    def dest(self) -> str:
        return self.name.lstrip("-").replace("-", "_")

    @property
    def keyword(self) -> str:
        return self.attr or self.dest

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        """Add this argument to ``parser``."""
        if self.clears:
            parser.add_argument(self.name, dest=self.dest, action="store_const", const=CLEAR,
                                help=self.help)
            return
        kwargs: dict[str, Any] = {"help": self.help, "type": self.type, "metavar": self.metavar,
                                  "choices": self.choices}
        if self.repeat:
            kwargs["action"] = "append"
        if self.name.startswith("-"):
            kwargs["required"] = self.required
        parser.add_argument(self.name, **{k: v for k, v in kwargs.items() if v is not None})


def owner(help_text: str = "Owning project (admin only).") -> Option:
    """``--owner PROJECT``, the ``project_id`` of a create call or a list filter."""
    return Option("--owner", help_text, attr="project_id", metavar="PROJECT")


def network_ref(help_text: str, flag: bool = False) -> Option:
    """The network of a subnet or port (``network`` positional, or ``--network`` with ``flag``)."""
    return Option("--network" if flag else "network", help_text, attr="network_id",
                  ref="network")


@dataclasses.dataclass(frozen=True)
class Resource:
    """Everything the generic commands need to know about one resource."""

    name: str
    help: str
    columns: tuple[str, ...]
    create: tuple[Option, ...]
    filters: tuple[Option, ...]
    update: tuple[Option, ...] | None = None  # None: the resource cannot be changed
    create_help: str = ""
    delete_help: str = ""

    @property
    def plural(self) -> str:
        return f"{self.name}s"

    def ref_help(self) -> str:
        return f"Id or unique name of the {self.name}."

    def to_wire(self, obj: Any) -> dict[str, Any]:
        """The resource as the REST API shows it."""
        return getattr(wire, f"{self.name}_to_wire")(obj)

    def call(self, args: argparse.Namespace, verb: str, *positional: Any, **kwargs: Any) -> Any:
        """``<verb>_<name>`` of the service, with the command's context first."""
        method = getattr(common.service(args), f"{verb}_{self.name}")
        return method(common.context(args), *positional, **kwargs)


def values(args: argparse.Namespace, options: Sequence[Option]) -> dict[str, Any]:
    """Keyword arguments of the service call: the options given, refs resolved to ids."""
    out: dict[str, Any] = {}
    for opt in options:
        value = getattr(args, opt.dest, None)
        if value is None:
            continue
        if value is CLEAR:
            value = None
        elif opt.ref is not None:
            value = common.find(args, opt.ref, value).id
        out[opt.keyword] = value
    return out


def _create(res: Resource) -> common.Handler:
    def handler(args: argparse.Namespace) -> None:
        output.show_one(args, res.to_wire(res.call(args, "create", **values(args, res.create))))

    return handler


def _list(res: Resource) -> common.Handler:
    def handler(args: argparse.Namespace) -> None:
        found = getattr(common.service(args), f"list_{res.plural}")(
            common.context(args), **values(args, res.filters))
        output.show_list(args, [res.to_wire(item) for item in found], res.columns)

    return handler


def _show(res: Resource) -> common.Handler:
    def handler(args: argparse.Namespace) -> None:
        output.show_one(args, res.to_wire(common.find(args, res.name, args.ref)))

    return handler


def _update(res: Resource, options: Sequence[Option]) -> common.Handler:
    def handler(args: argparse.Namespace) -> None:
        attrs = values(args, options)
        if not attrs:
            raise common.CommandError("nothing to update; give at least one option")
        target = common.find(args, res.name, args.ref)
        updated = res.call(args, "update", target.id, expected_revision=args.revision, **attrs)
        output.show_one(args, res.to_wire(updated))

    return handler


def update_handler(res: Resource, options: Sequence[Option]) -> common.Handler:
    """The ``update`` handler, for a resource that offers it under another name too."""
    return _update(res, options)


def _delete(res: Resource) -> common.Handler:
    def handler(args: argparse.Namespace) -> None:
        for ident in args.refs:
            res.call(args, "delete", common.find(args, res.name, ident).id)

    return handler


def register(subparsers: Any, res: Resource) -> Any:
    """Add ``naas <name> create|list|show|update|delete``; returns the group's subparsers.

    The caller may add the resource's special commands (``port attach`` ...)
    to the returned subparsers.
    """
    name = res.name.replace("_", " ")
    sub = common.add_group(subparsers, res.name.replace("_", "-"), res.help)

    p = common.add_command(sub, "create", res.create_help or f"Create a {name}.",
                           _create(res), prints="one")
    for opt in res.create:
        opt.add_to(p)

    p = common.add_command(sub, "list", f"List the {res.plural} the caller may see.",
                           _list(res), prints="list")
    for opt in res.filters:
        opt.add_to(p)

    p = common.add_command(sub, "show", f"Show a {name}.", _show(res), prints="one")
    p.add_argument("ref", metavar=res.name.replace("_", "-"), help=res.ref_help())

    if res.update is not None:
        p = common.add_command(sub, "update", f"Change a {name}.", _update(res, res.update),
                               prints="one")
        p.add_argument("ref", metavar=res.name.replace("_", "-"), help=res.ref_help())
        for opt in res.update:
            opt.add_to(p)
        p.add_argument("--revision", type=int, metavar="N",
                       help=f"Refuse the update unless the {name} is at this revision.")

    p = common.add_command(sub, "delete", res.delete_help or f"Delete {res.plural}.",
                           _delete(res))
    p.add_argument("refs", nargs="+", metavar=name, help="Id or unique name.")
    return sub
