"""RBAC tools: ask whether a subject may do something, find who may, tabulate what a
subject may do, and hand out a least-privilege ServiceAccount with a kubeconfig.

* :func:`can_i` asks the API server: a SelfSubjectAccessReview for the caller, a
  SubjectAccessReview for anyone else.  A subject is described as the API server
  would see it when authenticated or impersonated (a ServiceAccount carries its
  ``system:serviceaccounts`` groups, everyone but ``system:anonymous`` carries
  ``system:authenticated``), so answers match ``kubectl auth can-i --as``.
* :func:`who_can` reads Roles, ClusterRoles and their bindings and evaluates
  them with the RBAC authorizer's rules; aggregated ClusterRoles include the
  rules of the ClusterRoles their selectors pick, whether or not the
  aggregation controller has copied them yet.  It names RBAC grants only: the
  Node authorizer, webhooks and the ``system:masters`` bypass are not RBAC.
* :func:`access_matrix` asks one access review per verb and resource, so each
  cell is the server's own answer.
* :func:`create_service_account` applies a ServiceAccount, a Role holding a
  short rule list and a RoleBinding, requests a token of a given lifetime
  (TokenRequest) and writes a kubeconfig that uses it.

The evaluation of rules and bindings (:func:`rule_allows`, :func:`find_grants`,
:func:`aggregated_rules`) and the parsing of short rules and durations are pure
functions.  Each async function has a ``*_sync`` twin for the
:class:`~kubeops.api.SyncClient`.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import yaml

from kubeops.api.mapper import UnknownKind
from kubeops.api.resource import ResourceType
from kubeops.errors import KubeopsError
from kubeops.models.selector import Selector, SelectorError
from kubeops.transport.errors import NotFound
from kubeops.transport.transport import Operation

if TYPE_CHECKING:
    from kubeops.api import Client, Object, SyncClient
    from kubeops.config import ClusterConfig

__all__ = [
    "KNOWN_VERBS",
    "STANDARD_VERBS",
    "AccessMatrix",
    "AccessReview",
    "Grant",
    "RbacError",
    "ShortRule",
    "SourcedRule",
    "Subject",
    "Target",
    "WhoCan",
    "access_matrix",
    "access_matrix_sync",
    "aggregated_rules",
    "binding_subjects",
    "can_i",
    "can_i_sync",
    "check_verbs",
    "create_service_account",
    "create_service_account_sync",
    "find_grants",
    "parse_duration",
    "parse_rule",
    "policy_rules",
    "resolve_target",
    "review",
    "rule_allows",
    "service_account_kubeconfig",
    "token_lifetime",
    "verb_warnings",
    "who_can",
    "who_can_sync",
    "write_kubeconfig",
]

RBAC_GROUP = "rbac.authorization.k8s.io"
FIELD_MANAGER = "kubeops"
MANAGED_BY = {"app.kubernetes.io/managed-by": "kubeops"}

# The verbs of the standard REST operations, in the order kubectl's help lists them.
STANDARD_VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")
# Verbs particular resources authorize beyond the standard ones.
SPECIAL_VERBS = ("use", "bind", "escalate", "impersonate", "approve", "sign", "attest", "proxy")
KNOWN_VERBS = frozenset((*STANDARD_VERBS, *SPECIAL_VERBS, "*"))
NON_RESOURCE_VERBS = frozenset(("get", "post", "put", "delete", "patch", "head", "options", "*"))

# A TokenRequest's lifetime: the API server refuses less than ten minutes and more than 2^32 s.
MIN_TOKEN_SECONDS = 600
MAX_TOKEN_SECONDS = 2**32

_REVIEWS = "authorization.k8s.io"
_SSAR = ResourceType(_REVIEWS, "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews", False)
_SAR = ResourceType(_REVIEWS, "v1", "SubjectAccessReview", "subjectaccessreviews", False)
_SERVICE_ACCOUNTS = ResourceType("", "v1", "ServiceAccount", "serviceaccounts", True)
_JSON = "application/json"

_SA_PREFIX = "system:serviceaccount:"
_ANONYMOUS = "system:anonymous"
_AUTHENTICATED = "system:authenticated"
_UNAUTHENTICATED = "system:unauthenticated"


class RbacError(KubeopsError):
    """An RBAC question or request that cannot be asked as given; the message says why."""


# -- subjects and targets ---------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Subject:
    """Who is asked about: a ``User``, a ``Group`` or a ``ServiceAccount`` (with its namespace)."""

    kind: str
    name: str
    namespace: str = ""

    @classmethod
    def user_named(cls, username: str) -> Subject:
        """The subject behind a user name; ``system:serviceaccount:NS:NAME`` is a ServiceAccount."""
        if username.startswith(_SA_PREFIX):
            namespace, sep, name = username.removeprefix(_SA_PREFIX).partition(":")
            if sep and namespace and name and ":" not in name:
                return cls("ServiceAccount", name, namespace)
        return cls("User", username)

    @classmethod
    def parse(cls, text: str) -> Subject:
        """``alice`` or ``user:alice``; ``group:devs``; ``serviceaccount:NS/NAME`` (``sa:`` too)
        or ``system:serviceaccount:NS:NAME``."""
        kind, sep, rest = text.partition(":")
        lowered = kind.lower()
        if sep and lowered in ("user", "group", "serviceaccount", "sa") and rest:
            if lowered == "user":
                return cls.user_named(rest)
            if lowered == "group":
                return cls("Group", rest)
            namespace, slash, name = rest.partition("/")
            if not slash or not namespace or not name:
                raise RbacError(
                    f"subject {text!r}: a ServiceAccount is written serviceaccount:NAMESPACE/NAME"
                )
            return cls("ServiceAccount", name, namespace)
        if not text:
            raise RbacError("the subject must not be empty")
        return cls.user_named(text)

    @property
    def user(self) -> str:
        """The user name requests of this subject carry (empty for a Group)."""
        if self.kind == "ServiceAccount":
            return f"{_SA_PREFIX}{self.namespace}:{self.name}"
        return "" if self.kind == "Group" else self.name

    def groups(self, extra: Sequence[str] = ()) -> tuple[str, ...]:
        """The groups an impersonated request of this subject carries.

        As the API server's impersonation: a ServiceAccount gets its fixed groups
        unless ``extra`` names groups, and every user except ``system:anonymous``
        gets ``system:authenticated``.  A Group is just itself (and ``extra``).
        """
        if self.kind == "Group":
            return tuple(dict.fromkeys((self.name, *extra)))
        groups = list(extra)
        if self.kind == "ServiceAccount" and not extra:
            groups = ["system:serviceaccounts", f"system:serviceaccounts:{self.namespace}"]
        if self.user == _ANONYMOUS:
            if _UNAUTHENTICATED not in groups:
                groups.append(_UNAUTHENTICATED)
        elif _AUTHENTICATED not in groups and _UNAUTHENTICATED not in groups:
            groups.append(_AUTHENTICATED)
        return tuple(groups)

    def to_dict(self) -> dict[str, str]:
        result = {"kind": self.kind, "name": self.name}
        if self.namespace:
            result["namespace"] = self.namespace
        return result

    def __str__(self) -> str:
        if self.kind == "ServiceAccount":
            return f"ServiceAccount {self.namespace}/{self.name}"
        return f"{self.kind} {self.name}"


@dataclass(frozen=True)
class Target:
    """What is asked about: a verb on a resource (or a non-resource URL ``path``).

    ``namespace`` is ``""`` for a cluster-scoped resource or a question about
    every namespace, as in an access review.
    """

    verb: str
    resource: str = ""
    group: str = ""
    subresource: str = ""
    name: str = ""
    namespace: str = ""
    path: str = ""

    @property
    def is_resource(self) -> bool:
        return not self.path

    def attributes(self) -> dict[str, Any]:
        """The ``spec`` fields of an access review for this target."""
        if not self.is_resource:
            return {"nonResourceAttributes": {"verb": self.verb, "path": self.path}}
        attributes = {
            "verb": self.verb,
            "group": self.group,
            "resource": self.resource,
            "subresource": self.subresource,
            "name": self.name,
            "namespace": self.namespace,
        }
        return {"resourceAttributes": {k: v for k, v in attributes.items() if v}}

    def __str__(self) -> str:
        if not self.is_resource:
            return f"{self.verb} {self.path}"
        text = f"{self.verb} {self.resource}" + (f".{self.group}" if self.group else "")
        if self.subresource:
            text += f"/{self.subresource}"
        if self.name:
            text += f' "{self.name}"'
        return text + (f' in namespace "{self.namespace}"' if self.namespace else "")

    def to_dict(self) -> dict[str, str]:
        fields = {
            "verb": self.verb,
            "group": self.group,
            "resource": self.resource,
            "subresource": self.subresource,
            "name": self.name,
            "namespace": self.namespace,
            "path": self.path,
        }
        if self.is_resource:
            fields.pop("path")
            return {k: v for k, v in fields.items() if v or k in ("group", "namespace")}
        return {"verb": self.verb, "path": self.path}


def verb_warnings(verb: str, non_resource: bool = False) -> list[str]:
    """kubectl's warning for a verb no Kubernetes authorizer knows (not an error: webhooks may)."""
    known = NON_RESOURCE_VERBS if non_resource else KNOWN_VERBS
    if verb in known:
        return []
    return [f"verb {verb!r} is not a known verb"]


