"""The terminal summary: what an operator needs at a glance after ``kubeops inspect``
— the grade, how each cluster and category fared, the worst findings, and what
could not be judged — with the full detail left to the HTML and JSON reports.

Cluster strings go into rich ``Text`` objects, never into markup, so a name like
``[red]`` prints as typed.
"""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from kubeops.inspect.report import view

GRADE_STYLES = {"A": "bold green", "B": "bold green3", "C": "bold yellow", "D": "bold dark_orange", "F": "bold red"}  # fmt: skip
SEVERITY_STYLES = {"critical": "bold red", "error": "red", "warning": "yellow", "info": "blue"}


def grade_text(grade: Any, score: Any) -> Text:
    if grade is None:
        return Text("—", style="dim")
    return Text(f"{grade} {view.fmt_score(score)}", style=GRADE_STYLES.get(str(grade), "bold"))


def print_summary(document: dict[str, Any], console: Console | None = None, *, limit: int = 10) -> None:  # fmt: skip
    console = console or Console()
    console.print(_header(document))
    for part in (_clusters, _categories, _findings, _not_run):
        renderable = part(document, limit)
        if renderable is not None:
            console.print(renderable)


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


def _clusters(document: dict[str, Any], _limit: int) -> Table | Group | None:
    clusters = view.clusters(document)
    if not clusters:
        return None
    per = view.by_cluster(document)
    table = Table(title="Clusters", box=box.SIMPLE_HEAVY, title_justify="left")
    table.add_column("Cluster")
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


def _categories(document: dict[str, Any], _limit: int) -> Table | None:
    reachable = [c for c in view.clusters(document) if c.get("reachable", True)]
    categories = view.categories(document)
    if not reachable or not categories:
        return None
    table = Table(title="Categories", box=box.SIMPLE_HEAVY, title_justify="left")
    table.add_column("Category")
    for cluster in reachable:
        table.add_column(Text(str(cluster.get("name", ""))), justify="right")
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


def _findings(document: dict[str, Any], limit: int) -> Table | Text:
    items = view.sorted_findings(document)
    if not items:
        return Text("No findings.", style="green")
    table = Table(title="Top findings", box=box.SIMPLE_HEAVY, title_justify="left")
    several = len({f.get("cluster") for f in items}) > 1
    table.add_column("Severity", no_wrap=True)
    table.add_column("Check", no_wrap=True)
    if several:
        table.add_column("Cluster", no_wrap=True)
    table.add_column("Object", overflow="fold", ratio=2)
    table.add_column("Message", overflow="fold", ratio=3)
    for finding in items[:limit]:
        severity = str(finding.get("severity"))
        cells = [
            Text(severity, style=SEVERITY_STYLES.get(severity, "")),
            Text(str(finding.get("check", ""))),
            *([Text(str(finding.get("cluster", "")))] if several else []),
            Text(view.object_label(finding.get("object") or {})),
            Text(str(finding.get("message", ""))),
        ]
        table.add_row(*cells)
    if len(items) > limit:
        table.caption = f"… and {len(items) - limit} more"
        table.caption_justify = "left"
    return table


def _not_run(document: dict[str, Any], _limit: int) -> Table | None:
    entries = view.not_run(document)
    if not entries:
        return None
    table = Table(title="Not run", box=box.SIMPLE_HEAVY, title_justify="left")
    table.add_column("Check")
    table.add_column("Cluster")
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
