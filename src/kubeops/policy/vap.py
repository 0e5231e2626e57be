"""Policies in CEL: ValidatingAdmissionPolicy and its bindings, run as the API server
runs them, in CI, before apply, at admission and in an audit.

:func:`load` reads native ``admissionregistration.k8s.io/v1`` documents as they
are and gives one :class:`CelPolicy` per (policy, binding) pair; a policy with no
binding is checked but enforces nothing, as on the API server (``kubeops policy
export`` emits the bindings as written).  Evaluation follows the API server step by
step (k8s.io/apiserver ``policy/validating``): match constraints, the binding's
match resources, params, match conditions, validations, audit annotations; an
error obeys ``failurePolicy``; a failed validation takes the binding's
``validationActions``.  :func:`admission_message`, :func:`warning_message` and
:func:`status_code` give the API server's words and HTTP code for a violation --
the oracle test (tests/integration/policy/vap) holds them to a real API server.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

from kubeops.api.resource import BUILTIN
from kubeops.cel import Prepared, prepare
from kubeops.policy import vap_cel
from kubeops.policy.model import (
    Action,
    Context,
    Document,
    FailurePolicy,
    GroupVersionKind,
    Object,
    PolicyEvaluationError,
    PolicyLoadError,
    Review,
    Source,
    Violation,
)
from kubeops.policy.vap_cel import EvaluationFailure
from kubeops.policy.vap_spec import BindingSpec, PolicySpec, Validation, read

__all__ = [
    "CelPolicy",
    "admission_message",
    "load",
    "status_code",
    "status_message",
    "unbound",
    "warning_message",
]

ENGINE: Final = "cel"
_CODES: Final = {"Forbidden": 403, "Unauthorized": 401, "RequestEntityTooLarge": 413}
_CRD: Final = ("apiextensions.k8s.io/v1", "CustomResourceDefinition")
_DENY_ONLY: Final = frozenset({Action.DENY})


def load(policies: Sequence[Document], bindings: Sequence[Document]) -> list[CelPolicy]:
    """One :class:`CelPolicy` per (ValidatingAdmissionPolicy, binding) pair, every
    expression compiled and typed; :class:`PolicyLoadError` lists every problem
    (file, line, policy, cause) and nothing is loaded."""
    specs, found, problems = read(policies, bindings)
    if problems:
        raise PolicyLoadError(problems)
    by_name = {spec.name: spec for spec in specs}
    return [CelPolicy(by_name[b.policy_name], b) for b in found]


def unbound(policies: Sequence[Document], bindings: Sequence[Document]) -> list[str]:
    """The names of policies no binding names: loaded and checked, enforcing nothing."""
    bound = {str((b.value.get("spec") or {}).get("policyName") or "") for b in bindings}
    names = [str((p.value.get("metadata") or {}).get("name") or "") for p in policies]
    return [name for name in names if name not in bound]


class _ConfigError(Exception):
    """A binding that cannot be applied to this request (its params are missing)."""


@dataclass
class CelPolicy:
    """One ValidatingAdmissionPolicy under one binding."""

    spec: PolicySpec
    bound: BindingSpec
    name: str = ""
    engine: str = ENGINE
    source: Source = field(default_factory=lambda: Source(""))
    failure_policy: FailurePolicy = FailurePolicy.FAIL
    binding: str = ""

    def __post_init__(self) -> None:
        self.name = self.spec.name
        self.source = self.spec.source
        self.failure_policy = self.spec.failure_policy
        self.binding = self.bound.name

    @property
    def inline(self) -> bool:
        """Whether the policy reads only the review and its Namespace, at a cost bounded by
        the object (no authorizer, no params): a webhook may evaluate it on its loop."""
        return not self.spec.uses_authorizer and self.spec.param_kind is None

    def admission_rules(self) -> list[dict[str, Any]]:
        """The rules the policy can match (its matchConstraints.resourceRules), for a
        webhook's registration."""
        return [rule.as_api() for rule in self.spec.match.resource_rules]

    def audit_kinds(self) -> Collection[tuple[str, str]] | None:
        """(apiGroup, resource) pairs the policy can match, for ``policy audit``."""
        kinds: set[tuple[str, str]] = set()
        for rule in self.spec.match.resource_rules:
            for group in rule.api_groups:
                for resource in rule.resources:
                    kinds.add((group, resource.partition("/")[0]))
        return kinds

    def evaluate(self, review: Review, context: Context) -> list[Violation]:
        """The violations of ``review``: [] when out of scope or allowed."""
        namespace_name = _namespace_name(review)
        namespace = context.namespace(namespace_name) if namespace_name else None
        if not self.spec.match.matches(review, namespace):
            return []
        if self.bound.match is not None and not self.bound.match.matches(review, namespace):
            return []
        try:
            params = self._params(review, context)
        except _ConfigError as error:
            return self._misconfigured(f"failed to configure binding: {error}")
        shown_namespace = vap_cel.namespace_object(namespace_name, namespace)
        violations: list[Violation] = []
        ignored: list[str] = []
        for param in params:
            violations += self._validate(review, context, param, shown_namespace, ignored)
        if ignored and not violations:
            raise PolicyEvaluationError(self.name, ignored[0])
        return violations

    # -- one evaluation ------------------------------------------------------------------

    def _validate(
        self,
        review: Review,
        context: Context,
        param: Object | None,
        namespace: Object | None,
        ignored: list[str],
    ) -> list[Violation]:
        spec = self.spec
        if not spec.variables and spec.param_kind is None and not spec.uses_authorizer:
            values, prepared = _shared_activation(review, namespace)
            failed: Mapping[str, str] = {}
        else:
            values = vap_cel.activation(
                review,
                params=param,
                namespace=namespace,
                with_params=spec.param_kind is not None,
                authorize=context.authorize if spec.uses_authorizer else None,
            )
            prepared, failed = vap_cel.evaluate_variables(spec.variables, values)
        errors: list[str] = []
        for _, program in spec.conditions:
            try:
                if vap_cel.evaluate(program, prepared, failed) is False:
                    return []
            except EvaluationFailure as error:
                errors.append(error.message)
        if errors:
            return self._error(_aggregate(errors), ignored)
        violations: list[Violation] = []
        for validation in spec.validations:
            try:
                passed = vap_cel.evaluate(validation.program, prepared, failed)
            except EvaluationFailure as error:
                violations += self._error(error.message, ignored)
                continue
            if passed is True:
                continue
            message = _message(validation, values, spec.authorizer_variables, failed)
            violations.append(self._violation(message, validation.reason or "Invalid"))
        annotations, annotation_errors = self._annotations(prepared, failed, ignored)
        violations += [self._violation(m, "Invalid", _DENY_ONLY) for m in annotation_errors]
        if annotations:
            violations = [_with_annotations(v, annotations) for v in violations]
        return violations

    def _annotations(
        self, prepared: Prepared, failed: Mapping[str, str], ignored: list[str]
    ) -> tuple[dict[str, str], list[str]]:
        published: dict[str, str] = {}
        errors: list[str] = []
        for annotation in self.spec.audit_annotations:
            try:
                value = vap_cel.evaluate(annotation.program, prepared, failed)
            except EvaluationFailure as error:
                if self.failure_policy == FailurePolicy.IGNORE:
                    ignored.append(error.message)
                else:
                    errors.append(error.message)
                continue
            if isinstance(value, str):
                if value.strip():
                    published[f"{self.name}/{annotation.key}"] = value.strip()[: 10 * 1024]
            elif value is not None:
                errors.append(
                    f"valueExpression '{annotation.program.expression}' resulted in "
                    f"unsupported return type: {_go_type(value)}. "
                    "Return type must be either string or null."
                )
        return published, errors

    def _params(self, review: Review, context: Context) -> list[Object | None]:
        """The params to validate with (the API server's CollectParams)."""
        ref = self.bound.param_ref
        if self.spec.param_kind is None or ref is None:
            return [None]
        api_version, kind = self.spec.param_kind
        namespaced = _param_namespaced(api_version, kind, context)
        namespace: str | None = None
        if namespaced:
            namespace = ref.namespace or review.namespace
            if not namespace:
                raise _ConfigError(
                    "cannot use namespaced paramRef in policy binding that matches "
                    "cluster-scoped resources"
                )
        elif ref.namespace:
            raise _ConfigError(
                "paramRef.namespace must not be provided for a cluster-scoped `paramKind`"
            )
        candidates = context.objects(api_version, kind, namespace)
        if ref.name:
            found = [o for o in candidates if _meta(o).get("name") == ref.name][:1]
        else:
            selector = ref.selector
            found = [
                o
                for o in candidates
                if selector is not None and selector.matches(_meta(o).get("labels") or {})
            ]
        if not found and ref.not_found == "Deny":
            raise _ConfigError(
                "no params found for policy binding with `Deny` parameterNotFoundAction"
            )
        return list(found)

    # -- decisions -----------------------------------------------------------------------

    def _violation(
        self, message: str, reason: str, actions: frozenset[Action] | None = None
    ) -> Violation:
        return Violation(
            policy=self.name,
            message=message,
            actions=self.bound.actions if actions is None else actions,
            binding=self.binding,
            reason=reason,
        )

    def _error(self, message: str, ignored: list[str]) -> list[Violation]:
        """An expression that failed: a denial under Fail (with the binding's actions),
        nothing under Ignore."""
        if self.failure_policy == FailurePolicy.IGNORE:
            ignored.append(message)
            return []
        return [self._violation(message, "Invalid")]

    def _misconfigured(self, message: str) -> list[Violation]:
        """A binding that cannot run here: a denial under Fail whatever its actions (the
        API server's configuration errors), an evaluation error under Ignore."""
        if self.failure_policy == FailurePolicy.IGNORE:
            raise PolicyEvaluationError(self.name, message)
        return [self._violation(message, "Invalid", _DENY_ONLY)]


