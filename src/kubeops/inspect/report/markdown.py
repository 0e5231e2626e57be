"""GitHub-flavoured Markdown, for pull-request comments, job summaries and wikis.

Every string from a cluster is escaped: a ``|`` would end a table cell, and HTML
or Markdown syntax in a message must show as typed, not format the page.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from kubeops.inspect.report import view

_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_ICONS = {"critical": "🟥", "error": "🟧", "warning": "🟨", "info": "🟦"}


def escape(text: Any) -> str:
    """Text as literal Markdown on one line, safe inside a table cell."""
    value = str(text if text is not None else "")
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    value = _SPECIAL.sub(r"\\\1", value)
    return " ".join(value.split())


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return [*lines, ""]


def _grade(grade: Any, score: Any) -> str:
    return "—" if grade is None else f"**{escape(grade)}** ({view.fmt_score(score)})"


def render(document: dict[str, Any]) -> str:
    """The document as GitHub-flavoured Markdown (summary, clusters, categories, findings)."""
    summary = document.get("summary") or {}
    counts = view.severity_counts(view.findings(document))
    lines = [
        f"# kubeops inspect: grade {escape(document.get('grade') or '—')} "
        f"({view.fmt_score(document.get('score'))}/100)",
        "",
        f"Generated {escape(document.get('generated', ''))} ({escape(document.get('mode', ''))} mode). "
        f"{summary.get('clusters', len(view.clusters(document)))} cluster(s), "
        f"{summary.get('unreachable', len(view.unreachable(document)))} unreachable; "
        f"{summary.get('checks', len(document.get('checks') or {}))} checks; "
        f"{len(view.findings(document))} finding(s): "
        + ", ".join(f"{n} {s}" for s, n in counts.items())
        + f"; {len(view.not_run(document))} not run.",
        "",
    ]
    lines += _clusters(document)
    lines += _categories(document)
    lines += _findings(document)
    lines += _not_run(document)
    if document.get("scoring"):
        lines += [
            "<details><summary>How the score is computed</summary>",
            "",
            "```text",
            str(document["scoring"]).replace("```", "'''"),
            "```",
            "",
            "</details>",
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"


def _clusters(document: dict[str, Any]) -> list[str]:
    clusters = view.clusters(document)
    if not clusters:
        return []
    per = view.by_cluster(document)
    rows = []
    for cluster in clusters:
        name = str(cluster.get("name", ""))
        counts = per.get(name, {})
        reachable = cluster.get("reachable", True)
        if reachable:
            status = f"{cluster.get('checks_run', 0)} checks run"
        else:
            status = f"**unreachable**: {escape(cluster.get('error'))}"
        rows.append(
            [
                escape(name),
                _grade(cluster.get("grade"), cluster.get("score")),
                *(counts.get(s, 0) if reachable else "—" for s in view.SEVERITIES),
                cluster.get("not_run", 0) if reachable else "—",
                escape(cluster.get("version") or "—"),
                status,
            ]
        )
    headers = ["Cluster", "Grade", "Critical", "Error", "Warning", "Info", "Not run", "Version", "Status"]  # fmt: skip
    return ["## Clusters", "", *_table(headers, rows)]


def _categories(document: dict[str, Any]) -> list[str]:
    reachable = [c for c in view.clusters(document) if c.get("reachable", True)]
    categories = view.categories(document)
    if not reachable or not categories:
        return []
    rows = []
    for category in categories:
        cells = []
        for cluster in reachable:
            scope = (cluster.get("categories") or {}).get(category)
            cells.append(
                "—"
                if scope is None
                else f"{_grade(scope.get('grade'), scope.get('score'))}, {scope.get('findings', 0)} finding(s)"
            )
        rows.append([escape(category), *cells])
    headers = ["Category", *(escape(c.get("name")) for c in reachable)]
    return ["## Categories", "", *_table(headers, rows)]


def _findings(document: dict[str, Any]) -> list[str]:
    items = view.sorted_findings(document)
    if not items:
        return ["## Findings", "", "No findings.", ""]
    lines = ["## Findings", ""]
    for severity in view.SEVERITIES:
        group = [f for f in items if f.get("severity") == severity]
        if not group:
            continue
        lines += [f"### {_ICONS[severity]} {severity.capitalize()} ({len(group)})", ""]
        rows = [
            [
                escape(f.get("check")),
                escape(f.get("cluster")),
                escape(view.object_label(f.get("object") or {})),
                escape(f.get("message")),
            ]
            for f in group
        ]
        lines += _table(["Check", "Cluster", "Object", "Message"], rows)
    others = [f for f in items if f.get("severity") not in view.SEVERITIES]
    if others:
        lines += [f"### Other ({len(others)})", ""]
        rows = [
            [escape(f.get("severity")), escape(f.get("check")), escape(f.get("message"))]
            for f in others
        ]
        lines += _table(["Severity", "Check", "Message"], rows)
    return lines


def _not_run(document: dict[str, Any]) -> list[str]:
    entries = view.not_run(document)
    if not entries:
        return []
    rows = [[escape(n.get("check")), escape(n.get("cluster")), escape(n.get("reason"))] for n in entries]  # fmt: skip
    return ["## Not run", "", *_table(["Check", "Cluster", "Reason"], rows)]