async def resolve_target(
    client: Client,
    verb: str,
    resource: str,
    name: str | None = None,
    *,
    namespace: str | None = None,
    all_namespaces: bool = False,
    subresource: str | None = None,
) -> tuple[Target, list[str]]:
    """The :class:`Target` for what a user typed (``pods``, ``deploy/web``, ``/healthz``), and
    any warnings.  A cluster-scoped resource is asked about without a namespace, as its
    requests are authorized (``namespaces/NAME`` in that namespace)."""
    if not verb:
        raise RbacError("the verb must not be empty")
    if not resource:
        raise RbacError("the resource must not be empty")
    if resource.startswith("/"):
        if name or subresource:
            raise RbacError(f"a non-resource URL ({resource}) takes no name or subresource")
        return Target(verb, path=resource), verb_warnings(verb, non_resource=True)
    warnings = verb_warnings(verb)
    kind, slash, typed_name = resource.partition("/")
    if slash:
        if name and name != typed_name:
            raise RbacError(f"{resource!r} names an object already; do not give another name")
        name = typed_name
    if not kind:
        raise RbacError(f"{resource!r} names no resource type")
    scoped = True
    if kind == "*":
        group, plural = "", "*"
    else:
        try:
            found = await client.resource(kind)
        except UnknownKind:
            plural, _, group = kind.partition(".")
            warnings.append(f"the server doesn't have a resource type {kind!r}")
        else:
            group, plural, scoped = found.group, found.plural, found.namespaced
    ns = "" if all_namespaces else namespace or client.namespace
    if not scoped:
        # A Namespace's own requests are authorized in that namespace; other
        # cluster-scoped objects are outside every namespace.
        is_namespace = plural == "namespaces" and group == "" and not all_namespaces
        ns = (name or "") if is_namespace else ""
    target = Target(verb, plural, group, subresource or "", name or "", ns)
    return target, warnings


