"""Which requests a ValidatingAdmissionPolicy or its binding applies to, as the API
server decides it (k8s.io/apiserver's admission ``matching`` and webhook ``rules``).

A request matches ``matchConstraints`` (and then a binding's ``matchResources``)
when its namespace's labels fit ``namespaceSelector``, the new or the old object's
labels fit ``objectSelector``, no ``excludeResourceRules`` rule matches and one
``resourceRules`` rule does (an empty list in a binding matches everything).
A rule matches on operation, apiGroup, apiVersion, resource (``*``, ``pods/status``,
``*/*``), scope and ``resourceNames``.  ``matchPolicy: Equivalent`` (the default)
also matches a rule naming another version of the same group and resource: the
API server would convert the object to that version, kubeops evaluates it as sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubeops.models.selector import Selector
from kubeops.policy.model import Object, Review

__all__ = ["MatchResources", "ResourceRule", "namespace_labels"]

ALL = "*"
NAMESPACE_LABEL = "kubernetes.io/metadata.name"


@dataclass(frozen=True)
class ResourceRule:
    """One ``NamedRuleWithOperations``."""

    operations: tuple[str, ...]
    api_groups: tuple[str, ...]
    api_versions: tuple[str, ...]
    resources: tuple[str, ...]
    scope: str = ALL
    resource_names: tuple[str, ...] = ()

    @classmethod
    def of(cls, rule: Mapping[str, Any]) -> ResourceRule:
        """The rule an API object's mapping describes (shapes checked by the loader)."""

        def strings(key: str) -> tuple[str, ...]:
            return tuple(str(v) for v in rule.get(key) or ())

        return cls(
            operations=strings("operations"),
            api_groups=strings("apiGroups"),
            api_versions=strings("apiVersions"),
            resources=strings("resources"),
            scope=str(rule.get("scope") or ALL),
            resource_names=strings("resourceNames"),
        )

    def matches(self, review: Review, *, any_version: bool = False) -> bool:
        """Whether the request falls under this rule (``any_version``: Equivalent matching)."""
        return (
            self._scope(review)
            and _exact_or_all(self.operations, str(review.operation))
            and _exact_or_all(self.api_groups, review.resource.group)
            and (any_version or _exact_or_all(self.api_versions, review.resource.version))
            and self._resource(review)
            and (not self.resource_names or review.name in self.resource_names)
        )

    def _scope(self, review: Review) -> bool:
        if self.scope == ALL:
            return True
        is_namespace = review.resource.group == "" and review.resource.resource == "namespaces"
        if self.scope == "Namespaced":
            return not is_namespace and review.namespaced and bool(review.namespace)
        if self.scope == "Cluster":
            return is_namespace or not review.namespaced or not review.namespace
        return False

    def _resource(self, review: Review) -> bool:
        for entry in self.resources:
            resource, _, sub = entry.partition("/")
            if (resource in (ALL, review.resource.resource)) and (
                sub in (ALL, review.sub_resource)
            ):
                return True
        return False

    def as_api(self) -> dict[str, Any]:
        """The rule as admissionregistration.k8s.io/v1 writes it."""
        rule: dict[str, Any] = {
            "apiGroups": list(self.api_groups),
            "apiVersions": list(self.api_versions),
            "resources": list(self.resources),
            "operations": list(self.operations),
            "scope": self.scope,
        }
        if self.resource_names:
            rule["resourceNames"] = list(self.resource_names)
        return rule


def _exact_or_all(items: Sequence[str], requested: str) -> bool:
    return ALL in items or requested in items


@dataclass(frozen=True)
class MatchResources:
    """``matchConstraints`` of a policy or ``matchResources`` of a binding."""

    resource_rules: tuple[ResourceRule, ...] = ()
    exclude_rules: tuple[ResourceRule, ...] = ()
    namespace_selector: Selector = field(default_factory=Selector.everything)
    object_selector: Selector = field(default_factory=Selector.everything)
    match_policy: str = "Equivalent"

    @classmethod
    def of(cls, spec: Mapping[str, Any] | None) -> MatchResources:
        """The constraints an API object's mapping describes (None: match everything)."""
        spec = spec or {}
        return cls(
            resource_rules=tuple(ResourceRule.of(r) for r in spec.get("resourceRules") or ()),
            exclude_rules=tuple(ResourceRule.of(r) for r in spec.get("excludeResourceRules") or ()),
            namespace_selector=_selector(spec.get("namespaceSelector")),
            object_selector=_selector(spec.get("objectSelector")),
            match_policy=str(spec.get("matchPolicy") or "Equivalent"),
        )

    def matches(self, review: Review, namespace: Object | None) -> bool:
        """Whether ``review`` is in scope; ``namespace`` is the request's Namespace object."""
        if not self._namespace_matches(review, namespace):
            return False
        if not self._object_matches(review):
            return False
        if self._rules_match(self.exclude_rules, review):
            return False
        return not self.resource_rules or self._rules_match(self.resource_rules, review)

    def _rules_match(self, rules: Sequence[ResourceRule], review: Review) -> bool:
        if any(rule.matches(review) for rule in rules):
            return True
        if self.match_policy != "Equivalent":
            return False
        return any(rule.matches(review, any_version=True) for rule in rules)

    def _namespace_matches(self, review: Review, namespace: Object | None) -> bool:
        if self.namespace_selector.selects_everything:
            return True
        is_namespace = review.resource.group == "" and review.resource.resource == "namespaces"
        if not is_namespace and (not review.namespaced or not review.namespace):
            return True  # a cluster-scoped object is never exempted by its namespace
        if is_namespace:
            labels = _labels(review.object if review.object is not None else review.old_object)
        else:
            labels = namespace_labels(review.namespace, namespace)
        return self.namespace_selector.matches(labels)

    def _object_matches(self, review: Review) -> bool:
        if self.object_selector.selects_everything:
            return True
        return any(
            obj is not None and self.object_selector.matches(_labels(obj))
            for obj in (review.object, review.old_object)
        )


def _selector(value: Any) -> Selector:
    return Selector.everything() if value is None else Selector.from_label_selector(value)


def _labels(obj: Mapping[str, Any] | None) -> dict[str, str]:
    """An object's labels; a Namespace also has the one the API server always sets."""
    meta = (obj or {}).get("metadata") or {}
    labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
    if (obj or {}).get("kind") == "Namespace" and (obj or {}).get("apiVersion") == "v1":
        labels.setdefault(NAMESPACE_LABEL, str(meta.get("name") or ""))
    return labels


def namespace_labels(name: str, namespace: Object | None) -> dict[str, str]:
    """A namespace's labels; one the context does not know has only the label every
    namespace gets from the API server (``kubernetes.io/metadata.name``)."""
    if namespace is None:
        return {NAMESPACE_LABEL: name}
    return _labels(namespace)
