"""Loading ValidatingAdmissionPolicies: what the API server refuses is refused, with
file, line, policy and cause, and nothing of the set is loaded."""

from __future__ import annotations

import pytest

from kubeops.policy import vap
from kubeops.policy.model import Action, FailurePolicy, PolicyLoadError

from ._build import BINDING, POLICY_HEAD, documents, load, policy


def _problems(text: str) -> list[str]:
    with pytest.raises(PolicyLoadError) as caught:
        load(text)
    return [str(p) for p in caught.value.problems]


def test_a_policy_and_its_binding_load_as_one_policy() -> None:
    loaded = policy("validations:\n- expression: object.data.x == 'y'\n")
    assert (loaded.name, loaded.binding, loaded.engine) == ("p", "b", "cel")
    assert loaded.failure_policy == FailurePolicy.FAIL
    assert loaded.bound.actions == {Action.DENY}
    assert loaded.source.line == 4  # metadata.name
    assert loaded.admission_rules() == [
        {
            "apiGroups": [""],
            "apiVersions": ["v1"],
            "resources": ["configmaps"],
            "operations": ["CREATE", "UPDATE", "DELETE"],
            "scope": "*",
        }
    ]
    assert loaded.audit_kinds() == {("", "configmaps")}


def test_a_policy_without_a_binding_enforces_nothing() -> None:
    text = POLICY_HEAD + "  validations:\n  - expression: 'true'\n"
    assert load(text) == []
    assert vap.unbound(*documents(text)) == ["p"]


def test_one_policy_per_binding() -> None:
    second = BINDING.replace("name: b", "name: b2").replace("[Deny]", "[Warn, Audit]")
    text = POLICY_HEAD + "  validations:\n  - expression: 'true'\n" + BINDING + second
    assert [(p.name, p.binding) for p in load(text)] == [("p", "b"), ("p", "b2")]


@pytest.mark.parametrize(
    ("tail", "line", "cause"),
    [
        (
            "validations:\n- expression: object.data.x ==\n",
            13,
            "spec.validations[0].expression: compilation failed: column 17: Syntax error",
        ),
        (
            "validations:\n- expression: nothing.x == 1\n",
            13,
            "undeclared reference to 'nothing",
        ),
        (
            "validations:\n- expression: params.max > 1\n",
            13,
            "undeclared reference to 'params.max' (the policy has no spec.paramKind)",
        ),
        (
            "validations:\n- expression: variables.nope\n",
            13,
            "undeclared reference to 'variables.nope'",
        ),
        (
            "validations:\n- expression: object.data.x\n",
            13,
            "spec.validations[0].expression: must evaluate to bool but got dyn",
        ),
        (
            "validations:\n- expression: 'true'\n  messageExpression: '1'\n",
            14,
            "messageExpression: must evaluate to string but got int",
        ),
        (
            "validations:\n- expression: 'true'\n  reason: Unauthorized\n",
            14,
            'reason: Unsupported value: "Unauthorized"',
        ),
        (
            "validations:\n- expression: request.uid == ''\n",
            13,
            "undefined field 'uid' of request",
        ),
        (
            "variables:\n- name: a\n  expression: variables.b\n- name: b\n  expression: '1'\n"
            "validations:\n- expression: 'true'\n",
            14,
            "spec.variables[0].expression: compilation failed",
        ),
        (
            "variables:\n- name: 9lives\n  expression: '1'\nvalidations:\n- expression: 'true'\n",
            13,
            "must be a valid CEL identifier",
        ),
        (
            "matchConditions:\n- name: bad name\n  expression: 'true'\nvalidations:\n- expression: 'true'\n",
            13,
            'spec.matchConditions[0].name: Invalid value: "bad name"',
        ),
        (
            "auditAnnotations:\n- key: k\n  valueExpression: '1'\n",
            14,
            "must evaluate to one of [string null_type] but got int",
        ),
        ("failurePolicy: Sometimes\nvalidations:\n- expression: 'true'\n", 12, "Unsupported value"),
        ("paramKind: {apiVersion: v1}\nvalidations:\n- expression: 'true'\n", 12, "kind: Required"),
        ("failurePolicy: Fail", 5, "at least one of validations or auditAnnotations"),
    ],
)
def test_a_bad_policy_is_refused_naming_file_line_and_field(
    tail: str, line: int, cause: str
) -> None:
    text = POLICY_HEAD + "\n".join("  " + row for row in tail.splitlines()) + "\n" + BINDING
    (problem,) = _problems(text)
    assert problem.startswith(f"policies.yaml:{line}: policy p: ")
    assert cause in problem


def test_match_constraints_are_required_with_complete_rules() -> None:
    text = """\
    apiVersion: admissionregistration.k8s.io/v1
    kind: ValidatingAdmissionPolicy
    metadata: {name: p}
    spec:
      validations: [{expression: 'true'}]
    ---
    apiVersion: admissionregistration.k8s.io/v1
    kind: ValidatingAdmissionPolicy
    metadata: {name: q}
    spec:
      matchConstraints:
        resourceRules:
        - apiGroups: [""]
          resources: [pods]
          operations: [CREATE, PATCH]
      validations: [{expression: 'true'}]
    """
    problems = _problems(text)
    assert problems[0] == "policies.yaml:4: policy p: spec.matchConstraints: Required value"
    assert (
        "policies.yaml:13: policy q: spec.matchConstraints.resourceRules[0].apiVersions: Required value"
        in problems
    )
    assert any('operations[1]: Unsupported value: "PATCH"' in p for p in problems)


def test_bad_bindings_are_refused() -> None:
    text = (
        POLICY_HEAD
        + """\
  paramKind: {apiVersion: v1, kind: ConfigMap}
  validations: [{expression: 'true'}]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: no-param-ref}
spec: {policyName: p, validationActions: [Deny]}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: to-nothing}
spec:
  policyName: nothing
  validationActions: [Deny]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: loud}
spec:
  policyName: p
  validationActions: [Deny, Warn]
  paramRef: {name: x, selector: {}}
"""
    )
    problems = _problems(text)
    assert any(
        p.startswith(
            "policies.yaml:17: policy p: binding no-param-ref: spec.paramRef: Required value"
        )
        for p in problems
    )
    assert any(
        p.startswith(
            "policies.yaml:24: policy nothing: binding to-nothing: spec.policyName: no "
            "ValidatingAdmissionPolicy named 'nothing'"
        )
        for p in problems
    )
    assert any("must not contain both Deny and Warn" in p for p in problems)
    assert any("name and selector are mutually exclusive" in p for p in problems)
    assert any("parameterNotFoundAction: Required value" in p for p in problems)


def test_one_bad_policy_refuses_the_whole_set() -> None:
    good = POLICY_HEAD + "  validations: [{expression: 'true'}]\n" + BINDING
    bad = (
        good.replace("name: p", "name: q").replace("'true'", "'nope'").replace("name: b", "name: c")
    )
    with pytest.raises(PolicyLoadError) as caught:
        vap.load(*[a + b for a, b in zip(documents(good), documents(bad), strict=True)])
    assert len(caught.value.problems) == 1
    assert "policy q:" in str(caught.value)


def test_names_are_unique() -> None:
    good = POLICY_HEAD + "  validations: [{expression: 'true'}]\n" + BINDING
    problems = _problems(good + "---\n" + good)
    assert any("defined twice (first at policies.yaml:4)" in p for p in problems)
    assert any("binding b defined twice" in p for p in problems)
