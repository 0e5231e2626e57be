"""The terminal summary: what an operator needs at a glance after ``kubeops inspect``
— the grade, how each cluster and category fared, the worst findings, and what
could not be judged — with the full detail left to the HTML and JSON reports.

Cluster strings go into rich ``Text`` objects, never into markup, so a name like
``[red]`` prints as typed.  Object, check and cluster names are never folded
mid-way: the findings' Object column is as wide as its longest name and the
message wraps beside it; only a terminal too narrow for both gets names shortened
on purpose, with an ellipsis in their middle.  Without a terminal (a pipe, a CI
log) the summary is laid out for ``$COLUMNS`` or 160 columns, not rich's 80.
"""

from __future__ import annotations

import os
from typing import Any

from rich import box
from rich.cells import cell_len
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from kubeops.config.redact import printable
from kubeops.inspect.report import view

GRADE_STYLES = {"A": "bold green", "B": "bold green3", "C": "bold yellow", "D": "bold dark_orange", "F": "bold red"}  # fmt: skip
SEVERITY_STYLES = {"critical": "bold red", "error": "red", "warning": "yellow", "info": "blue"}
NO_TERMINAL_WIDTH = 160  # columns when stdout is no terminal and $COLUMNS is not set
MESSAGE_MIN_WIDTH = 30  # what the message keeps before object names are shortened
OBJECT_MIN_WIDTH = 8  # the shortest a shortened object name gets


def stdout_console() -> Console:
    """A console on stdout: the terminal's width, else ``$COLUMNS``, else 160 columns."""
    console = Console()
    if not console.is_terminal and not os.environ.get("COLUMNS", "").isdigit():
        console.width = NO_TERMINAL_WIDTH
    return console


def middle_ellipsis(text: str, width: int) -> str:
    """``text`` shortened to ``width`` cells by an ellipsis in its middle, keeping both
    ends (a name's kind and namespace, and the suffix that tells pods apart)."""
    if cell_len(text) <= width:
        return text
    keep = max(width - 1, 2)
    head = (keep + 1) // 2
    tail = keep - head
    return f"{text[:head]}…{text[len(text) - tail :]}"


def grade_text(grade: Any, score: Any) -> Text:
    """The grade and score, styled by grade; a dim dash when there is none."""
    if grade is None:
        return Text("—", style="dim")
    return Text(f"{grade} {view.fmt_score(score)}", style=GRADE_STYLES.get(str(grade), "bold"))


def print_summary(document: dict[str, Any], console: Console | None = None, *, limit: int = 10) -> None:  # fmt: skip
    """Print the summary of a report document, its ``limit`` worst findings included
    (to stdout, laid out as :func:`stdout_console` says, unless ``console`` is given)."""
    console = console or stdout_console()
    document = _printable(document)  # cluster text must not carry escapes to the terminal
    console.print(_header(document))
    for part in (_clusters, _categories, _findings, _not_run):
        renderable = part(document, limit, console.width)
        if renderable is not None:
            console.print(renderable)


