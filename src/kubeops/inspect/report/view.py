"""Read-only helpers over the inspection document shared by every renderer, so the
terminal, HTML, Markdown, JUnit and SARIF outputs agree on ordering, labels and
counts, and every renderer tolerates a document with optional parts missing.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from kubeops.inspect.document import Document
from kubeops.inspect.model import CATEGORIES

# Worst first: the order tables, legends and charts use.
SEVERITIES = ("critical", "error", "warning", "info")
RANK = {"info": 0, "warning": 1, "error": 2, "critical": 3}


def rank(severity: str) -> int:
    """How bad a severity is; unknown severities sort below ``info``."""
    return RANK.get(severity, -1)


def object_label(obj: dict[str, Any]) -> str:
    """``Kind/namespace/name`` (``Kind/name`` when cluster-scoped), as kubectl names it."""
    namespace = obj.get("namespace")
    where = f"{namespace}/" if namespace else ""
    return f"{obj.get('kind') or '?'}/{where}{obj.get('name') or ''}"


def object_key(finding: dict[str, Any]) -> tuple[str, str, str, str]:
    """What identifies an object across checks: cluster, namespace, kind and name."""
    obj = finding.get("object") or {}
    return (
        str(finding.get("cluster") or ""),
        str(obj.get("namespace") or ""),
        str(obj.get("kind") or ""),
        str(obj.get("name") or ""),
    )


def findings(document: Document) -> list[dict[str, Any]]:
    """The document's findings, in document order."""
    return list(document.get("findings") or [])


def sorted_findings(document: Document) -> list[dict[str, Any]]:
    """Worst first, then by cluster, check and object, so every output reads alike."""
    return sorted(
        findings(document),
        key=lambda f: (
            -rank(str(f.get("severity"))),
            str(f.get("cluster") or ""),
            str(f.get("check") or ""),
            *object_key(f)[1:],
        ),
    )


def severity_counts(items: list[dict[str, Any]]) -> dict[str, int]:
    """Findings per severity, every severity present (worst first)."""
    counted = Counter(str(f.get("severity")) for f in items)
    return {s: counted.get(s, 0) for s in SEVERITIES}


def by_cluster(document: Document) -> dict[str, dict[str, int]]:
    """Findings per severity for each cluster of the document."""
    result: dict[str, list[dict[str, Any]]] = {c["name"]: [] for c in clusters(document)}
    for finding in findings(document):
        result.setdefault(str(finding.get("cluster") or ""), []).append(finding)
    return {name: severity_counts(items) for name, items in result.items()}


def clusters(document: Document) -> list[dict[str, Any]]:
    """The document's clusters."""
    return list(document.get("clusters") or [])


def unreachable(document: Document) -> list[dict[str, Any]]:
    """The clusters that could not be inspected."""
    return [c for c in clusters(document) if not c.get("reachable", True)]


def not_run(document: Document) -> list[dict[str, Any]]:
    """The checks that did not run, with their reasons."""
    return list(document.get("not_run") or [])


def categories(document: Document) -> list[str]:
    """Every category scored on some cluster, in the catalogue's order."""
    seen = {c for cluster in clusters(document) for c in cluster.get("categories") or {}}
    seen |= {str(f.get("category")) for f in findings(document) if f.get("category")}
    known = [c for c in CATEGORIES if c in seen]
    return known + sorted(seen - set(CATEGORIES))


def check_meta(
    document: Document, check_id: str, finding: dict[str, Any] | None = None
) -> Document:
    """A check's title, category, severity, rationale and remediation; a check missing
    from the catalogue section is described from its finding instead."""
    known = (document.get("checks") or {}).get(check_id) or {}
    finding = finding or {}
    return {
        "id": check_id,
        "title": known.get("title") or finding.get("title") or check_id,
        "category": known.get("category") or finding.get("category") or "",
        "severity": known.get("severity") or finding.get("severity") or "warning",
        "rationale": known.get("rationale") or "",
        "remediation": known.get("remediation") or finding.get("remediation") or "",
    }


def all_checks(document: Document) -> dict[str, Document]:
    """Every check the document mentions (catalogue first, then any only seen in findings)."""
    result = {cid: check_meta(document, cid) for cid in document.get("checks") or {}}
    for finding in findings(document):
        cid = str(finding.get("check") or "")
        if cid and cid not in result:
            result[cid] = check_meta(document, cid, finding)
    return result


def checks_run(document: Document, cluster: dict[str, Any]) -> list[str]:
    """The checks that judged a cluster: every check but those it could not run; none
    when the cluster was unreachable."""
    if not cluster.get("reachable", True):
        return []
    skipped = {n.get("check") for n in not_run(document) if n.get("cluster") == cluster.get("name")}
    return [cid for cid in all_checks(document) if cid not in skipped]


def history(document: Document) -> list[dict[str, Any]]:
    """The earlier runs the document carries for trends (empty without history)."""
    return list(document.get("history") or [])


def fmt_score(value: Any) -> str:
    """A score for display; an em dash when there is none."""
    return "—" if value is None else str(value)