# -- can-i ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccessReview:
    """The API server's answer to an access review."""

    target: Target
    allowed: bool
    denied: bool = False
    reason: str = ""
    evaluation_error: str = ""
    subject: Subject | None = None
    groups: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "allowed": self.allowed,
            "denied": self.denied,
            "reason": self.reason,
            "evaluationError": self.evaluation_error,
            "target": self.target.to_dict(),
            "subject": self.subject.to_dict() if self.subject else None,
            "groups": list(self.groups),
        }
        if self.warnings:
            result["warnings"] = list(self.warnings)
        return result


async def review(
    client: Client, target: Target, subject: Subject | None = None, groups: Sequence[str] = ()
) -> AccessReview:
    """One access review: self when neither ``subject`` nor ``groups`` is given, else for
    ``subject`` (as :meth:`Subject.groups` describes it) or for ``groups`` alone."""
    if subject is None and not groups:
        body = {
            "apiVersion": f"{_REVIEWS}/v1",
            "kind": _SSAR.kind,
            "spec": target.attributes(),
        }
        answer = await _post(client, _SSAR, body)
        all_groups: tuple[str, ...] = ()
    else:
        all_groups = subject.groups(groups) if subject else tuple(dict.fromkeys(groups))
        spec = {**target.attributes(), "groups": list(all_groups)}
        if subject is not None and subject.user:
            spec["user"] = subject.user
        body = {"apiVersion": f"{_REVIEWS}/v1", "kind": _SAR.kind, "spec": spec}
        answer = await _post(client, _SAR, body)
    status = answer.get("status") or {}
    return AccessReview(
        target=target,
        allowed=bool(status.get("allowed")),
        denied=bool(status.get("denied")),
        reason=str(status.get("reason") or ""),
        evaluation_error=str(status.get("evaluationError") or ""),
        subject=subject,
        groups=all_groups,
    )