def _shared_activation(review: Review, namespace: Object | None) -> tuple[dict[str, Any], Prepared]:
    """The activation of a policy with no params, variables or authorizer -- the same for
    every such policy of a review, so it is built and converted for CEL once per review
    (kept on the review; the conversion is most of a simple policy's cost)."""
    kept: list[tuple[Object | None, dict[str, Any], Prepared]] | None
    kept = review.__dict__.get("_cel_activations")
    if kept is None:
        kept = []
        object.__setattr__(review, "_cel_activations", kept)  # a memo, not a field
    for shown, values, prepared in kept:
        if shown == namespace:
            return values, prepared
    values = vap_cel.activation(review, params=None, namespace=namespace, with_params=False)
    prepared = prepare(values)
    kept.append((namespace, values, prepared))
    return values, prepared


def _namespace_name(review: Review) -> str:
    if review.kind.group == "" and review.kind.version == "v1" and review.kind.kind == "Namespace":
        return ""
    return review.namespace if review.namespaced else ""


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _param_namespaced(api_version: str, kind: str, context: Context) -> bool:
    """Whether params of this kind live in namespaces: the built-in table, a CRD the
    context holds, else what the context's objects of that kind show (default yes)."""
    gvk = GroupVersionKind.of({"apiVersion": api_version, "kind": kind})
    for crd in context.objects(*_CRD):
        spec = crd.get("spec") or {}
        if spec.get("group") == gvk.group and (spec.get("names") or {}).get("kind") == kind:
            return spec.get("scope") != "Cluster"
    for known in BUILTIN:
        if known.group == gvk.group and known.kind == kind:
            return known.namespaced
    objects = context.objects(api_version, kind)
    return not objects or any(_meta(o).get("namespace") for o in objects)


