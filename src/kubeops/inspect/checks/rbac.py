"""RBAC: who holds cluster-admin, and roles whose rules grant everything."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from kubeops.inspect.catalog import CheckContext, Hit, register_check
from kubeops.inspect.checks.fields import name, namespace
from kubeops.inspect.model import Severity

if TYPE_CHECKING:
    from kubeops.api import Object

# Bindings and roles the control plane (or kubeadm) creates and maintains itself.
_BUILTIN_BINDINGS = frozenset({"cluster-admin", "kubeadm:cluster-admins"})
# The user-facing default ClusterRoles: cluster-admin is `*` on `*` by design (its
# bindings are what the cluster-admin checks judge), the others aggregate.
_DEFAULT_ROLES = frozenset({"cluster-admin", "admin", "edit", "view"})


def _grants_cluster_admin(binding: Object) -> bool:
    ref = binding.get("roleRef") or {}
    return ref.get("kind") == "ClusterRole" and ref.get("name") == "cluster-admin"


def _subjects(binding: Object) -> tuple[list[str], bool]:
    """The binding's subjects as text, and whether one is a user or ServiceAccount
    (``system:masters`` is the built-in superuser group and is left out)."""
    named: list[str] = []
    personal = False
    for subject in binding.get("subjects") or []:
        kind, who = subject.get("kind", ""), subject.get("name", "")
        if kind == "Group" and who == "system:masters":
            continue
        if kind == "ServiceAccount":
            where = subject.get("namespace") or namespace(binding)
            who = f"{where}/{who}" if where else who
        personal = personal or kind in ("ServiceAccount", "User")
        named.append(f"{kind} {who}")
    return named, personal


def _admin_hits(binding: Object, scope: str) -> Iterator[Hit]:
    if not _grants_cluster_admin(binding):
        return
    named, personal = _subjects(binding)
    if not named:
        return
    yield Hit(
        binding,
        f"grants cluster-admin{scope} to {', '.join(named)}",
        None if personal else Severity.WARNING,
    )


@register_check(
    "rbac-cluster-admin-binding",
    title="ClusterRoleBinding grants cluster-admin",
    category="rbac",
    severity=Severity.ERROR,
    subject="clusterrolebindings",
    static=True,
    rationale="cluster-admin can do anything to every object, Secrets and RBAC included; a stolen ServiceAccount token or user credential bound to it is a whole-cluster compromise.",
    remediation="Bind a narrower ClusterRole (or Roles per namespace) granting only what the subject needs; keep cluster-admin for break-glass groups. `kubectl auth can-i --list --as=SUBJECT` shows what a subject can do.",
)
def cluster_admin_binding(ctx: CheckContext) -> Iterator[Hit]:
    for binding in ctx.objects("clusterrolebindings"):
        binding_name = name(binding)
        if binding_name.startswith("system:") or binding_name in _BUILTIN_BINDINGS:
            continue
        yield from _admin_hits(binding, "")


@register_check(
    "rbac-rolebinding-cluster-admin",
    title="RoleBinding grants cluster-admin in a namespace",
    category="rbac",
    severity=Severity.ERROR,
    subject="rolebindings",
    static=True,
    rationale="A RoleBinding to cluster-admin gives full control of the namespace: every Secret, and the right to grant itself any namespaced permission.",
    remediation="Bind the `admin` or `edit` ClusterRole, or a Role with only the needed rules, instead of cluster-admin.",
)
def rolebinding_cluster_admin(ctx: CheckContext) -> Iterator[Hit]:
    for binding in ctx.objects("rolebindings"):
        if name(binding).startswith("system:"):
            continue
        where = namespace(binding)
        yield from _admin_hits(binding, f' in namespace "{where}"' if where else "")


def _wildcard_hits(role: Object) -> Iterator[Hit]:
    for number, rule in enumerate(role.get("rules") or [], 1):
        resources = [str(r) for r in rule.get("resources") or []]
        if not resources:  # nonResourceURLs rules (e.g. get on /metrics) are judged elsewhere
            continue
        verbs = [str(v) for v in rule.get("verbs") or []]
        groups = [str(g) for g in rule.get("apiGroups") or []]
        any_verb, any_resource = "*" in verbs, "*" in resources
        if not (any_verb or any_resource):
            continue
        wild = " and ".join(
            w for w, on in (("every verb", any_verb), ("every resource", any_resource)) if on
        )
        shown = ", ".join(g or '""' for g in groups) or '""'
        yield Hit(
            role,
            f"rule {number} grants {wild} (verbs [{', '.join(verbs)}], resources [{', '.join(resources)}], apiGroups [{shown}])",
            # `*` on `*` is cluster-admin in all but name.
            Severity.ERROR if any_verb and any_resource else None,
        )


_WILDCARD_RATIONALE = "A `*` verb includes escalate, bind, impersonate and delete; a `*` resource includes Secrets and every resource added later (CRDs too). Wildcards grant far more than the subject was meant to have."
_WILDCARD_REMEDIATION = "List the verbs and resources the subject needs explicitly; `kubectl auth can-i --list --as=system:serviceaccount:NS:NAME` shows what it can do now."


@register_check(
    "rbac-clusterrole-wildcard",
    title="ClusterRole grants wildcard verbs or resources",
    category="rbac",
    severity=Severity.WARNING,
    subject="clusterroles",
    static=True,
    rationale=_WILDCARD_RATIONALE
    + " Built-in `system:` roles and the default cluster-admin/admin/edit/view are skipped, as are aggregated ClusterRoles (their rules are copies of the roles they aggregate, judged there).",
    remediation=_WILDCARD_REMEDIATION,
)
def clusterrole_wildcard(ctx: CheckContext) -> Iterator[Hit]:
    for role in ctx.objects("clusterroles"):
        role_name = name(role)
        if (
            role_name.startswith("system:")
            or role_name in _DEFAULT_ROLES
            or role.get("aggregationRule")
        ):
            continue
        yield from _wildcard_hits(role)


@register_check(
    "rbac-role-wildcard",
    title="Role grants wildcard verbs or resources",
    category="rbac",
    severity=Severity.WARNING,
    subject="roles",
    static=True,
    rationale=_WILDCARD_RATIONALE,
    remediation=_WILDCARD_REMEDIATION,
)
def role_wildcard(ctx: CheckContext) -> Iterator[Hit]:
    for role in ctx.objects("roles"):
        if name(role).startswith("system:"):
            continue
        yield from _wildcard_hits(role)