async def can_i(
    client: Client,
    verb: str,
    resource: str,
    name: str | None = None,
    *,
    namespace: str | None = None,
    all_namespaces: bool = False,
    subresource: str | None = None,
    subject: Subject | str | None = None,
    groups: Sequence[str] = (),
) -> AccessReview:
    """May the caller (or ``subject``, or a member of ``groups``) ``verb`` the ``resource``?

    ``resource`` is what kubectl takes: ``pods``, ``deploy/web``, ``deployments.apps``,
    ``*`` or a non-resource URL such as ``/healthz``; ``namespace`` defaults to the
    client's.  ``subject`` may be a string for :meth:`Subject.parse`.
    """
    target, warnings = await resolve_target(
        client,
        verb,
        resource,
        name,
        namespace=namespace,
        all_namespaces=all_namespaces,
        subresource=subresource,
    )
    who = Subject.parse(subject) if isinstance(subject, str) else subject
    answer = await review(client, target, who, groups)
    return _with_warnings(answer, warnings)


def _with_warnings(answer: AccessReview, warnings: Sequence[str]) -> AccessReview:
    return dataclasses.replace(answer, warnings=tuple(warnings)) if warnings else answer


# -- the RBAC authorizer's rules --------------------------------------------------------------


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
        where = f"{self.binding_namespace}/" if self.binding_namespace else ""
        return f"{self.binding_kind}/{where}{self.binding_name}"

    @property
    def role(self) -> str:
        via = (
            f" (aggregated from ClusterRole/{self.aggregated_from})" if self.aggregated_from else ""
        )
        return f"{self.role_kind}/{self.role_name}{via}"

    def to_dict(self) -> dict[str, Any]:
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


# -- who-can ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WhoCan:
    """The subjects RBAC allows a target, each with the bindings that allow it."""

    target: Target
    grants: tuple[Grant, ...]
    warnings: tuple[str, ...] = ()

    @property
    def subjects(self) -> tuple[Subject, ...]:
        return tuple(sorted({g.subject for g in self.grants}))

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "target": self.target.to_dict(),
            "subjects": [s.to_dict() for s in self.subjects],
            "grants": [g.to_dict() for g in self.grants],
        }
        if self.warnings:
            result["warnings"] = list(self.warnings)
        return result


async def who_can(
    client: Client,
    verb: str,
    resource: str,
    name: str | None = None,
    *,
    namespace: str | None = None,
    all_namespaces: bool = False,
    subresource: str | None = None,
) -> WhoCan:
    """Who may ``verb`` the ``resource`` in ``namespace`` (the client's by default), by RBAC.

    ``all_namespaces`` asks who may do it in every namespace at once, which only
    ClusterRoleBindings grant.  Reading the roles and bindings needs list access to them.
    """
    target, warnings = await resolve_target(
        client,
        verb,
        resource,
        name,
        namespace=namespace,
        all_namespaces=all_namespaces,
        subresource=subresource,
    )
    reads = [client.list("clusterroles"), client.list("clusterrolebindings")]
    if target.namespace and target.is_resource:
        reads += [
            client.list("roles", target.namespace),
            client.list("rolebindings", target.namespace),
        ]
    listed = await asyncio.gather(*reads)
    items = [page.get("items") or [] for page in listed]
    grants = find_grants(
        target,
        cluster_roles=items[0],
        cluster_role_bindings=items[1],
        roles=items[2] if len(items) > 2 else (),
        role_bindings=items[3] if len(items) > 3 else (),
    )
    return WhoCan(target, tuple(grants), tuple(warnings))


