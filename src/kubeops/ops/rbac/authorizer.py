"""The RBAC authorizer's rules, evaluated locally: pure functions over Roles, ClusterRoles
and their bindings as the API server returns them.

* :func:`rule_allows` matches one PolicyRule against a :class:`~.attributes.Target`;
* :func:`aggregated_rules` gives each ClusterRole its effective rules, including those
  of the ClusterRoles its ``aggregationRule`` selects, whether or not the aggregation
  controller has copied them yet;
* :func:`find_grants` names every (subject, binding, role) allowing a target.

Only RBAC is modelled: the Node authorizer, webhooks and the ``system:masters``
bypass are not RBAC.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kubeops.models.selector import Selector, SelectorError
from kubeops.ops.rbac.attributes import Subject, Target

__all__ = [
    "Grant",
    "SourcedRule",
    "aggregated_rules",
    "binding_subjects",
    "find_grants",
    "rule_allows",
]


def rule_allows(rule: Mapping[str, Any], target: Target) -> bool:
    """Whether one PolicyRule allows ``target``, by the RBAC authorizer's matching rules."""
    verbs = rule.get("verbs") or ()
    if "*" not in verbs and target.verb not in verbs:
        return False
    if not target.is_resource:
        for url in rule.get("nonResourceURLs") or ():
            if url in ("*", target.path):
                return True
            if url.endswith("*") and target.path.startswith(url.rstrip("*")):
                return True
        return False
    groups = rule.get("apiGroups") or ()
    if "*" not in groups and target.group not in groups:
        return False
    combined = f"{target.resource}/{target.subresource}" if target.subresource else target.resource
    if not any(
        r in ("*", combined) or (target.subresource and r == f"*/{target.subresource}")
        for r in rule.get("resources") or ()
    ):
        return False
    names = rule.get("resourceNames") or ()
    return not names or target.name in names


@dataclass(frozen=True)
class SourcedRule:
    """A rule of a role and, when it reached the role by aggregation, the ClusterRole it came from."""

    rule: Mapping[str, Any]
    aggregated_from: str = ""


def aggregated_rules(cluster_roles: Iterable[Mapping[str, Any]]) -> dict[str, list[SourcedRule]]:
    """Each ClusterRole's effective rules by name.

    An aggregated ClusterRole holds the rules of every ClusterRole its
    ``clusterRoleSelectors`` pick (transitively), as the aggregation controller
    will copy them, plus what it holds already.
    """
    by_name = {str(r.get("metadata", {}).get("name", "")): r for r in cluster_roles}
    done: dict[str, list[SourcedRule]] = {}

    def effective(name: str, visiting: frozenset[str]) -> list[SourcedRule]:
        if name in done:
            return done[name]
        role = by_name[name]
        result: list[SourcedRule] = []
        seen: list[Mapping[str, Any]] = []
        aggregation = role.get("aggregationRule") or {}
        for selector_spec in aggregation.get("clusterRoleSelectors") or ():
            try:
                selector = Selector.from_label_selector(selector_spec)
            except SelectorError:
                continue  # the server validates these; an invalid one selects nothing
            for other in sorted(by_name):
                if other == name or other in visiting:
                    continue
                labels = by_name[other].get("metadata", {}).get("labels") or {}
                if not selector.matches(labels):
                    continue
                for sourced in effective(other, visiting | {name}):
                    if sourced.rule not in seen:
                        seen.append(sourced.rule)
                        result.append(SourcedRule(sourced.rule, sourced.aggregated_from or other))
        for rule in role.get("rules") or ():
            if rule not in seen:
                seen.append(rule)
                result.append(SourcedRule(rule))
        if not visiting:
            done[name] = result
        return result

    return {name: effective(name, frozenset()) for name in by_name}


