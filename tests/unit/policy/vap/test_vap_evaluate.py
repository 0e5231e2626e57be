"""Evaluating ValidatingAdmissionPolicies as the API server does, without a cluster
(the oracle test holds the same behaviour to a real API server)."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import Any

import pytest

from kubeops.policy import vap
from kubeops.policy.context import StaticContext
from kubeops.policy.export import export_policies
from kubeops.policy.model import Action, Operation, PolicyEvaluationError, Review, Violation

from ._build import BINDING, POLICY_HEAD, configmap, load, policy

NO_CONTEXT = StaticContext()


def _messages(loaded: vap.CelPolicy, obj: dict[str, Any], context: Any = NO_CONTEXT) -> list[str]:
    return [v.message for v in loaded.evaluate(Review.of_object(obj), context)]


def test_messages_follow_the_api_servers_fallbacks() -> None:
    loaded = policy(
        """\
        validations:
        - expression: "!has(object.data.a)"
        - expression: "!has(object.data.b)"
          message: "  b is not allowed  "
        - expression: "!has(object.data.c)"
          messageExpression: "'c is ' + object.data.c"
          message: unused
          reason: Forbidden
        - expression: "!has(object.data.d)"
          messageExpression: "'d is ' + object.data.missing"
          message: d fallback
        - expression: "!has(object.data.e)"
          messageExpression: "'two\\\\nlines'"
        - expression: "!has(object.data.f)"
          messageExpression: "'   '"
          reason: RequestEntityTooLarge
        """
    )
    violations = loaded.evaluate(
        Review.of_object(configmap(a="1", b="1", c="x", d="1", e="1", f="1")), NO_CONTEXT
    )
    assert [v.message for v in violations] == [
        "failed expression: !has(object.data.a)",
        "b is not allowed",
        "c is x",
        "d fallback",
        "failed expression: !has(object.data.e)",
        "failed expression: !has(object.data.f)",
    ]
    assert [vap.status_code(v) for v in violations] == [422, 422, 403, 422, 422, 413]
    first = violations[0]
    assert vap.admission_message(first) == (
        "ValidatingAdmissionPolicy 'p' with binding 'b' denied request: "
        "failed expression: !has(object.data.a)"
    )
    assert vap.status_message(first, Review.of_object(configmap())).startswith(
        "configmaps \"c\" is forbidden: ValidatingAdmissionPolicy 'p'"
    )
    assert vap.warning_message(first) == (
        "Validation failed for ValidatingAdmissionPolicy 'p' with binding 'b': "
        "failed expression: !has(object.data.a)"
    )


def test_errors_are_worded_as_the_api_server_words_them() -> None:
    loaded = policy("validations:\n- expression: object.data.x == 'y'\n")
    assert _messages(loaded, configmap()) == [
        "expression 'object.data.x == 'y'' resulted in error: no such key: x"
    ]


def test_variables_are_evaluated_in_order_and_fail_only_when_read() -> None:
    loaded = policy(
        """\
        variables:
        - name: x
          expression: object.data.x
        - name: shout
          expression: "variables.x.upperAscii()"
        validations:
        - expression: "!has(object.data.x) || variables.shout == 'OK'"
          messageExpression: "'got ' + variables.shout"
        """
    )
    assert _messages(loaded, configmap()) == []  # x fails, but nothing reads it
    assert _messages(loaded, configmap(x="ok")) == []
    assert _messages(loaded, configmap(x="no")) == ["got NO"]
    broken = policy(
        "variables:\n- name: x\n  expression: object.data.x\nvalidations:\n- expression: variables.x == 'a'\n"
    )
    assert _messages(broken, configmap()) == [
        "expression 'variables.x == 'a'' resulted in error: "
        'composited variable "x" fails to evaluate: no such key: x'
    ]


def test_match_conditions_skip_the_policy_or_fail_it() -> None:
    tail = """\
    matchConditions:
    - name: not-system
      expression: "!object.metadata.name.startsWith('system-')"
    - name: sized
      expression: "int(object.data.size) > 0"
    validations:
    - expression: "int(object.data.size) < 10"
      message: too big
    """
    loaded = policy(tail)
    assert _messages(loaded, configmap(size="50")) == ["too big"]
    assert _messages(loaded, configmap("system-x", size="50")) == []
    assert _messages(loaded, configmap(size="0")) == []
    assert _messages(loaded, configmap("system-y")) == []  # false wins over an error
    assert _messages(loaded, configmap()) == [
        "expression 'int(object.data.size) > 0' resulted in error: no such key: size"
    ]
    ignoring = policy("failurePolicy: Ignore\n" + textwrap.dedent(tail))
    with pytest.raises(PolicyEvaluationError):
        ignoring.evaluate(Review.of_object(configmap()), NO_CONTEXT)
    assert _messages(ignoring, configmap(size="50")) == ["too big"]


def test_the_binding_decides_what_a_failure_does() -> None:
    warn = BINDING.replace("[Deny]", "[Warn, Audit]")
    loaded = policy('validations:\n- expression: "!has(object.data.x)"\n  message: no x\n', warn)
    (violation,) = loaded.evaluate(Review.of_object(configmap(x="1")), NO_CONTEXT)
    assert violation.actions == {Action.WARN, Action.AUDIT}
    assert not violation.denies


def test_operations_objects_and_old_objects() -> None:
    loaded = policy(
        """\
        validations:
        - expression: "request.operation != 'UPDATE' || object.data.v >= oldObject.data.v"
          message: no downgrade
        - expression: "request.operation != 'DELETE' || (object == null && oldObject.data.v != 'keep')"
          message: kept
        """
    )
    old, new = configmap(v="2"), configmap(v="1")
    update = Review.of_object(new, operation=Operation.UPDATE, old_object=old)
    assert [v.message for v in loaded.evaluate(update, NO_CONTEXT)] == ["no downgrade"]
    delete = Review.of_object(configmap(v="keep"), operation=Operation.DELETE)
    assert [v.message for v in loaded.evaluate(delete, NO_CONTEXT)] == ["kept"]


class _Context(StaticContext):
    def __init__(self, objects: list[dict[str, Any]], answer: tuple[str, str] | None) -> None:
        super().__init__(objects)
        self.answer = answer
        self.asked: list[Mapping[str, Any]] = []

    def authorize(self, attributes: Mapping[str, Any]) -> tuple[str, str] | None:
        self.asked.append(attributes)
        return self.answer


PARAMS = """\
paramKind: {apiVersion: v1, kind: ConfigMap}
validations:
- expression: "size(object.data) <= int(params.data.max)"
  messageExpression: "'at most ' + params.data.max"