# -- access matrix ----------------------------------------------------------------------------


@dataclass(frozen=True)
class AccessMatrix:
    """Verbs by resources for one subject (``None``: the caller) in one namespace
    (``""``: every namespace, and cluster-scoped resources).

    ``cells[resource][verb]`` is the server's answer, or None where the resource
    does not serve that verb; resources are named as RBAC names them (``deployments.apps``).
    """

    subject: Subject | None
    groups: tuple[str, ...]
    namespace: str
    verbs: tuple[str, ...]
    resources: tuple[str, ...]
    cells: Mapping[str, Mapping[str, bool | None]]
    warnings: tuple[str, ...] = ()

    def allowed(self, resource: str, verb: str) -> bool | None:
        return self.cells[resource][verb]

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "subject": self.subject.to_dict() if self.subject else None,
            "groups": list(self.groups),
            "namespace": self.namespace,
            "verbs": list(self.verbs),
            "resources": [
                {"resource": r, "verbs": {v: self.cells[r][v] for v in self.verbs}}
                for r in self.resources
            ],
        }
        if self.warnings:
            result["warnings"] = list(self.warnings)
        return result


async def access_matrix(
    client: Client,
    subject: Subject | str | None = None,
    *,
    groups: Sequence[str] = (),
    namespace: str | None = None,
    all_namespaces: bool = False,
    resources: Sequence[str] | None = None,
    verbs: Sequence[str] = STANDARD_VERBS,
    concurrency: int = 16,
) -> AccessMatrix:
    """What ``subject`` (the caller by default) may do: one access review per cell.

    ``resources`` defaults to every resource type the server serves that is
    namespaced (or, with ``all_namespaces``, every one); each may be any name
    kubectl takes, or ``RESOURCE/SUBRESOURCE``.  A verb a resource does not
    serve (by discovery) is not asked about.
    """
    verbs = tuple(dict.fromkeys(verbs))
    if not verbs:
        raise RbacError("the access matrix needs at least one verb")
    warnings = [w for v in verbs for w in verb_warnings(v)]
    who = Subject.parse(subject) if isinstance(subject, str) else subject
    discovered = await client.refresh_discovery()
    ns = "" if all_namespaces else namespace or client.namespace
    rows: list[tuple[str, Target, frozenset[str] | None]] = []
    if resources is None:
        seen: set[tuple[str, str]] = set()
        for r in sorted(discovered, key=lambda r: (r.group, r.plural)):
            if (r.group, r.plural) in seen or (ns and not r.namespaced):
                continue
            seen.add((r.group, r.plural))
            if set(r.verbs) & set(verbs):
                rows.append(_matrix_row(r, "", ns, r.verbs))
    else:
        for text in dict.fromkeys(resources):
            kind, _, sub = text.partition("/")
            r = await client.resource(kind)
            rows.append(_matrix_row(r, sub, ns, () if sub else r.verbs))
    limit = asyncio.Semaphore(max(1, concurrency))

    async def cell(target: Target) -> bool:
        async with limit:
            return (await review(client, target, who, groups)).allowed

    asked = [
        (label, verb, cell(dataclasses.replace(target, verb=verb)))
        for label, target, served in rows
        for verb in verbs
        if served is None or verb in served
    ]
    answers = await asyncio.gather(*(c for _, _, c in asked))
    cells: dict[str, dict[str, bool | None]] = {label: dict.fromkeys(verbs) for label, _, _ in rows}
    for (label, verb, _), allowed in zip(asked, answers, strict=True):
        cells[label][verb] = allowed
    return AccessMatrix(
        subject=who,
        groups=who.groups(groups) if who else tuple(groups),
        namespace=ns,
        verbs=tuple(verbs),
        resources=tuple(label for label, _, _ in rows),
        cells=cells,
        warnings=tuple(warnings),
    )