@dataclass(frozen=True, order=True)
class Grant:
    """One binding that allows a subject the target: binding → role (→ the aggregated role)."""

    subject: Subject
    binding_kind: str
    binding_name: str
    binding_namespace: str
    role_kind: str
    role_name: str
    aggregated_from: str = ""

    @property
    def binding(self) -> str:
        """``KIND/[NAMESPACE/]NAME`` of the binding."""
        where = f"{self.binding_namespace}/" if self.binding_namespace else ""
        return f"{self.binding_kind}/{where}{self.binding_name}"

    @property
    def role(self) -> str:
        """``KIND/NAME`` of the role bound, and the ClusterRole its rule was aggregated from."""
        via = (
            f" (aggregated from ClusterRole/{self.aggregated_from})" if self.aggregated_from else ""
        )
        return f"{self.role_kind}/{self.role_name}{via}"

    def to_dict(self) -> dict[str, Any]:
        """The grant for JSON output: subject, binding and role."""
        binding = {"kind": self.binding_kind, "name": self.binding_name}
        if self.binding_namespace:
            binding["namespace"] = self.binding_namespace
        role = {"kind": self.role_kind, "name": self.role_name}
        if self.aggregated_from:
            role["aggregatedFrom"] = self.aggregated_from
        return {"subject": self.subject.to_dict(), "binding": binding, "role": role}


def binding_subjects(binding: Mapping[str, Any]) -> list[Subject]:
    """A binding's subjects; a ServiceAccount without a namespace is in the binding's own."""
    namespace = str(binding.get("metadata", {}).get("namespace") or "")
    subjects = []
    for s in binding.get("subjects") or ():
        kind, name = str(s.get("kind", "")), str(s.get("name", ""))
        if kind == "ServiceAccount":
            sa_namespace = str(s.get("namespace") or namespace)
            if sa_namespace:
                subjects.append(Subject(kind, name, sa_namespace))
        elif kind in ("User", "Group"):
            subjects.append(Subject(kind, name))
    return subjects


def find_grants(
    target: Target,
    *,
    cluster_roles: Iterable[Mapping[str, Any]],
    cluster_role_bindings: Iterable[Mapping[str, Any]],
    roles: Iterable[Mapping[str, Any]] = (),
    role_bindings: Iterable[Mapping[str, Any]] = (),
) -> list[Grant]:
    """Every (subject, binding, role) that allows ``target``, as the RBAC authorizer decides:
    ClusterRoleBindings always count, RoleBindings (and Roles) only in ``target.namespace``."""
    cluster_rules = aggregated_rules(cluster_roles)
    role_rules: dict[tuple[str, str], list[SourcedRule]] = {
        (str(r["metadata"].get("namespace", "")), str(r["metadata"]["name"])): [
            SourcedRule(rule) for rule in r.get("rules") or ()
        ]
        for r in roles
    }
    grants: set[Grant] = set()
    candidates: list[tuple[Mapping[str, Any], str]] = [
        (b, "ClusterRoleBinding") for b in cluster_role_bindings
    ]
    if target.namespace and target.is_resource:
        candidates += [
            (b, "RoleBinding")
            for b in role_bindings
            if b.get("metadata", {}).get("namespace") == target.namespace
        ]
    for binding, binding_kind in candidates:
        metadata = binding.get("metadata", {})
        ref = binding.get("roleRef") or {}
        role_kind, role_name = str(ref.get("kind", "")), str(ref.get("name", ""))
        binding_namespace = (
            str(metadata.get("namespace") or "") if binding_kind == "RoleBinding" else ""
        )
        if role_kind == "ClusterRole":
            rules = cluster_rules.get(role_name, [])
        elif role_kind == "Role" and binding_namespace:
            rules = role_rules.get((binding_namespace, role_name), [])
        else:
            rules = []
        matched = next((s for s in rules if rule_allows(s.rule, target)), None)
        if matched is None:
            continue
        for subject in binding_subjects(binding):
            grants.add(
                Grant(
                    subject,
                    binding_kind,
                    str(metadata.get("name", "")),
                    binding_namespace,
                    role_kind,
                    role_name,
                    matched.aggregated_from,
                )
            )
    return sorted(grants)
