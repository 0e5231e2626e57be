"""A review through a policy set: stamping, failure policies, and the request's fate."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from kubeops.policy.context import StaticContext
from kubeops.policy.loader import PolicySet, read_documents
from kubeops.policy.model import (
    Action,
    Context,
    FailurePolicy,
    PolicyEvaluationError,
    PolicyLoadError,
    Review,
    Source,
    Violation,
)
from kubeops.policy.verdict import evaluate

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "n"}}


@dataclass
class Rule:
    """A policy in plain Python: enough to exercise the set's own logic."""

    name: str
    outcome: list[Violation] | str
    failure_policy: FailurePolicy = FailurePolicy.FAIL
    engine: str = "builtin"
    source: Source = field(default_factory=lambda: Source("rules.yaml", 1))

    def evaluate(self, review: Review, context: Context) -> list[Violation]:
        if isinstance(self.outcome, str):
            raise PolicyEvaluationError(self.name, self.outcome)
        return self.outcome


def test_violations_carry_the_subject_and_place_and_decide_the_request() -> None:
    policies = PolicySet(
        (
            Rule("deny", [Violation("deny", "no")]),
            Rule("warn", [Violation("warn", "careful", frozenset({Action.WARN}))]),
            Rule("quiet", []),
        )
    )
    review = Review.of_object(POD, location=Source("pod.yaml", 4))
    verdict = evaluate(policies, review, StaticContext())
    assert not verdict.allowed
    assert [v.policy for v in verdict.denials] == ["deny"]
    assert [v.message for v in verdict.warnings] == ["careful"]
    assert {v.subject for v in verdict.violations} == {"Pod n/p"}
    assert {v.location for v in verdict.violations} == {Source("pod.yaml", 4)}


def test_warnings_and_audits_alone_allow_the_request() -> None:
    only = Violation("w", "x", frozenset({Action.WARN, Action.AUDIT}))
    verdict = evaluate(PolicySet((Rule("w", [only]),)), Review.of_object(POD), StaticContext())
    assert verdict.allowed
    assert verdict.audits == [verdict.violations[0]]


def test_a_failing_policy_denies_under_fail_and_is_kept_aside_under_ignore() -> None:
    failing = Rule("broken", "no such key: spec")
    ignored = Rule("lenient", "timed out", FailurePolicy.IGNORE)
    verdict = evaluate(PolicySet((failing, ignored)), Review.of_object(POD), StaticContext())
    assert [v.message for v in verdict.denials] == [
        "policy broken could not be evaluated: no such key: spec"
    ]
    assert [e.policy for e in verdict.ignored_errors] == ["lenient"]


def test_the_static_context_answers_from_the_objects_given() -> None:
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "q", "namespace": "n"},
    }
    space = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}}
    context = StaticContext([quota, space, "not an object"])  # type: ignore[list-item]
    assert context.namespace("n") is space
    assert context.namespace("m") is None
    assert context.objects("v1", "ResourceQuota", "n") == [quota]
    assert context.objects("v1", "ResourceQuota", "other") == []
    assert context.authorize({"verb": "get"}) is None


def test_a_policy_directory_is_sorted_by_engine(tmp_path: Path) -> None:
    (tmp_path / "deny.rego").write_text("package main\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "vap.yaml").write_text(
        "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicy\n"
        "metadata: {name: a}\n---\n"
        "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicyBinding\n"
        "metadata: {name: a}\n---\n"
        "apiVersion: templates.gatekeeper.sh/v1\nkind: ConstraintTemplate\nmetadata: {name: t}\n---\n"
        "apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: T\nmetadata: {name: c}\n---\n"
        "apiVersion: policy.kubeops.io/v1alpha1\nkind: PolicyLibrary\nmetadata: {name: l}\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: params}\n"
    )
    (tmp_path / "notes.txt").write_text("ignored")
    found = read_documents([tmp_path])
    assert [d.source.file.endswith("deny.rego") for d in found.rego] == [True]
    assert [(len(x)) for x in (found.vaps, found.bindings, found.templates)] == [1, 1, 1]
    assert [(len(x)) for x in (found.constraints, found.library, found.objects)] == [1, 1, 1]
    assert found.bindings[0].source.line == 5
    assert found.objects[0].value["metadata"]["name"] == "params"


def test_every_unreadable_policy_file_is_named_and_nothing_is_loaded(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("a: [1,\n")
    (tmp_path / "scalar.yaml").write_text("just text\n")
    with pytest.raises(PolicyLoadError) as caught:
        read_documents([tmp_path, tmp_path / "missing"])
    lines = str(caught.value).splitlines()
    assert len(lines) == 3
    assert lines[0].startswith(f"{tmp_path / 'bad.yaml'}:2: not valid YAML")
    assert "not valid YAML" in lines[0]
    assert (
        lines[1]
        == f"{tmp_path / 'scalar.yaml'}:1: expected a Kubernetes object with apiVersion and kind"
    )
    assert lines[2] == f"{tmp_path / 'missing'}: no such file or directory"