def _matrix_row(
    resource: ResourceType, subresource: str, namespace: str, served: Sequence[str]
) -> tuple[str, Target, frozenset[str] | None]:
    label = resource.qualified_name + (f"/{subresource}" if subresource else "")
    target = Target(
        "",
        resource.plural,
        resource.group,
        subresource,
        namespace=namespace if resource.namespaced else "",
    )
    return label, target, frozenset(served) if served else None


# -- least-privilege ServiceAccounts ----------------------------------------------------------


@dataclass(frozen=True)
class ShortRule:
    """A rule as written short: ``VERBS:RESOURCES[:NAMES]``, each a comma-separated list."""

    verbs: tuple[str, ...]
    resources: tuple[str, ...]
    resource_names: tuple[str, ...] = field(default=())


def parse_rule(text: str) -> ShortRule:
    """Parse ``get,list,watch:pods,configmaps`` or ``get:secrets:app-tls,db``.

    Resources are any name kubectl takes (``deploy``, ``deployments.apps``,
    ``pods/log``, ``*``); verbs must be ones Kubernetes authorizes.
    """
    parts = [p.strip() for p in text.split(":")]
    if len(parts) not in (2, 3):
        raise RbacError(
            f"rule {text!r}: write VERBS:RESOURCES[:NAMES], e.g. get,list,watch:pods,configmaps"
        )
    verbs, resources = _items(parts[0]), _items(parts[1])
    names = _items(parts[2]) if len(parts) == 3 else ()
    if not verbs:
        raise RbacError(f"rule {text!r} names no verb")
    if not resources:
        raise RbacError(f"rule {text!r} names no resource")
    if len(parts) == 3 and not names:
        raise RbacError(f"rule {text!r}: the list of names after the second ':' is empty")
    check_verbs(verbs, f"rule {text!r}")
    return ShortRule(verbs, resources, names)


def check_verbs(verbs: Iterable[str], where: str) -> None:
    """Refuse verbs no Kubernetes authorizer knows (a typo would make a useless rule)."""
    unknown = [v for v in verbs if v not in KNOWN_VERBS]
    if unknown:
        known = ", ".join((*STANDARD_VERBS, *SPECIAL_VERBS, "*"))
        raise RbacError(
            f"{where}: unknown verb{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(v) for v in unknown)} (known verbs: {known})"
        )


def _items(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(item.strip() for item in text.split(",") if item.strip()))