def _printable(value: Any) -> Any:
    """``value`` with every string (keys included) passed through :func:`printable`."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {_printable(k): _printable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_printable(v) for v in value]
    return value


def _header(document: dict[str, Any]) -> Panel:
    grade = document.get("grade")
    counts = view.severity_counts(view.findings(document))
    line = Text.assemble(
        ("Grade ", "bold"),
        grade_text(grade, document.get("score")),
        ("/100", "dim"),
        "   ",
        *(
            part
            for severity, n in counts.items()
            for part in ((f"{n} {severity}", SEVERITY_STYLES[severity] if n else "dim"), "  ")
        ),
    )
    summary = document.get("summary") or {}
    detail = Text(
        f"{document.get('mode', 'live')} inspection of {summary.get('clusters', len(view.clusters(document)))} "
        f"cluster(s), {summary.get('checks', len(document.get('checks') or {}))} checks, "
        f"generated {_when(document.get('generated'))}",
        style="dim",
    )
    return Panel(
        Group(line, detail),
        title="kubeops inspect",
        title_align="left",
        border_style=GRADE_STYLES.get(str(grade), "white").replace("bold ", ""),
        expand=False,
    )


def _clusters(document: dict[str, Any], _limit: int, _width: int) -> Table | Group | None:
    clusters = view.clusters(document)
    if not clusters:
        return None
    per = view.by_cluster(document)
    table = Table(title="Clusters", box=box.SIMPLE_HEAVY, title_justify="left")
    table.add_column("Cluster", no_wrap=True)
    table.add_column("Grade", justify="right")
    for severity in view.SEVERITIES:
        table.add_column(severity.capitalize(), justify="right", style=SEVERITY_STYLES[severity])
    table.add_column("Not run", justify="right")
    table.add_column("Version")
    for cluster in clusters:
        name = str(cluster.get("name", ""))
        if not cluster.get("reachable", True):
            table.add_row(
                Text(name, style="bold red"),
                Text("—", style="red"),
                *("" for _ in view.SEVERITIES),
                "",
                Text("unreachable", style="bold red"),
            )
            continue
        counts = per.get(name, {})
        table.add_row(
            Text(name, style="bold"),
            grade_text(cluster.get("grade"), cluster.get("score")),
            *(str(counts.get(s, 0) or "·") for s in view.SEVERITIES),
            str(cluster.get("not_run", 0) or "·"),
            Text(str(cluster.get("version") or "")),
        )
    down = view.unreachable(document)
    if not down:
        return table
    lines = [
        Text.assemble(
            ("✗ ", "bold red"),
            (str(c.get("name", "")), "bold red"),
            (f" unreachable: {c.get('error', '')}", "red"),
        )
        for c in down
    ]
    return Group(table, *lines, Text())


def _categories(document: dict[str, Any], _limit: int, _width: int) -> Table | None:
    reachable = [c for c in view.clusters(document) if c.get("reachable", True)]
    categories = view.categories(document)
    if not reachable or not categories:
        return None
    table = Table(title="Categories", box=box.SIMPLE_HEAVY, title_justify="left")
    table.add_column("Category")
    for cluster in reachable:
        table.add_column(Text(str(cluster.get("name", ""))), justify="right", no_wrap=True)
    for category in categories:
        cells: list[Text] = []
        for cluster in reachable:
            scope = (cluster.get("categories") or {}).get(category)
            if scope is None:
                cells.append(Text("—", style="dim"))
                continue
            cell = grade_text(scope.get("grade"), scope.get("score"))
            if scope.get("findings"):
                cell.append(f" ({scope['findings']})", style="dim")
            cells.append(cell)
        table.add_row(Text(category), *cells)
    return table


def _findings(document: dict[str, Any], limit: int, width: int) -> Table | Text:
    """The worst findings.  The Object column fits its longest name and the message
    wraps beside it; when both do not fit, each message goes under its object's name
    (and a name longer than the whole column loses its middle to an ellipsis)."""
    items = view.sorted_findings(document)
    if not items:
        return Text("No findings.", style="green")
    table = Table(title="Top findings", box=box.SIMPLE_HEAVY, title_justify="left")
    several = len({f.get("cluster") for f in items}) > 1
    shown = items[:limit]
    rows = [
        [
            str(f.get("severity")),
            str(f.get("check", "")),
            *([str(f.get("cluster", ""))] if several else []),
            view.object_label(f.get("object") or {}),
        ]
        for f in shown
    ]
    headers = ["Severity", "Check", *(["Cluster"] if several else []), "Object"]
    widths = [max(cell_len(text) for text in column) for column in zip(headers, *rows, strict=True)]
    for header in headers[:-1]:
        table.add_column(header, no_wrap=True)
    # Each column has a cell of padding on both sides, and a separator or edge: 3n + 1.
    left = width - (3 * len(headers) + 1) - sum(widths[:-1])
    beside = widths[-1] + 3 + MESSAGE_MIN_WIDTH <= left
    if beside:
        table.add_column("Object", no_wrap=True, min_width=widths[-1])
        table.add_column("Message", overflow="fold")
    else:
        table.add_column("Object / message", overflow="fold")
    for finding, row in zip(shown, rows, strict=True):
        severity, message = row[0], str(finding.get("message", ""))
        label = middle_ellipsis(row[-1], max(left, OBJECT_MIN_WIDTH))
        last = (
            [Text(label), Text(message)]
            if beside
            else [Text.assemble((label, "bold"), "\n", message)]
        )
        table.add_row(
            Text(severity, style=SEVERITY_STYLES.get(severity, "")),
            *(Text(text) for text in row[1:-1]),
            *last,
        )
    if len(items) > limit:
        table.caption = f"… and {len(items) - limit} more"
        table.caption_justify = "left"
    return table


def _not_run(document: dict[str, Any], _limit: int, _width: int) -> Table | None:
    entries = view.not_run(document)
    if not entries:
        return None
    table = Table(title="Not run", box=box.SIMPLE_HEAVY, title_justify="left")
    table.add_column("Check", no_wrap=True)
    table.add_column("Cluster", no_wrap=True)
    table.add_column("Reason", overflow="fold", style="yellow")
    for entry in entries:
        table.add_row(
            Text(str(entry.get("check", ""))),
            Text(str(entry.get("cluster", ""))),
            Text(str(entry.get("reason", ""))),
        )
    return table


def _when(generated: Any) -> str:
    return str(generated or "").replace("T", " ").replace("+00:00", " UTC")
