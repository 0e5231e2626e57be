"""Policy verdicts as ``kubeops inspect`` findings, so one report model and its
renderers (terminal, JSON, JUnit, SARIF, HTML) serve both tools.

Each violation becomes a :class:`~kubeops.inspect.model.Finding` whose check is
the policy, whose object is the reviewed one and whose location is the
manifest's file and line (``policy test``) or none (``policy audit``).  A
violation's action decides its severity: one that denies keeps the severity its
policy gave (``error`` unless said otherwise), a warning is a ``warning`` and an
audit-only record ``info``.  The JSON document carries what findings cannot say
-- each finding's engine, actions and binding -- under ``policy`` keys that the
other renderers ignore.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubeops.inspect.document import Document, build_document
from kubeops.inspect.model import ClusterResult, Finding, ObjectRef, Report, Severity
from kubeops.policy.loader import PolicySet
from kubeops.policy.model import Action, Policy, Review, Violation
from kubeops.policy.verdict import Verdict

CATEGORY = "policy"
"""The inspect category every policy finding is filed under."""

ENGINES = {"cel": "CEL", "rego": "Rego", "gatekeeper": "Gatekeeper", "builtin": "built-in"}


def severity_of(violation: Violation) -> Severity:
    """How bad a violation is: its policy's severity when it denies, ``warning`` when it
    only warns, ``info`` when it is only recorded (Audit)."""
    if not violation.denies:
        return Severity.WARNING if Action.WARN in violation.actions else Severity.INFO
    try:
        return Severity.parse(violation.severity or "error")
    except ValueError:
        return Severity.ERROR


def actions_of(violation: Violation) -> list[str]:
    """The violation's actions in a fixed order (Deny, Warn, Audit)."""
    return [str(a) for a in Action if a in violation.actions]


def object_ref(review: Review) -> ObjectRef:
    """The reviewed object as a report names it (the review's namespace, which a
    manifest without one was given, rather than the manifest's)."""
    subject = review.subject
    meta = subject.get("metadata") or {}
    return ObjectRef(
        api_version=review.kind.api_version or str(subject.get("apiVersion") or ""),
        kind=review.kind.kind or str(subject.get("kind") or ""),
        namespace=review.namespace or None,
        name=review.name or str(meta.get("name") or meta.get("generateName") or ""),
    )


def finding_of(violation: Violation, review: Review, cluster: str) -> Finding:
    """One violation as an inspect finding (``location`` from the review's manifest)."""
    where = violation.location or review.location
    return Finding(
        check=violation.policy,
        severity=severity_of(violation),
        category=CATEGORY,
        cluster=cluster,
        object=object_ref(review),
        message=violation.message,
        title=f"policy {violation.policy}",
        location=(where.file, where.line) if where is not None else None,
    )


@dataclass
class Results:
    """Every verdict of one run (``policy test`` over manifests, or one audit), and what
    the report needs besides: the policies and how many objects each namespace had."""

    policies: Sequence[Policy]
    cluster: str
    mode: str = "static"
    verdicts: list[Verdict] = field(default_factory=list)
    examined: Counter[str] = field(default_factory=Counter)
    """Reviews per namespace ("" for cluster-scoped objects)."""

    def add(self, verdict: Verdict) -> None:
        """Record one review's verdict."""
        self.verdicts.append(verdict)
        self.examined[verdict.review.namespace] += 1

    def add_unreviewed(self, violation: Violation) -> None:
        """Record a violation about no reviewed object -- a scanner report whose image no
        manifest runs (subject ``image NAME``) -- as one about that image, at its file."""
        name = violation.subject.removeprefix("image ") or violation.policy
        image = {"apiVersion": "v1", "kind": "Image", "metadata": {"name": name}}
        review = Review.of_object(image, location=violation.location, namespaced=False)
        self.verdicts.append(Verdict(review, (violation,)))

    @property
    def violations(self) -> list[tuple[Violation, Review]]:
        """Every violation with the review it is about, in review order."""
        return [(v, verdict.review) for verdict in self.verdicts for v in verdict.violations]

    @property
    def denials(self) -> int:
        """How many violations deny."""
        return sum(v.denies for v, _ in self.violations)

    @property
    def denied_objects(self) -> int:
        """How many reviews at least one policy denied."""
        return sum(not verdict.allowed for verdict in self.verdicts)

    def count(self, action: Action) -> int:
        """How many violations carry ``action``."""
        return sum(action in v.actions for v, _ in self.violations)

    def summary(self) -> dict[str, Any]:
        """The counts every output ends with."""
        return {
            "objects": sum(self.examined.values()),
            "policies": len(self.policies),
            "engines": dict(Counter(p.engine for p in self.policies)),
            "violations": len(self.violations),
            "denied": self.denials,
            "deniedObjects": self.denied_objects,
            "warnings": self.count(Action.WARN),
            "audits": self.count(Action.AUDIT),
            "ignoredErrors": sum(len(v.ignored_errors) for v in self.verdicts),
        }


