"""How every ``naas`` command prints its result, by the conventions of OpenStack clients.

The options are those of cliff-based clients (``openstack network list``):

* ``-f/--format``: ``table`` (default), ``json``, ``yaml``, ``value`` (the bare
  values, separated by spaces, one row per line; one value per line for a
  single resource) or ``csv`` (a header row, then quoted text and bare
  numbers);
* ``-c/--column NAME``, repeatable: only these columns (for one resource:
  these fields), kept in the command's own order; names no column has are
  ignored, and naming none that exists is an error;
* ``--sort-column NAME``, repeatable (list commands): sort by these columns,
  the first given first; ``--sort-ascending`` (default) or ``--sort-descending``.

Two differences from cliff, both to keep what the command printed before it
followed these conventions: the table is a plain aligned table with a dashed
rule under the header (no box drawing), and ``json``/``yaml`` list whole
documents unless ``-c`` narrows them, while ``table``, ``value`` and ``csv``
show the list's own columns (``-c`` may name any field of the documents).

Nothing here imports more than the standard library up front: PyYAML is
imported only for ``-f yaml``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

FORMATS = ("table", "json", "yaml", "value", "csv")

#: Formats that print whole documents (with their nesting) rather than text cells.
DOCUMENT_FORMATS = ("json", "yaml")

Document = Mapping[str, Any]


class OutputError(Exception):
    """The output options cannot be honoured (unknown columns, no PyYAML)."""


def add_options(parser: argparse.ArgumentParser, listing: bool) -> None:
    """Add ``-c`` (and for a list command the sort options) to a leaf parser.

    ``-f`` is a global option (see :mod:`naas_lib.cli.common`), accepted
    before or after the command.
    """
    group = parser.add_argument_group("output options")
    group.add_argument(
        "-c", "--column", action="append", dest="columns", metavar="COLUMN",
        help="Only this column (a field, for one resource); may be repeated.")
    if not listing:
        return
    group.add_argument(
        "--sort-column", action="append", dest="sort_columns", metavar="COLUMN",
        help="Sort the rows by this column; may be repeated, the first given first.")
    direction = group.add_mutually_exclusive_group()
    direction.add_argument(
        "--sort-ascending", action="store_const", const="asc", dest="sort_direction",
        help="Smallest first (the default).")
    direction.add_argument(
        "--sort-descending", action="store_const", const="desc", dest="sort_direction",
        help="Largest first.")


# -- cells -------------------------------------------------------------------------


def cell(value: Any) -> str:
    """A value as the text of one table cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, Mapping):
        if set(value) <= {"subnet_id", "ip_address"} and "ip_address" in value:
            return str(value["ip_address"])
        if set(value) == {"start", "end"}:
            return f"{value['start']}-{value['end']}"
        import json

        return json.dumps(value, sort_keys=True)
    if isinstance(value, (list, tuple)):
        return ", ".join(cell(v) for v in value)
    return str(value)


def format_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A plain text table with a header rule, columns padded to their widths."""
    text_rows = [[cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in text_rows:
        for i, text in enumerate(row):
            widths[i] = max(widths[i], len(text))

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    out = [line(headers), line(["-" * w for w in widths])]
    out.extend(line(r) for r in text_rows)
    return "\n".join(out)


# -- choosing and ordering -----------------------------------------------------------


def _option(args: argparse.Namespace, name: str) -> Any:
    return getattr(args, name, None)


def select(available: Sequence[str], wanted: Sequence[str] | None) -> list[str]:
    """The columns of ``available`` named in ``wanted``, in ``available``'s order."""
    if not wanted:
        return list(available)
    chosen = [c for c in available if c in wanted]
    if not chosen:
        raise OutputError(f"no recognized column names in {', '.join(wanted)}; "
                          f"the columns are {', '.join(available)}")
    return chosen


def _sort_key(value: Any) -> tuple[int, Any]:
    """Numbers by value, then text; empty values last when ascending."""
    if value is None:
        return (2, "")
    if isinstance(value, (int, float)):
        return (0, value)
    return (1, cell(value))


def sort_rows(args: argparse.Namespace, documents: Sequence[Document],
              available: Sequence[str]) -> list[Document]:
    """``documents`` ordered by ``--sort-column`` (unknown names are ignored, as in cliff)."""
    keys = [c for c in (_option(args, "sort_columns") or []) if c in available]
    if not keys:
        return list(documents)
    descending = _option(args, "sort_direction") == "desc"
    return sorted(documents, key=lambda d: [_sort_key(d.get(k)) for k in keys],
                  reverse=descending)


# -- writers -------------------------------------------------------------------------


def _dump(data: Any, fmt: str) -> str:
    """``data`` as a JSON or YAML document."""
    if fmt == "json":
        import json

        return json.dumps(data, indent=2, sort_keys=True)
    try:
        import yaml
    except ImportError:
        raise OutputError("-f yaml needs PyYAML (pip install PyYAML)") from None
    return yaml.safe_dump(data, default_flow_style=False, sort_keys=True).rstrip("\n")


def _csv(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Quoted text and bare numbers, as cliff's csv formatter writes them."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
    writer.writerow(headers)
    for row in rows:
        writer.writerow([v if isinstance(v, (int, float)) else cell(v) for v in row])
    return buffer.getvalue().rstrip("\n")


def _write(text: str) -> None:
    sys.stdout.write(text + "\n" if text else "")


def show_one(args: argparse.Namespace, document: Document) -> None:
    """One resource: Field/Value rows in a table, one value a line with ``-f value``."""
    fields = select(sorted(document), _option(args, "columns"))
    values = [document[f] for f in fields]
    fmt = args.format
    if fmt in DOCUMENT_FORMATS:
        _write(_dump(dict(zip(fields, values, strict=True)), fmt))
    elif fmt == "value":
        _write("\n".join(cell(v) for v in values))
    elif fmt == "csv":
        _write(_csv(fields, [values]))
    else:
        _write(format_table(("Field", "Value"), zip(fields, values, strict=True)))


def show_list(args: argparse.Namespace, documents: Sequence[Document],
              columns: Sequence[str]) -> None:
    """Rows of ``columns`` (whole documents for json/yaml unless ``-c`` is given)."""
    extra = sorted({key for d in documents for key in d} - set(columns))
    available = [*columns, *extra]
    documents = sort_rows(args, documents, available)
    wanted = _option(args, "columns")
    fmt = args.format
    if fmt in DOCUMENT_FORMATS and not wanted:
        _write(_dump([dict(d) for d in documents], fmt))
        return
    chosen = select(available if wanted else columns, wanted)
    rows = [[d.get(c) for c in chosen] for d in documents]
    if fmt in DOCUMENT_FORMATS:
        _write(_dump([dict(zip(chosen, r, strict=True)) for r in rows], fmt))
    elif fmt == "value":
        _write("\n".join(" ".join(cell(v) for v in r) for r in rows))
    elif fmt == "csv":
        _write(_csv(chosen, rows))
    else:
        _write(format_table(chosen, rows))


def show_rows(args: argparse.Namespace, headers: Sequence[str],
              rows: Iterable[Sequence[Any]]) -> None:
    """A computed table (not resources): each row becomes a document keyed by ``headers``."""
    show_list(args, [dict(zip(headers, row, strict=True)) for row in rows], headers)
