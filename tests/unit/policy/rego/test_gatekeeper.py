"""Gatekeeper templates and constraints: load errors at their YAML lines, the
parameters schema, enforcement actions, and spec.match as Gatekeeper decides it."""

from __future__ import annotations

from typing import Any

import pytest

from kubeops.config import safe_yaml
from kubeops.policy import gatekeeper
from kubeops.policy.context import StaticContext
from kubeops.policy.model import (
    Action,
    Document,
    PolicyEvaluationError,
    PolicyLoadError,
    Review,
    Source,
)

TEMPLATE = """\
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8sreplicas
spec:
  crd:
    spec:
      names:
        kind: K8sReplicas
      validation:
        openAPIV3Schema:
          type: object
          properties:
            max:
              type: integer
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8sreplicas

        violation[{"msg": msg, "details": {"field": "spec.replicas"}}] {
          input.review.object.spec.replicas > input.parameters.max
          msg := sprintf("%v replicas is more than %v", [input.review.object.spec.replicas, input.parameters.max])
        }
"""


def _docs(text: str, file: str = "policy.yaml") -> list[Document]:
    return [
        Document(d.value, Source(file, d.line)) for d in safe_yaml.load_all(text, file, lines=True)
    ]


def _constraint(spec: str, kind: str = "K8sReplicas") -> str:
    return f"apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: {kind}\nmetadata:\n  name: c\nspec:\n{spec}"


def _load(constraint: str, template: str = TEMPLATE) -> list[gatekeeper.ConstraintPolicy]:
    return gatekeeper.load(_docs(template, "t.yaml"), _docs(constraint, "c.yaml"))


def _deployment(replicas: int, **meta: Any) -> Review:
    return Review.of_object(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "prod", **meta},
            "spec": {"replicas": replicas},
        }
    )


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("", {Action.DENY}),
        ("  enforcementAction: warn\n", {Action.WARN}),
        ("  enforcementAction: dryrun\n", {Action.AUDIT}),
    ],
)
def test_enforcement_actions(action: str, expected: set[Action]) -> None:
    (policy,) = _load(_constraint(action + "  parameters:\n    max: 3\n"))
    (violation,) = policy.evaluate(_deployment(5), StaticContext())
    assert violation.actions == expected
    assert violation.message == "5 replicas is more than 3"
    assert violation.field_path == "spec.replicas"
    assert policy.evaluate(_deployment(2), StaticContext()) == []


def test_rego_errors_point_into_the_template_yaml() -> None:
    broken = TEMPLATE.replace("> input.parameters.max", "> input.parameters.max +")
    with pytest.raises(PolicyLoadError) as caught:
        _load(_constraint("  parameters:\n    max: 3\n"), broken)
    (problem,) = caught.value.problems
    assert problem.source.file == "t.yaml"
    assert problem.source.line in (22, 23)  # the broken expression's line in the YAML
    assert problem.policy == "k8sreplicas"


@pytest.mark.parametrize(
    ("constraint", "line", "cause"),
    [
        (
            _constraint("  parameters:\n    max: many\n"),
            6,
            "parameters.max: must be an integer, got string",
        ),
        (_constraint("  parameters:\n    maxx: 1\n"), 6, "parameters.maxx: unknown field"),
        (_constraint("  enforcementAction: block\n"), 6, "enforcementAction 'block'"),
        (
            _constraint("  parameters: {}\n", kind="K8sOther"),
            2,
            "no ConstraintTemplate defines kind K8sOther",
        ),
    ],
)
def test_constraint_problems_name_their_line(constraint: str, line: int, cause: str) -> None:
    with pytest.raises(PolicyLoadError) as caught:
        _load(constraint)
    (problem,) = caught.value.problems
    assert problem.source == Source("c.yaml", line)
    assert cause in problem.cause


def _match(match: str) -> gatekeeper.Match:
    return gatekeeper.Match.of(safe_yaml.load_all(match, "m.yaml")[0].value)


def _object(
    kind: str, name: str, namespace: str = "", labels: dict[str, str] | None = None
) -> Review:
    group_version = {"Deployment": "apps/v1", "ClusterRole": "rbac.authorization.k8s.io/v1"}
    meta: dict[str, Any] = {"name": name, "labels": labels or {}}
    if namespace:
        meta["namespace"] = namespace
    return Review.of_object(
        {"apiVersion": group_version.get(kind, "v1"), "kind": kind, "metadata": meta}
    )


CONTEXT = StaticContext(
    [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "prod", "labels": {"env": "prod"}},
        },
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "dev", "labels": {"env": "dev"}},
        },
    ]
)


