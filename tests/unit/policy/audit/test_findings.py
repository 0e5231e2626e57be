"""Violations as inspect findings: severity by action, file and line kept, and every
report format rendering the policy document."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from kubeops.inspect.model import Severity
from kubeops.inspect.report import render
from kubeops.policy.context import StaticContext
from kubeops.policy.findings import document_of, results_for, severity_of
from kubeops.policy.loader import PolicySet
from kubeops.policy.model import Action, Context, FailurePolicy, Review, Source, Violation
from kubeops.policy.verdict import evaluate

DENY = frozenset({Action.DENY})
WARN = frozenset({Action.WARN})
AUDIT = frozenset({Action.AUDIT})


@dataclass
class Rule:
    """A policy that finds the same violations on every Deployment."""

    name: str
    found: list[Violation]
    engine: str = "cel"
    failure_policy: FailurePolicy = FailurePolicy.FAIL
    source: Source = field(default_factory=lambda: Source("policy.yaml", 3))

    def evaluate(self, review: Review, context: Context) -> list[Violation]:
        return self.found if review.kind.kind == "Deployment" else []


def _deployment(name: str, namespace: str | None = None) -> dict[str, object]:
    meta: dict[str, object] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta}


def test_severity_follows_the_strongest_action() -> None:
    assert severity_of(Violation("p", "m", DENY)) == Severity.ERROR
    assert severity_of(Violation("p", "m", DENY, severity="critical")) == Severity.CRITICAL
    assert severity_of(Violation("p", "m", DENY | WARN, severity="bogus")) == Severity.ERROR
    assert severity_of(Violation("p", "m", WARN | AUDIT, severity="critical")) == Severity.WARNING
    assert severity_of(Violation("p", "m", AUDIT)) == Severity.INFO


def _results() -> object:
    policies = PolicySet(
        (
            Rule("limits", [Violation("limits", "container web has no memory limit")]),
            Rule("labels", [Violation("labels", "no team label", WARN)], engine="rego"),
            Rule("clean", []),
        )
    )
    results = results_for(policies, "manifests")
    context = StaticContext()
    for name, line in (("web", 1), ("api", 20)):
        review = Review.of_object(_deployment(name, "shop"), location=Source("k8s/app.yaml", line))
        results.add(evaluate(policies, review, context))
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    results.add(evaluate(policies, Review.of_object(config), context))
    return results


def test_the_document_has_a_finding_per_violation_with_file_line_and_action() -> None:
    results = _results()
    document = document_of(results, generated="2026-01-01T00:00:00+00:00")  # type: ignore[arg-type]
    found = [
        (f["check"], f["severity"], f["location"]["line"], f["policy"]["actions"])
        for f in document["findings"]
    ]
    assert sorted(found) == [
        ("labels", "warning", 1, ["Warn"]),
        ("labels", "warning", 20, ["Warn"]),
        ("limits", "error", 1, ["Deny"]),
        ("limits", "error", 20, ["Deny"]),
    ]
    first = document["findings"][0]
    assert first["object"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "namespace": "shop",
        "name": first["object"]["name"],
    }
    assert first["category"] == "policy"
    assert document["policy"]["objects"] == 3
    assert document["policy"]["denied"] == 2
    assert document["policy"]["deniedObjects"] == 2
    assert document["policy"]["warnings"] == 2
    assert set(document["checks"]) == {"limits", "labels", "clean"}
    assert document["checks"]["labels"]["title"] == "Rego policy labels"
    assert document["checks"]["labels"]["severity"] == "warning"


def test_every_report_format_renders_the_policy_document() -> None:
    document = document_of(_results())  # type: ignore[arg-type]
    assert json.loads(render(document, "json"))["policy"]["denied"] == 2
    sarif = json.loads(render(document, "sarif"))
    results = sarif["runs"][0]["results"]
    assert {r["ruleId"] for r in results} == {"limits", "labels"}
    located = [r["locations"][0]["physicalLocation"] for r in results]
    assert {(p["artifactLocation"]["uri"], p["region"]["startLine"]) for p in located} == {
        ("k8s/app.yaml", 1),
        ("k8s/app.yaml", 20),
    }
    junit = ET.fromstring(render(document, "junit"))
    failures = junit.findall(".//failure")
    assert len(failures) == 4
    assert "<html" in render(document, "html").lower()
