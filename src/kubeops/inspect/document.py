"""The report as one JSON document — the stable schema every output is rendered
from (HTML, Markdown, JUnit, SARIF, the terminal) and the history stores.

Schema ``kubeops.io/inspect/v1`` (documented in docs/inspect.md): top level
``schema``, ``generated``, ``mode``, ``score``, ``grade``, ``summary``,
``clusters``, ``findings``, ``not_run``, ``checks``, ``scoring`` and, when
history exists, ``history``.  Fields are only ever added.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from kubeops.config.redact import redact_url
from kubeops.inspect.model import CATEGORIES, ClusterResult, Report, Severity
from kubeops.inspect.scoring import FORMULA, Examined, score

SCHEMA = "kubeops.io/inspect/v1"

Document = dict[str, Any]


def build_document(report: Report) -> Document:
    """The report as the ``kubeops.io/inspect/v1`` document, scored per cluster, category
    and namespace."""
    findings = [f for c in report.clusters for f in c.findings]
    examined = [e for c in report.clusters for e in _examined(report, c)]
    # Nothing reached is not a clean bill of health: no score at all.
    reached = not report.clusters or any(c.reachable for c in report.clusters)
    overall = score(examined, findings) if reached else None
    by_severity = Counter(str(f.severity) for f in findings)
    return {
        "schema": SCHEMA,
        "generated": report.generated,
        "mode": report.mode,
        "score": overall.value if overall else None,
        "grade": overall.grade if overall else None,
        "summary": {
            "clusters": len(report.clusters),
            "unreachable": sum(not c.reachable for c in report.clusters),
            "checks": len(report.checks),
            "findings": len(findings),
            "by_severity": {str(s): by_severity.get(str(s), 0) for s in reversed(Severity)},
            "not_run": sum(len(c.not_run) for c in report.clusters),
        },
        "clusters": [_cluster(report, c) for c in report.clusters],
        "findings": [f.to_json() for f in findings],
        "not_run": [n.to_json() for c in report.clusters for n in c.not_run],
        "checks": report.checks,
        "scoring": FORMULA.strip(),
    }


def _examined(report: Report, cluster: ClusterResult) -> list[Examined]:
    return [
        Examined(check, *report.check_info[check], counts)
        for check, counts in cluster.examined.items()
        if check in report.check_info
    ]


def _cluster(report: Report, cluster: ClusterResult) -> Document:
    examined = _examined(report, cluster)
    findings = cluster.findings

    def scored(include: Callable[[str, str], bool]) -> Document:
        result = score(examined, findings, include)
        count = sum(include(f.category, f.object.namespace or "") for f in findings)
        return {"score": result.value, "grade": result.grade, "findings": count}

    categories = [c for c in CATEGORIES if any(e.category == c for e in examined)]
    namespaces = sorted(
        {ns for e in examined for ns in e.counts if ns}
        | {f.object.namespace for f in findings if f.object.namespace}
    )
    overall = score(examined, findings) if cluster.reachable else None
    return {
        "name": cluster.name,
        "server": redact_url(cluster.server) if cluster.server else "",
        "version": cluster.version,
        "reachable": cluster.reachable,
        "error": cluster.error,
        "score": overall.value if overall else None,
        "grade": overall.grade if overall else None,
        "seconds": round(cluster.seconds, 3),
        "checks_run": len(cluster.checks_run),
        "not_run": len(cluster.not_run),
        "objects": dict(sorted(cluster.objects.items())),
        "categories": {
            c: scored(lambda category, _ns, c=c: category == c)  # type: ignore[misc]
            for c in categories
        },
        "namespaces": {
            ns: scored(lambda _category, namespace, ns=ns: namespace == ns)  # type: ignore[misc]
            for ns in namespaces
        },
    }