async def policy_rules(
    client: Client, rules: Iterable[str | ShortRule | Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """PolicyRules for a namespaced Role from short rules (resource names resolved by the
    client's mapper, one rule per API group) or PolicyRule mappings (checked, kept as given)."""
    result: list[dict[str, Any]] = []
    for item in rules:
        if isinstance(item, Mapping):
            result.append(_checked_policy_rule(item))
            continue
        short = parse_rule(item) if isinstance(item, str) else item
        check_verbs(short.verbs, "rule")
        by_group: dict[str, list[str]] = {}
        for token in short.resources:
            kind, slash, sub = token.partition("/")
            if kind == "*":
                group, plural = "*", "*"
            else:
                resource = await client.resource(kind)
                if not resource.namespaced and resource.plural != "namespaces":
                    raise RbacError(
                        f"rule for {token!r}: {resource.qualified_name} are cluster-scoped; "
                        "a namespaced Role cannot grant them"
                    )
                group, plural = resource.group, resource.plural
            by_group.setdefault(group, []).append(f"{plural}/{sub}" if slash else plural)
        for group, plurals in by_group.items():
            rule: dict[str, Any] = {
                "apiGroups": [group],
                "resources": list(dict.fromkeys(plurals)),
                "verbs": list(short.verbs),
            }
            if short.resource_names:
                rule["resourceNames"] = list(short.resource_names)
            result.append(rule)
    if not result:
        raise RbacError("a least-privilege ServiceAccount needs at least one rule")
    return result


def _checked_policy_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    verbs = rule.get("verbs")
    if not verbs or isinstance(verbs, str):
        raise RbacError(f"rule {dict(rule)!r}: verbs must be a non-empty list")
    check_verbs(verbs, f"rule {dict(rule)!r}")
    if rule.get("nonResourceURLs"):
        raise RbacError(
            f"rule {dict(rule)!r}: non-resource URLs can only be granted by a ClusterRole"
        )
    if not rule.get("resources") or "apiGroups" not in rule:
        raise RbacError(f"rule {dict(rule)!r}: a Role's rule needs apiGroups and resources")
    return dict(rule)


def parse_duration(text: str) -> int:
    """Seconds in a duration as kubectl writes it: ``1h``, ``90m``, ``1h30m``, ``3600s``, ``3600``."""
    value = text.strip()
    if value.isdigit():
        return int(value)
    parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", value)
    if not value or parts is None:
        raise RbacError(f"duration {text!r}: write it like 1h, 90m, 1h30m or 3600s")
    hours, minutes, seconds = (int(p or 0) for p in parts.groups())
    return hours * 3600 + minutes * 60 + seconds


def token_lifetime(expiration: int | datetime.timedelta | str) -> int:
    """A TokenRequest lifetime in seconds, checked against the API server's limits."""
    if isinstance(expiration, datetime.timedelta):
        seconds = int(expiration.total_seconds())
    elif isinstance(expiration, str):
        seconds = parse_duration(expiration)
    else:
        seconds = int(expiration)
    if not MIN_TOKEN_SECONDS <= seconds <= MAX_TOKEN_SECONDS:
        raise RbacError(
            f"token lifetime {seconds}s is out of range: the API server issues tokens for "
            f"at least {MIN_TOKEN_SECONDS}s (10m) and at most {MAX_TOKEN_SECONDS}s"
        )
    return seconds


def service_account_kubeconfig(
    config: ClusterConfig, name: str, namespace: str, token: str
) -> dict[str, Any]:
    """A kubeconfig reaching ``config``'s server as the ServiceAccount, with ``token`` inline.

    Only where the cluster is and how to trust it are taken from ``config``; its
    credentials and any impersonation are not.
    """
    cluster: dict[str, Any] = {"server": config.server}
    if config.ca_data:
        cluster["certificate-authority-data"] = base64.b64encode(config.ca_data).decode()
    if config.insecure_skip_tls_verify:
        cluster["insecure-skip-tls-verify"] = True
    if config.tls_server_name:
        cluster["tls-server-name"] = config.tls_server_name
    if config.proxy_url:
        cluster["proxy-url"] = config.proxy_url
    cluster_name = config.context or "cluster"
    user = f"{_SA_PREFIX}{namespace}:{name}"
    context = f"{namespace}/{name}@{cluster_name}"
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": cluster}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [
            {
                "name": context,
                "context": {"cluster": cluster_name, "user": user, "namespace": namespace},
            }
        ],
        "current-context": context,
    }


