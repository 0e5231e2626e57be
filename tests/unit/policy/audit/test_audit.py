"""The audit's pure parts: which resources are read, how a live object is reviewed,
and the metrics an audit leaves."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from prometheus_client import generate_latest

from kubeops.api.resource import ResourceType
from kubeops.policy.audit import (
    Audit,
    AuditError,
    AuditMetrics,
    Listed,
    judge,
    parse_kinds,
    policy_kinds,
    resources_to_audit,
    review_of_live,
    strongest,
    violation_counts,
)
from kubeops.policy.loader import PolicySet
from kubeops.policy.model import (
    Action,
    Context,
    FailurePolicy,
    Operation,
    Review,
    Source,
    Violation,
)

LIST = ("get", "list", "watch")
PODS = ResourceType("", "v1", "Pod", "pods", True, ("po",), LIST, "pod")
NAMESPACES = ResourceType("", "v1", "Namespace", "namespaces", False, ("ns",), LIST, "namespace")
QUOTAS = ResourceType("", "v1", "ResourceQuota", "resourcequotas", True, ("quota",), LIST)
LIMITS = ResourceType("", "v1", "LimitRange", "limitranges", True, ("limits",), LIST)
EVENTS = ResourceType("", "v1", "Event", "events", True, ("ev",), LIST)
NEW_EVENTS = ResourceType("events.k8s.io", "v1", "Event", "events", True, (), LIST)
DEPLOYMENTS = ResourceType("apps", "v1", "Deployment", "deployments", True, ("deploy",), LIST)
POD_LOGS = ResourceType("", "v1", "Pod", "pods/log", True, (), ("get",))
REVIEWS = ResourceType("authorization.k8s.io", "v1", "SubjectAccessReview",
                       "subjectaccessreviews", False, (), ("create",))  # fmt: skip
SERVED = [PODS, NAMESPACES, QUOTAS, LIMITS, EVENTS, NEW_EVENTS, DEPLOYMENTS, POD_LOGS, REVIEWS]


@dataclass
class Rule:
    """Denies Pods without a ``team`` label; may say which kinds it matches."""

    name: str = "team-label"
    kinds: list[tuple[str, str]] | None = None
    actions: frozenset[Action] = frozenset({Action.DENY})
    engine: str = "cel"
    failure_policy: FailurePolicy = FailurePolicy.FAIL
    source: Source = field(default_factory=lambda: Source("p.yaml", 1))
    seen: list[Review] = field(default_factory=list)

    def audit_kinds(self) -> list[tuple[str, str]] | None:
        return self.kinds

    def evaluate(self, review: Review, context: Context) -> list[Violation]:
        self.seen.append(review)
        if review.kind.kind != "Pod":
            return []
        labels = (review.subject.get("metadata") or {}).get("labels") or {}
        namespace = context.namespace(review.namespace) or {}
        if "team" in labels or "exempt" in (namespace.get("metadata") or {}).get("labels", {}):
            return []
        return [Violation(self.name, "no team label", self.actions)]


def _names(resources: list[ResourceType]) -> list[str]:
    return [r.qualified_name for r in resources]


def test_every_listable_resource_but_events_when_a_policy_may_match_anything() -> None:
    assert policy_kinds([Rule(kinds=[("", "Pod")]), Rule()]) is None
    assert _names(resources_to_audit(SERVED, None)) == [
        "pods", "namespaces", "resourcequotas", "limitranges", "deployments.apps",
    ]  # fmt: skip


def test_the_policies_kinds_and_the_context_kinds() -> None:
    kinds = policy_kinds([Rule(kinds=[("", "Pod")]), Rule(kinds=[("apps", "deployments")])])
    assert kinds == {("", "Pod"), ("apps", "deployments")}
    assert _names(resources_to_audit(SERVED, kinds)) == [
        "pods", "namespaces", "resourcequotas", "limitranges", "deployments.apps",
    ]  # fmt: skip
    assert _names(resources_to_audit(SERVED, {("", "Pod")})) == [
        "pods", "namespaces", "resourcequotas", "limitranges",
    ]  # fmt: skip


def test_kinds_named_by_the_user() -> None:
    kinds = parse_kinds("po, deployments.apps,")
    assert kinds == [("*", "po"), ("apps", "deployments")]
    assert "deployments.apps" in _names(resources_to_audit(SERVED, kinds, named=True))
    with pytest.raises(AuditError, match=r"serves no resource 'widgets\.example\.com'"):
        resources_to_audit(SERVED, parse_kinds("widgets.example.com"), named=True)
    with pytest.raises(AuditError, match="name at least one kind"):
        parse_kinds(" , ")


def test_a_live_object_is_reviewed_as_an_update_of_itself() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "n"}}
    review = review_of_live(pod, Operation.UPDATE, PODS)
    assert review.operation == Operation.UPDATE
    assert review.object is pod
    assert review.old_object is pod
    assert (review.resource.resource, review.namespace) == ("pods", "n")
    created = review_of_live(pod, Operation.CREATE, PODS)
    assert created.old_object is None


def _pod(name: str, namespace: str, **labels: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
    }


def test_judge_reviews_what_was_listed_with_the_namespaces_as_context() -> None:
    rule = Rule()
    warn = Rule(name="warn-only", actions=frozenset({Action.WARN, Action.AUDIT}))
    policies = PolicySet((rule, warn))
    exempt = {"apiVersion": "v1", "kind": "Namespace",
              "metadata": {"name": "legacy", "labels": {"exempt": "yes"}}}  # fmt: skip
    listed = Listed(
        objects={
            "pods": [_pod("a", "shop"), _pod("b", "shop", team="x"), _pod("c", "legacy")],
            "namespaces": [exempt],
        }
    )
    results = judge(
        policies,
        listed,
        {"pods": PODS, "namespaces": NAMESPACES},
        cluster="test",
        audited=lambda r: r.plural == "pods",
    )
    assert len(results.verdicts) == 3  # the Namespace answered, was not judged
    assert [(v.policy, r.name) for v, r in results.violations] == [
        ("team-label", "a"),
        ("warn-only", "a"),
    ]
    assert all(r.operation == Operation.UPDATE for r in rule.seen)
    counts = violation_counts(results)
    assert counts[("team-label", "cel", "Deny")] == 1
    assert counts[("warn-only", "cel", "Warn")] == 1
    assert counts[("warn-only", "cel", "Audit")] == 0
    assert counts[("team-label", "cel", "Warn")] == 0

    metrics = AuditMetrics()
    metrics.record(Audit(results, {"secrets": "forbidden"}, 1.5, 1700000000.0))
    text = generate_latest(metrics.registry).decode()
    assert (
        'kubeops_policy_audit_violations{action="Deny",engine="cel",policy="team-label"} 1.0'
        in text
    )
    assert "kubeops_policy_audit_objects 3.0" in text
    assert "kubeops_policy_audit_denied_objects 1.0" in text
    assert "kubeops_policy_audit_last_run_timestamp_seconds 1.7e+09" in text
    assert "kubeops_policy_audit_unreadable_resources 1.0" in text
    assert 'kubeops_policy_audit_runs_total{result="success"} 1.0' in text
    document = Audit(results, {"secrets": "forbidden"}, 1.5, 1700000000.0).document()
    assert document["not_run"] == [
        {"check": "list secrets", "cluster": "test", "reason": "forbidden"}
    ]
    assert document["mode"] == "live"


def test_strongest_action() -> None:
    assert strongest({Action.AUDIT, Action.DENY}) == Action.DENY
    assert strongest({Action.AUDIT, Action.WARN}) == Action.WARN
    assert strongest({Action.AUDIT}) == Action.AUDIT


@dataclass
class Ruled:
    """A policy that says what it matches only as admission rules (as the webhook reads)."""

    rules: list[dict[str, list[str]]]
    name: str = "ruled"
    engine: str = "cel"
    failure_policy: FailurePolicy = FailurePolicy.FAIL
    source: Source = field(default_factory=lambda: Source("p.yaml", 1))

    def admission_rules(self) -> list[dict[str, list[str]]]:
        return self.rules

    def evaluate(self, review: Review, context: Context) -> list[Violation]:
        return []


def test_the_kinds_of_the_webhook_admission_rules() -> None:
    ruled = Ruled([{"apiGroups": ["apps", ""], "resources": ["deployments", "pods/status"]}])
    assert policy_kinds([ruled]) == {
        ("apps", "deployments"), ("apps", "pods"), ("", "deployments"), ("", "pods"),
    }  # fmt: skip
    assert policy_kinds([Ruled([{"apiGroups": ["*"], "resources": ["*"]}])]) is None
    assert policy_kinds([Ruled([])]) is None
