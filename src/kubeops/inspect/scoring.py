"""Scores from 0 to 100 and letter grades, per category, namespace and cluster.

Every (check, object) pair a check examined is one test, weighted by severity:
warning 1, error 3, critical 10 (info findings inform and weigh nothing).  A
failing pair weighs its finding's severity.  The score is the share of weight
that passed::

    score = 100 * (1 - weight of failing pairs / weight of all pairs)

so a namespace of fifty healthy Deployments and one without limits scores
high, and one whose every Pod crash-loops scores low.  Because a share can hide
one disaster among thousands of healthy objects, a scope with an error finding
scores at most 89 (no A) and one with a critical finding at most 69 (D at best).
Grades: A ≥ 90, B ≥ 80, C ≥ 70, D ≥ 60, F below.  A scope with nothing
examined scores 100.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from kubeops.inspect.model import Finding, Score, Severity

WEIGHTS = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 3, Severity.CRITICAL: 10}
CAPS = {Severity.ERROR: 89, Severity.CRITICAL: 69}
GRADES = ((90, "A"), (80, "B"), (70, "C"), (60, "D"), (0, "F"))

FORMULA = __doc__ or ""


def grade(value: int) -> str:
    """The letter grade of a score (A at 90 and above ... F below 60)."""
    return next(letter for floor, letter in GRADES if value >= floor)


@dataclass(frozen=True)
class Examined:
    """One check's view for scoring: its severity, its category and how many objects it
    examined per namespace."""

    check: str
    category: str
    severity: Severity
    counts: Mapping[str, int]


def score(
    examined: Sequence[Examined],
    findings: Iterable[Finding],
    include: Callable[[str, str], bool] = lambda category, namespace: True,
) -> Score:
    """The score of the pairs ``include(category, namespace)`` selects."""
    declared = {entry.check: entry.severity for entry in examined}
    total = 0
    for entry in examined:
        weight = WEIGHTS[entry.severity]
        for namespace, count in entry.counts.items():
            if include(entry.category, namespace):
                total += weight * count
    worst: dict[tuple[str, object], Severity] = {}
    for finding in findings:
        if include(finding.category, finding.object.namespace or ""):
            key = (finding.check, finding.object)
            worst[key] = max(worst.get(key, finding.severity), finding.severity)
    lost = 0
    for (check_id, _), severity in worst.items():
        lost += WEIGHTS[severity]
        # A finding heavier than its check's severity weighs more in the total too.
        total += max(0, WEIGHTS[severity] - WEIGHTS[declared.get(check_id, severity)])
    value = 100 if total == 0 else max(0, min(100, round(100 * (1 - lost / total))))
    for severity, cap in CAPS.items():
        if any(s >= severity for s in worst.values()):
            value = min(value, cap)
    return Score(value, grade(value))
