"""RBAC cases: cluster-admin bindings and wildcard roles."""

from __future__ import annotations

from typing import Any

from ..harness import Case

Object = dict[str, Any]
RBAC = "rbac.authorization.k8s.io/v1"


def binding(
    name: str, role: str, *subjects: tuple[str, str], kind: str = "ClusterRoleBinding"
) -> Object:
    """A binding of ClusterRole ``role`` to (kind, name) subjects; ServiceAccounts as "ns/name"."""
    listed: list[Object] = []
    for subject_kind, subject in subjects:
        if subject_kind == "ServiceAccount":
            namespace, _, sa = subject.partition("/")
            listed.append({"kind": "ServiceAccount", "name": sa, "namespace": namespace})
        else:
            listed.append(
                {"kind": subject_kind, "name": subject, "apiGroup": "rbac.authorization.k8s.io"}
            )
    return {
        "apiVersion": RBAC,
        "kind": kind,
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": listed,
    }


def role(name: str, *rules: tuple[list[str], list[str]], kind: str = "ClusterRole") -> Object:
    """A role with (verbs, resources) rules in the core API group."""
    return {
        "apiVersion": RBAC,
        "kind": kind,
        "metadata": {"name": name},
        "rules": [{"apiGroups": [""], "resources": r, "verbs": v} for v, r in rules],
    }


CASES = [
    Case(
        "rbac-cluster-admin-binding",
        bad=[
            binding(
                "rbac-cluster-admin-binding-sa", "cluster-admin", ("ServiceAccount", "ci/deployer")
            ),
            binding("rbac-cluster-admin-binding-user", "cluster-admin", ("User", "alice")),
            binding(
                "rbac-cluster-admin-binding-group", "cluster-admin", ("Group", "platform-team")
            ),
        ],
        good=[
            binding(
                "rbac-cluster-admin-binding-masters", "cluster-admin", ("Group", "system:masters")
            ),
            binding("rbac-cluster-admin-binding-view", "view", ("User", "bob")),
        ],
        expect=[
            "ClusterRoleBinding/rbac-cluster-admin-binding-sa",
            "ClusterRoleBinding/rbac-cluster-admin-binding-user",
            "ClusterRoleBinding/rbac-cluster-admin-binding-group",
        ],
    ),
    Case(
        "rbac-rolebinding-cluster-admin",
        bad=[binding("owner", "cluster-admin", ("User", "alice"), kind="RoleBinding")],
        good=[binding("team-admin", "admin", ("User", "alice"), kind="RoleBinding")],
        expect=["RoleBinding/owner"],
    ),
    Case(
        "rbac-clusterrole-wildcard",
        bad=[
            role("rbac-clusterrole-wildcard-all", (["*"], ["*"])),
            role("rbac-clusterrole-wildcard-verbs", (["get"], ["pods"]), (["*"], ["secrets"])),
            role("rbac-clusterrole-wildcard-resources", (["list"], ["*"])),
        ],
        good=[
            role("rbac-clusterrole-wildcard-ok", (["get", "list", "watch"], ["pods", "services"])),
            {
                "apiVersion": RBAC,
                "kind": "ClusterRole",
                "metadata": {"name": "rbac-clusterrole-wildcard-metrics"},
                "rules": [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}],
            },
            {
                "apiVersion": RBAC,
                "kind": "ClusterRole",
                "metadata": {"name": "rbac-clusterrole-wildcard-aggregated"},
                "aggregationRule": {
                    "clusterRoleSelectors": [{"matchLabels": {"example.com/aggregate": "true"}}]
                },
                "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}],
            },
        ],
        expect=[
            "ClusterRole/rbac-clusterrole-wildcard-all",
            "ClusterRole/rbac-clusterrole-wildcard-verbs",
            "ClusterRole/rbac-clusterrole-wildcard-resources",
        ],
    ),
    Case(
        "rbac-role-wildcard",
        bad=[
            role("everything", (["*"], ["*"]), kind="Role"),
            role("any-resource", (["get"], ["*"]), kind="Role"),
        ],
        good=[role("reader", (["get", "list"], ["configmaps"]), kind="Role")],
        expect=["Role/everything", "Role/any-resource"],
    ),
]