def _message(
    validation: Validation,
    values: Mapping[str, Any],
    tainted: Collection[str],
    failed: Mapping[str, str],
) -> str:
    """A failed validation's message: messageExpression, else message, else the expression."""
    if validation.message_program is not None:
        prepared = vap_cel.without_authorizer(values, tainted)
        try:
            value = vap_cel.evaluate(validation.message_program, prepared, failed)
        except EvaluationFailure:
            value = None
        if isinstance(value, str):
            text = value.strip()
            if text and len(text.encode()) <= 5 * 1024 and "\n" not in text:
                return text
    if validation.message.strip():
        return validation.message.strip()
    return f"failed expression: {validation.program.expression.strip()}"


def _aggregate(messages: Sequence[str]) -> str:
    """Several errors as apimachinery's utilerrors.NewAggregate prints them."""
    unique = list(dict.fromkeys(messages))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


def _go_type(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "double"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "map"
    return type(value).__name__


def _with_annotations(violation: Violation, annotations: Mapping[str, str]) -> Violation:
    return replace(violation, audit_annotations=dict(annotations))


def admission_message(violation: Violation) -> str:
    """The API server's words for a denial by this violation:
    ``ValidatingAdmissionPolicy 'NAME' with binding 'BINDING' denied request: MESSAGE``."""
    if violation.binding:
        return (
            f"ValidatingAdmissionPolicy '{violation.policy}' with binding "
            f"'{violation.binding}' denied request: {violation.message}"
        )
    return f"ValidatingAdmissionPolicy '{violation.policy}' denied request: {violation.message}"


def warning_message(violation: Violation) -> str:
    """The API server's Warning header text for a violation under a Warn action."""
    return (
        f"Validation failed for ValidatingAdmissionPolicy '{violation.policy}' with binding "
        f"'{violation.binding}': {violation.message}"
    )


def status_code(violation: Violation) -> int:
    """The HTTP code of the API server's denial: 403 Forbidden, 413 RequestEntityTooLarge,
    422 otherwise (Invalid)."""
    return _CODES.get(violation.reason, 422)


def status_message(violation: Violation, review: Review) -> str:
    """The whole Status message of the API server's denial, as a client sees it:
    ``configmaps "x" is forbidden: ValidatingAdmissionPolicy ...``."""
    resource = review.resource.resource
    if review.resource.group:
        resource = f"{resource}.{review.resource.group}"
    subject = f'{resource} "{review.name}"' if review.name else resource
    return f"{subject} is forbidden: {admission_message(violation)}"