"""


def _param_binding(ref: str) -> str:
    return BINDING + f"  paramRef: {ref}\n"


def test_params_by_name_in_the_requests_namespace() -> None:
    loaded = policy(PARAMS, _param_binding("{name: limits, parameterNotFoundAction: Deny}"))
    assert not loaded.inline  # its params are a cluster lookup: never on a webhook's loop
    context = _Context([configmap("limits", "shop", max="1")], None)
    assert _messages(loaded, configmap(a="1", b="2"), context) == ["at most 1"]
    assert _messages(loaded, configmap(a="1"), context) == []
    (missing,) = loaded.evaluate(Review.of_object(configmap(namespace="other")), context)
    assert missing.message == (
        "failed to configure binding: no params found for policy binding with "
        "`Deny` parameterNotFoundAction"
    )
    assert missing.actions == {Action.DENY}


def test_params_by_selector_each_evaluated_or_none_allowed() -> None:
    loaded = policy(
        PARAMS,
        _param_binding(
            "{namespace: config, selector: {matchLabels: {use: 'yes'}}, parameterNotFoundAction: Allow}"
        ),
    )
    one = configmap("one", "config", max="1")
    two = configmap("two", "config", max="2")
    for param in (one, two):
        param["metadata"]["labels"] = {"use": "yes"}
    context = _Context([one, two, configmap("three", "config", max="0")], None)
    assert _messages(loaded, configmap(a="1", b="2", c="3"), context) == ["at most 1", "at most 2"]
    assert _messages(loaded, configmap(a="1", b="2", c="3"), _Context([], None)) == []


def test_namespace_object_and_selector_from_the_context() -> None:
    loaded = policy(
        """\
        validations:
        - expression: "namespaceObject.metadata.labels.tier != 'prod' || has(object.data.owner)"
          messageExpression: "namespaceObject.metadata.name + ' needs an owner'"
        """
    )
    prod = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "shop", "labels": {"tier": "prod"}},
    }
    assert loaded.inline  # the review and its Namespace only: a webhook decides it on its loop
    assert _messages(loaded, configmap(), StaticContext([prod])) == ["shop needs an owner"]
    unknown = _messages(loaded, configmap(namespace="elsewhere"))
    assert unknown == [
        "expression 'namespaceObject.metadata.labels.tier != 'prod' || has(object.data.owner)' "
        "resulted in error: no such key: tier"
    ]


def test_the_authorizer_asks_the_context() -> None:
    loaded = policy(
        "validations:\n- expression: \"authorizer.group('').resource('secrets')"
        ".namespace('shop').check('get').allowed()\"\n  message: may not read secrets\n"
    )
    assert not loaded.inline  # a SubjectAccessReview: never on a webhook's loop
    allowed = _Context([], ("allowed", ""))
    assert _messages(loaded, configmap(), allowed) == []
    assert allowed.asked[0]["resourceAttributes"]["resource"] == "secrets"
    assert _messages(loaded, configmap(), _Context([], ("denied", "no"))) == [
        "may not read secrets"
    ]


def test_audit_annotations_ride_on_the_violations() -> None:
    loaded = policy(
        """\
        validations:
        - expression: "!has(object.data.x)"
        auditAnnotations:
        - key: seen
          valueExpression: "'x=' + object.data.x"
        - key: none
          valueExpression: "null"
        """
    )
    (violation,) = loaded.evaluate(Review.of_object(configmap(x="1")), NO_CONTEXT)
    assert violation.audit_annotations == {"p/seen": "x=1"}


def test_export_writes_policies_params_and_bindings_back(tmp_path: Any) -> None:
    text = (
        "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicy\n"
        "metadata: {name: p, uid: abc}\nspec:\n  paramKind: {apiVersion: v1, kind: ConfigMap}\n"
        "  matchConstraints:\n    resourceRules:\n    - {apiGroups: [''], apiVersions: [v1], "
        "resources: [configmaps], operations: [CREATE]}\n"
        "  validations: [{expression: 'true'}]\nstatus: {observedGeneration: 1}\n"
        + _param_binding("{name: limits, namespace: shop, parameterNotFoundAction: Deny}")
        + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: limits, namespace: shop}\n"
        + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: other, namespace: shop}\n"
    )
    (tmp_path / "p.yaml").write_text(text)
    exported = export_policies([tmp_path])
    assert [(o["kind"], o["metadata"]["name"]) for o in exported] == [
        ("ValidatingAdmissionPolicy", "p"),
        ("ConfigMap", "limits"),
        ("ValidatingAdmissionPolicyBinding", "b"),
    ]
    assert "status" not in exported[0]
    assert "uid" not in exported[0]["metadata"]
    assert type(exported[0]["spec"]) is dict


def test_violations_name_policy_and_binding() -> None:
    loaded = policy('validations:\n- expression: "!has(object.data.x)"\n')
    (violation,) = loaded.evaluate(Review.of_object(configmap(x="1")), NO_CONTEXT)
    assert isinstance(violation, Violation)
    assert (violation.policy, violation.binding, violation.reason) == ("p", "b", "Invalid")


def test_a_namespace_is_seen_with_its_automatic_label() -> None:
    text = (
        POLICY_HEAD.replace("[configmaps]", "[namespaces]")
        + "  validations:\n  - expression: \"object.metadata.labels['kubernetes.io/metadata.name']"
        " == object.metadata.name && namespaceObject == null && request.namespace == 'shop'\"\n"
        "  - expression: 'false'\n    message: evaluated\n" + BINDING
    )
    (loaded,) = load(text)
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
    assert _messages(loaded, namespace) == ["evaluated"]


def test_cluster_scoped_params_and_their_configuration_errors() -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "limits.example.com"},
        "spec": {"group": "example.com", "names": {"kind": "Limit"}, "scope": "Cluster"},
    }
    limit = {
        "apiVersion": "example.com/v1",
        "kind": "Limit",
        "metadata": {"name": "default"},
        "data": {"max": "1"},
    }
    tail = PARAMS.replace(
        "{apiVersion: v1, kind: ConfigMap}", "{apiVersion: example.com/v1, kind: Limit}"
    )
    loaded = policy(tail, _param_binding("{name: default, parameterNotFoundAction: Deny}"))
    context = StaticContext([crd, limit])
    assert _messages(loaded, configmap(a="1", b="2"), context) == ["at most 1"]
    in_namespace = policy(
        tail, _param_binding("{name: default, namespace: x, parameterNotFoundAction: Deny}")
    )
    assert _messages(in_namespace, configmap(), context) == [
        "failed to configure binding: paramRef.namespace must not be provided for a "
        "cluster-scoped `paramKind`"
    ]


def test_an_audit_annotation_that_fails_denies_under_fail_whatever_the_actions() -> None:
    tail = """\
    validations:
    - expression: "true"
    auditAnnotations:
    - key: size
      valueExpression: "'size ' + object.data.size"
    """
    audit_only = BINDING.replace("[Deny]", "[Audit]")
    (violation,) = policy(tail, audit_only).evaluate(Review.of_object(configmap()), NO_CONTEXT)
    assert violation.message == (
        "expression ''size ' + object.data.size' resulted in error: no such key: size"
    )
    assert violation.actions == {Action.DENY}
    ignoring = policy("failurePolicy: Ignore\n" + textwrap.dedent(tail), audit_only)
    with pytest.raises(PolicyEvaluationError):
        ignoring.evaluate(Review.of_object(configmap()), NO_CONTEXT)