@pytest.mark.parametrize(
    ("match", "review", "expected"),
    [
        (
            "kinds: [{apiGroups: [apps], kinds: [Deployment]}]",
            _object("Deployment", "a", "prod"),
            True,
        ),
        (
            "kinds: [{apiGroups: [''], kinds: [Deployment]}]",
            _object("Deployment", "a", "prod"),
            False,
        ),
        ("kinds: [{apiGroups: ['*'], kinds: ['*']}]", _object("Pod", "a", "prod"), True),
        ("namespaces: [kube-*]", _object("Pod", "a", "kube-system"), True),
        ("namespaces: ['*-prod']", _object("Pod", "a", "team-prod"), True),
        ("namespaces: [prod]", _object("Pod", "a", "dev"), False),
        (
            "namespaces: [prod]",
            _object("ClusterRole", "r"),
            True,
        ),  # cluster-scoped: not disqualified
        ("namespaces: [prod]", _object("Namespace", "prod"), True),  # a Namespace is its own
        ("excludedNamespaces: [dev]", _object("Pod", "a", "dev"), False),
        ("excludedNamespaces: [dev]", _object("Namespace", "dev"), False),
        ("scope: Cluster", _object("Pod", "a", "prod"), False),
        ("scope: Cluster", _object("Namespace", "prod"), True),
        ("scope: Namespaced", _object("ClusterRole", "r"), False),
        (
            "labelSelector: {matchLabels: {app: web}}",
            _object("Pod", "a", "prod", {"app": "web"}),
            True,
        ),
        (
            "labelSelector: {matchExpressions: [{key: tier, operator: NotIn, values: [batch]}]}",
            _object("Pod", "a", "prod", {"tier": "batch"}),
            False,
        ),
        ("namespaceSelector: {matchLabels: {env: prod}}", _object("Pod", "a", "prod"), True),
        ("namespaceSelector: {matchLabels: {env: prod}}", _object("Pod", "a", "dev"), False),
        ("namespaceSelector: {matchLabels: {env: prod}}", _object("ClusterRole", "r"), True),
        (
            "namespaceSelector: {matchLabels: {env: prod}}",
            _object("Namespace", "dev", labels={"env": "prod"}),
            True,
        ),
        ("name: web-*", _object("Pod", "web-1", "prod"), True),
        ("name: web-*", _object("Pod", "api", "prod"), False),
    ],
)
def test_match_decides_as_gatekeeper(match: str, review: Review, expected: bool) -> None:
    assert _match(match).matches(review, CONTEXT) is expected


def test_a_namespace_selector_on_an_unknown_namespace_cannot_decide() -> None:
    (policy,) = _load(
        _constraint(
            "  match:\n    namespaceSelector: {matchLabels: {env: prod}}\n  parameters:\n    max: 1\n"
        )
    )
    with pytest.raises(Exception, match="needs Namespace elsewhere"):
        policy.evaluate(_deployment(5, namespace="elsewhere"), CONTEXT)


def test_admission_rules_name_the_resources_the_match_can_select() -> None:
    match = _match(
        "kinds: [{apiGroups: ['', apps], kinds: [Pod, Deployment]}, {apiGroups: ['*'], kinds: ['*']}]\n"
        "scope: Namespaced"
    )
    assert match.admission_rules() == [
        {
            "apiGroups": ["", "apps"],
            "apiVersions": ["*"],
            "resources": ["deployments", "pods"],
            "operations": ["CREATE", "UPDATE"],
            "scope": "Namespaced",
        },
        {
            "apiGroups": ["*"],
            "apiVersions": ["*"],
            "resources": ["*"],
            "operations": ["CREATE", "UPDATE"],
            "scope": "Namespaced",
        },
    ]
    assert _match("name: x").admission_rules()[0]["resources"] == ["*"]


def test_a_builtin_error_in_a_v0_template_is_an_evaluation_error() -> None:
    # Rego v0 runs on regorus' interpreter, where a built-in's error is not undefined
    # (OPA would skip the body): the constraint cannot decide, its failure policy applies.
    template = TEMPLATE.replace(
        "input.review.object.spec.replicas > input.parameters.max",
        'startswith(input.review.object.spec.replicas, "x")',
    )
    (policy,) = _load(_constraint("  parameters:\n    max: 3\n"), template)
    assert policy.template.program.interpreted == "Rego v0"
    assert policy.failure_policy == "Ignore"
    with pytest.raises(
        PolicyEvaluationError, match=r"c: violation at t\.yaml:2[0-9]: .*startswith"
    ):
        policy.evaluate(_deployment(5), StaticContext())
