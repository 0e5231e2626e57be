"""Questions put to the API server: may a subject do something, who may, and a table of
what a subject may do.

* :func:`can_i` asks an access review: a SelfSubjectAccessReview for the caller, a
  SubjectAccessReview for anyone else;
* :func:`who_can` reads Roles, ClusterRoles and their bindings and evaluates them
  with the RBAC authorizer's rules (:mod:`.authorizer`); it names RBAC grants only;
* :func:`access_matrix` asks one access review per verb and resource, so each cell
  is the server's own answer.

Each takes an async :class:`~kubeops.api.Client` (await it) or a
:class:`~kubeops.api.SyncClient` (it blocks and returns the result).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kubeops.api import ResourceType, UnknownKind, either_client
from kubeops.ops.rbac.attributes import (
    STANDARD_VERBS,
    RbacError,
    Subject,
    Target,
    verb_warnings,
)
from kubeops.ops.rbac.authorizer import Grant, find_grants

if TYPE_CHECKING:
    from kubeops.api import Client

__all__ = [
    "AccessMatrix",
    "AccessReview",
    "WhoCan",
    "access_matrix",
    "can_i",
    "resolve_target",
    "review",
    "who_can",
]

_REVIEWS = "authorization.k8s.io"
_SSAR = ResourceType(_REVIEWS, "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews", False)
_SAR = ResourceType(_REVIEWS, "v1", "SubjectAccessReview", "subjectaccessreviews", False)


@either_client
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
        """The answer for JSON output, with the target, the subject and its groups."""
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


@either_client
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
        answer = await client.create(body, kind=_SSAR)
        all_groups: tuple[str, ...] = ()
    else:
        all_groups = subject.groups(groups) if subject else tuple(dict.fromkeys(groups))
        spec = {**target.attributes(), "groups": list(all_groups)}
        if subject is not None and subject.user:
            spec["user"] = subject.user
        body = {"apiVersion": f"{_REVIEWS}/v1", "kind": _SAR.kind, "spec": spec}
        answer = await client.create(body, kind=_SAR)
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


@either_client
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


@dataclass(frozen=True)
class WhoCan:
    """The subjects RBAC allows a target, each with the bindings that allow it."""

    target: Target
    grants: tuple[Grant, ...]
    warnings: tuple[str, ...] = ()

    @property
    def subjects(self) -> tuple[Subject, ...]:
        """Each subject allowed, once, in order."""
        return tuple(sorted({g.subject for g in self.grants}))

    def to_dict(self) -> dict[str, Any]:
        """The answer for JSON output: the target, the subjects and every grant."""
        result: dict[str, Any] = {
            "target": self.target.to_dict(),
            "subjects": [s.to_dict() for s in self.subjects],
            "grants": [g.to_dict() for g in self.grants],
        }
        if self.warnings:
            result["warnings"] = list(self.warnings)
        return result


@either_client
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
        """The answer for ``verb`` on ``resource`` (None: the resource does not serve the verb)."""
        return self.cells[resource][verb]

    def to_dict(self) -> dict[str, Any]:
        """The matrix for JSON output, one entry per resource."""
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


@either_client
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
