"""The RBAC checks on manifests: which bindings and roles they judge and how severe."""

from __future__ import annotations

from typing import Any

from kubeops.inspect.config import InspectConfig
from kubeops.inspect.model import Severity
from kubeops.inspect.runner import run_checks
from kubeops.inspect.snapshot import Snapshot

Object = dict[str, Any]
RBAC = "rbac.authorization.k8s.io/v1"


def hits(objects: list[Object], check: str) -> list[tuple[str, Severity, str]]:
    result = run_checks(Snapshot.from_objects(objects), InspectConfig())
    assert check in result.checks_run, result.not_run
    return [(f.object.name, f.severity, f.message) for f in result.findings if f.check == check]


def binding(
    name: str, role: str, *subjects: Object, kind: str = "ClusterRoleBinding", **meta: Any
) -> Object:
    return {
        "apiVersion": RBAC,
        "kind": kind,
        "metadata": {"name": name, **meta},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": list(subjects),
    }


def subject(kind: str, name: str, namespace: str | None = None) -> Object:
    found: Object = {"kind": kind, "name": name}
    if namespace:
        found["namespace"] = namespace
    return found


def test_cluster_admin_bindings_by_subject_kind() -> None:
    objects = [
        binding("sa", "cluster-admin", subject("ServiceAccount", "bot", "ci")),
        binding("group", "cluster-admin", subject("Group", "ops")),
        binding(
            "mixed", "cluster-admin", subject("Group", "system:masters"), subject("User", "eve")
        ),
        binding("masters", "cluster-admin", subject("Group", "system:masters")),
        binding("system:custom", "cluster-admin", subject("User", "x")),
        binding("cluster-admin", "cluster-admin", subject("Group", "system:masters")),
        binding(
            "kubeadm:cluster-admins", "cluster-admin", subject("Group", "kubeadm:cluster-admins")
        ),
        binding("viewer", "view", subject("User", "eve")),
        binding("nobody", "cluster-admin"),
    ]
    assert sorted(hits(objects, "rbac-cluster-admin-binding")) == [
        ("group", Severity.WARNING, "grants cluster-admin to Group ops"),
        ("mixed", Severity.ERROR, "grants cluster-admin to User eve"),
        ("sa", Severity.ERROR, "grants cluster-admin to ServiceAccount ci/bot"),
    ]


def test_rolebinding_to_cluster_admin_defaults_the_service_account_namespace() -> None:
    objects = [
        binding(
            "admin",
            "cluster-admin",
            subject("ServiceAccount", "bot"),
            kind="RoleBinding",
            namespace="team",
        ),
        binding("ok", "admin", subject("User", "eve"), kind="RoleBinding", namespace="team"),
        {
            "apiVersion": RBAC,
            "kind": "RoleBinding",
            "metadata": {"name": "role-named-cluster-admin", "namespace": "team"},
            "roleRef": {"kind": "Role", "name": "cluster-admin"},
            "subjects": [subject("User", "eve")],
        },
    ]
    assert hits(objects, "rbac-rolebinding-cluster-admin") == [
        (
            "admin",
            Severity.ERROR,
            'grants cluster-admin in namespace "team" to ServiceAccount team/bot',
        )
    ]


def role(name: str, *rules: Object, kind: str = "ClusterRole", **extra: Any) -> Object:
    meta: Object = {"name": name}
    if kind == "Role":
        meta["namespace"] = "ns"
    return {"apiVersion": RBAC, "kind": kind, "metadata": meta, "rules": list(rules), **extra}


def rule(
    verbs: list[str],
    resources: list[str] | None = None,
    groups: list[str] | None = None,
    **extra: Any,
) -> Object:
    found: Object = {"verbs": verbs, **extra}
    if resources is not None:
        found["resources"] = resources
        found["apiGroups"] = groups if groups is not None else [""]
    return found


def test_wildcard_clusterroles_skip_builtins_and_aggregates() -> None:
    objects = [
        role("god", rule(["*"], ["*"], ["*"])),
        role("secret-all-verbs", rule(["get"], ["pods"]), rule(["*"], ["secrets"])),
        role("list-everything", rule(["list"], ["*"], ["apps"])),
        role("cluster-admin", rule(["*"], ["*"], ["*"])),
        role("system:controller:foo", rule(["*"], ["*"])),
        role("agg", rule(["*"], ["*"]), aggregationRule={"clusterRoleSelectors": []}),
        role("urls", rule(["*"], nonResourceURLs=["*"])),
        role("fine", rule(["get", "list"], ["pods"])),
        role("no-rules"),
    ]
    assert sorted(hits(objects, "rbac-clusterrole-wildcard")) == [
        (
            "god",
            Severity.ERROR,
            "rule 1 grants every verb and every resource (verbs [*], resources [*], apiGroups [*])",
        ),
        (
            "list-everything",
            Severity.WARNING,
            "rule 1 grants every resource (verbs [list], resources [*], apiGroups [apps])",
        ),
        (
            "secret-all-verbs",
            Severity.WARNING,
            'rule 2 grants every verb (verbs [*], resources [secrets], apiGroups [""])',
        ),
    ]


def test_wildcard_roles() -> None:
    objects = [
        role("all", rule(["*"], ["*"]), kind="Role"),
        role("system:x", rule(["*"], ["*"]), kind="Role"),
        role("ok", rule(["get"], ["configmaps"]), kind="Role"),
    ]
    assert [(h[0], h[1]) for h in hits(objects, "rbac-role-wildcard")] == [("all", Severity.ERROR)]
