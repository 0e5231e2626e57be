"""What every command that talks to a cluster shares: building a
:class:`~kubeops.api.Client` from the connection flags (:mod:`kubeops.cli.connection`),
and printing objects the way kubectl does (tables, wide, json, yaml, name).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from kubeops.cli.connection import complete
from kubeops.config.redact import printable

if TYPE_CHECKING:
    from kubeops.api import Client, ResourceType

OUTPUTS = ("table", "wide", "json", "yaml", "name")


def run(
    handler: Callable[[Client, argparse.Namespace], Awaitable[int]],
) -> Callable[[argparse.Namespace], int]:
    """Wrap an async command: connect with the global flags, run it, close the client."""

    def command(args: argparse.Namespace) -> int:
        complete(args)

        async def main() -> int:
            from kubeops.api import Client
            from kubeops.config import load_config

            config = load_config(args.kubeconfig, context=args.context, namespace=args.namespace)
            async with Client(config) as client:
                return await handler(client, args)

        import asyncio

        return asyncio.run(main())

    return command


def name_of(resource: ResourceType, obj: dict[str, Any]) -> str:
    """``kind.group/name``, as ``kubectl get -o name`` prints an object."""
    kind = resource.kind.lower() + (f".{resource.group}" if resource.group else "")
    return f"{kind}/{obj.get('metadata', {}).get('name', '')}"


def print_objects(
    resource: ResourceType, objects: Sequence[dict[str, Any]], output: str, single: bool
) -> None:
    """Print objects as ``-o`` asks: names, JSON or YAML (a list unless ``single``)."""
    if output == "name":
        for obj in objects:
            print(name_of(resource, obj))
        return
    document: Any = (
        objects[0]
        if single and objects
        else {"apiVersion": "v1", "kind": "List", "items": list(objects)}
    )
    print_document(document, output)


def one_line(text: str, width: int = 80) -> str:
    """``text`` on one line for a table cell: whitespace collapsed, cut to ``width`` with "..."."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def print_problems(problems: Iterable[object], where: str) -> None:
    """Every problem of a refused load on its own line (stderr), then one
    ``kubeops: error: N problems in WHERE`` line: the rule and policy loaders' shape."""
    from kubeops.config.redact import printable

    count = 0
    for problem in problems:
        print(printable(str(problem), one_line=True), file=sys.stderr)
        count += 1
    print(f"kubeops: error: {count} problem{'s' if count != 1 else ''} in {where}", file=sys.stderr)


def print_document(data: Any, output: str) -> None:
    """Print ``data`` as ``-o json`` (indented) or ``-o yaml`` (keys in their order) does."""
    if output == "json":
        import orjson

        sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        import yaml

        sys.stdout.write(yaml.safe_dump(data, sort_keys=False))


def print_table(table: dict[str, Any], *, wide: bool, namespace_column: bool) -> int:
    """Print a meta.k8s.io Table like kubectl; returns the number of rows."""
    columns = table.get("columnDefinitions") or []
    shown = [i for i, c in enumerate(columns) if wide or c.get("priority", 0) == 0]
    header = [columns[i]["name"].upper() for i in shown]
    # Per-table, not per-row: the clock, and each distinct timestamp's age.
    ages = _Ages()
    dated = {
        i for i in shown if columns[i].get("format") == "date" or columns[i].get("name") == "Age"
    }
    rows = []
    for row in table.get("rows") or []:
        cells = row["cells"]
        line = [ages(cells[i]) if i in dated else _cell(cells[i]) for i in shown]
        if namespace_column:
            line.insert(0, row.get("object", {}).get("metadata", {}).get("namespace", ""))
        rows.append(line)
    if namespace_column:
        header.insert(0, "NAMESPACE")
    if not rows:
        return 0
    print_columns([header, *rows])
    return len(rows)


def print_columns(rows: Sequence[Sequence[str]]) -> None:
    """Print rows as left-aligned columns, each as wide as its widest cell (control
    characters from cluster data shown escaped, never sent to the terminal)."""
    rows = [[printable(cell) for cell in row] for row in rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    sys.stdout.write("\n".join(lines) + "\n")  # one write, not one per row


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "<none>"
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "<none>"
    return str(value)


class _Ages:
    """kubectl's short ages of a table's timestamps, against one clock reading."""

    def __init__(self) -> None:
        import datetime

        from kubeops.models.duration import format_age

        self._now = datetime.datetime.now(datetime.UTC)
        self._parse = datetime.datetime.fromisoformat
        self._format = format_age
        self._seen: dict[str, str] = {}

    def __call__(self, value: Any) -> str:
        if value is None or value == "":
            return "<none>"
        text = str(value)
        found = self._seen.get(text)
        if found is None:
            try:
                seconds = (self._now - self._parse(text.replace("Z", "+00:00"))).total_seconds()
                found = self._format(seconds)
            except (ValueError, TypeError):  # not a timestamp, or one without a zone
                found = text
            self._seen[text] = found
        return found


def age(timestamp: str) -> str:
    """kubectl's short age of a timestamp: 45s, 12m, 3h5m, 2d4h, 1y."""
    return _Ages()(timestamp) if timestamp else timestamp