def results_for(
    policies: PolicySet | Sequence[Policy], cluster: str, mode: str = "static"
) -> Results:
    """An empty :class:`Results` for ``policies``."""
    chosen = policies.policies if isinstance(policies, PolicySet) else tuple(policies)
    return Results(policies=chosen, cluster=cluster, mode=mode)


def report_of(results: Results, generated: str | None = None) -> Report:
    """The inspect :class:`Report` of ``results``: one check per policy, each having
    examined every reviewed object."""
    findings = [finding_of(v, review, results.cluster) for v, review in results.violations]
    checks = {_check_id(p): _check_meta(p, findings) for p in results.policies}
    for finding in findings:  # a violation named after no loaded policy still shows
        checks.setdefault(finding.check, _meta(finding.check, "", "", finding.severity))
    counts = dict(results.examined)
    cluster = ClusterResult(
        name=results.cluster,
        findings=sorted(findings, key=_order),
        checks_run=list(checks),
        examined=dict.fromkeys(checks, counts),
        objects={"reviewed": len(results.verdicts)},
        namespaces=sorted(ns for ns in results.examined if ns),
    )
    return Report(
        clusters=[cluster],
        generated=generated or datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        mode=results.mode,
        checks=checks,
        check_info={cid: (CATEGORY, Severity.parse(m["severity"])) for cid, m in checks.items()},
    )


def document_of(results: Results, generated: str | None = None) -> Document:
    """The ``kubeops.io/inspect/v1`` document of ``results``, with the policy summary
    (``policy``) and each finding's engine, actions and binding (``findings[].policy``)."""
    document = build_document(report_of(results, generated))
    engines = {p.name: p.engine for p in results.policies}
    extra = {
        _key(finding_of(v, review, results.cluster)): {
            "engine": engines.get(v.policy, ""),
            "actions": actions_of(v),
            "binding": v.binding,
            "reason": v.reason,
            "fieldPath": v.field_path,
        }
        for v, review in results.violations
    }
    for finding in document["findings"]:
        found = extra.get(_json_key(finding))
        if found is not None:
            finding["policy"] = found
    document["policy"] = results.summary()
    return document


def _check_id(policy: Policy) -> str:
    return policy.name


def _check_meta(policy: Policy, findings: Iterable[Finding]) -> dict[str, Any]:
    seen = [f.severity for f in findings if f.check == policy.name]
    engine = ENGINES.get(policy.engine, policy.engine)
    return _meta(policy.name, engine, str(policy.source), max(seen, default=Severity.ERROR))


def _meta(name: str, engine: str, source: str, severity: Severity) -> dict[str, Any]:
    return {
        "id": name,
        "title": f"{engine} policy {name}".strip() if engine else f"policy {name}",
        "category": CATEGORY,
        "severity": str(severity),
        "rationale": f"defined at {source}" if source else "",
        "remediation": "",
        "thresholds": {},
        "static": True,
    }


def _order(finding: Finding) -> tuple[Any, ...]:
    where = finding.location or ("", 0)
    return (where, -finding.severity, finding.check)


def _key(finding: Finding) -> tuple[Any, ...]:
    return (finding.check, str(finding.object), finding.message, finding.location)


def _json_key(finding: dict[str, Any]) -> tuple[Any, ...]:
    obj = finding.get("object") or {}
    ref = ObjectRef(
        str(obj.get("apiVersion") or ""),
        str(obj.get("kind") or ""),
        obj.get("namespace"),
        str(obj.get("name") or ""),
    )
    where = finding.get("location")
    location = (where["file"], where["line"]) if where else None
    return (finding.get("check"), str(ref), finding.get("message"), location)