def write_kubeconfig(path: str | os.PathLike[str], config: Mapping[str, Any]) -> Path:
    """Write a kubeconfig readable by its owner only (it holds a credential), atomically."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(yaml.safe_dump(dict(config), sort_keys=False))
        temporary.replace(target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return target


async def create_service_account(
    client: Client,
    name: str,
    rules: Iterable[str | ShortRule | Mapping[str, Any]],
    path: str | os.PathLike[str],
    *,
    namespace: str | None = None,
    expiration: int | datetime.timedelta | str = 3600,
    dry_run: bool = False,
) -> Path:
    """Create (or update) ServiceAccount ``name`` allowed exactly ``rules`` in ``namespace``
    and write a kubeconfig for it to ``path``, holding a token valid for ``expiration``.

    The ServiceAccount, a Role and a RoleBinding (all named ``name``) are applied
    server-side, so running it again updates the rules and issues a fresh token.
    Input is checked before anything is written; if a later step fails, the
    :class:`RbacError` says which objects were applied already (the API error is its
    ``__cause__``).  With ``dry_run`` the server checks the objects (including whether
    the caller may grant the rules; the RoleBinding only if the Role exists already)
    and nothing is stored, no token is requested and no kubeconfig written; the path
    is returned all the same.
    """
    ns = namespace or client.namespace
    seconds = token_lifetime(expiration)
    policy = await policy_rules(client, rules)
    labels = dict(MANAGED_BY)
    steps: list[tuple[str, Object]] = [
        (
            f"serviceaccount/{name}",
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": name, "namespace": ns, "labels": labels},
            },
        ),
        (
            f"role.rbac.authorization.k8s.io/{name}",
            {
                "apiVersion": f"{RBAC_GROUP}/v1",
                "kind": "Role",
                "metadata": {"name": name, "namespace": ns, "labels": labels},
                "rules": policy,
            },
        ),
        (
            f"rolebinding.rbac.authorization.k8s.io/{name}",
            {
                "apiVersion": f"{RBAC_GROUP}/v1",
                "kind": "RoleBinding",
                "metadata": {"name": name, "namespace": ns, "labels": labels},
                "roleRef": {"apiGroup": RBAC_GROUP, "kind": "Role", "name": name},
                "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": ns}],
            },
        ),
    ]
    done: list[str] = []
    operation = f'create service account "{name}" in namespace "{ns}"'
    try:
        for label, obj in steps:
            try:
                await client.apply(obj, ns, field_manager=FIELD_MANAGER, dry_run=dry_run)
            except NotFound:
                # A Role applied in a dry run is not stored, so unless it exists from an
                # earlier run the server cannot check a binding to it (it answers 404).
                if dry_run and obj["kind"] == "RoleBinding":
                    continue
                raise
            done.append(label)
        if dry_run:
            return Path(path)
        token_request = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": seconds},
        }
        issued = await _post(client, _SERVICE_ACCOUNTS, token_request, ns, name, "token")
    except KubeopsError as err:
        applied = f"{', '.join(done)} applied, then " if done else ""
        raise RbacError(f"{operation}: {applied}{err}") from err
    token = str((issued.get("status") or {}).get("token") or "")
    if not token:
        raise RbacError(f"{operation}: the TokenRequest returned no token")
    try:
        return write_kubeconfig(path, service_account_kubeconfig(client.config, name, ns, token))
    except OSError as err:
        raise RbacError(
            f"{operation}: {', '.join(done)} applied, but the kubeconfig cannot be written "
            f"to {path}: {err.strerror or err}"
        ) from None


# -- sync twins -------------------------------------------------------------------------------


def can_i_sync(
    client: SyncClient,
    verb: str,
    resource: str,
    name: str | None = None,
    **options: Any,
) -> AccessReview:
    """:func:`can_i` for the blocking :class:`~kubeops.api.SyncClient`."""
    return client.run(can_i(client.client, verb, resource, name, **options))


def who_can_sync(
    client: SyncClient, verb: str, resource: str, name: str | None = None, **options: Any
) -> WhoCan:
    """:func:`who_can` for the blocking :class:`~kubeops.api.SyncClient`."""
    return client.run(who_can(client.client, verb, resource, name, **options))


def access_matrix_sync(
    client: SyncClient, subject: Subject | str | None = None, **options: Any
) -> AccessMatrix:
    """:func:`access_matrix` for the blocking :class:`~kubeops.api.SyncClient`."""
    return client.run(access_matrix(client.client, subject, **options))


def create_service_account_sync(
    client: SyncClient,
    name: str,
    rules: Iterable[str | ShortRule | Mapping[str, Any]],
    path: str | os.PathLike[str],
    **options: Any,
) -> Path:
    """:func:`create_service_account` for the blocking :class:`~kubeops.api.SyncClient`."""
    return client.run(create_service_account(client.client, name, rules, path, **options))


# -- plumbing ---------------------------------------------------------------------------------


async def _post(
    client: Client,
    resource: ResourceType,
    body: Mapping[str, Any],
    namespace: str | None = None,
    name: str | None = None,
    subresource: str | None = None,
) -> Object:
    """POST to a resource known up front (reviews, a token subresource): no discovery needed."""
    ns = namespace if resource.namespaced else None
    response = await client.transport.request(
        "POST",
        resource.path(ns, name, subresource) if subresource else resource.path(ns),
        Operation(
            "create", resource.qualified_name + (f"/{subresource}" if subresource else ""), ns, name
        ),
        body=orjson.dumps(body),
        content_type=_JSON,
    )
    answer: Object = orjson.loads(response.content) if response.content else {}
    return answer
