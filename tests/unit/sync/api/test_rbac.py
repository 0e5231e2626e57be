"""Least privilege, checked on the objects: the hub's controller and agent roles and a
member's role for a set of policies name every resource and verb, never ``*``."""

from __future__ import annotations

from typing import Any

import pytest

from kubeops.sync.install import (
    agent_objects,
    controller_objects,
    install_objects,
    namespace_guard,
)
from kubeops.sync.model import SYSTEM_NAMESPACE, ResourceSelector, SyncPolicy
from kubeops.sync.rbac import (
    agent_lease_role,
    group_kinds,
    member_cluster_role,
    member_rbac,
    plural,
    source_cluster_role,
)

POLICIES = [
    SyncPolicy(
        "web",
        "cluster-a",
        ("cluster-b",),
        resources=(
            ResourceSelector("apps", "Deployment"),
            ResourceSelector("", "ConfigMap"),
            ResourceSelector("networking.k8s.io", "Ingress"),
        ),
    ),
    SyncPolicy(
        "crd",
        "cluster-a",
        ("cluster-c",),
        resources=(
            ResourceSelector("example.com", "NetworkPolicy"),
            ResourceSelector("apps", "Deployment"),
        ),
    ),
]


def _rules(obj: dict[str, Any]) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = obj.get("rules") or []
    return rules


def test_no_object_anywhere_grants_a_wildcard() -> None:
    objects = [
        *install_objects(),
        *agent_objects("b"),
        *member_rbac(POLICIES),
        *member_rbac(POLICIES, agent=True),
        source_cluster_role(POLICIES),
    ]
    for obj in objects:
        for rule in _rules(obj):
            for field in ("apiGroups", "resources", "verbs", "resourceNames"):
                assert "*" not in "".join(rule.get(field, [])), (obj["metadata"]["name"], rule)


def test_secrets_and_leases_are_granted_only_inside_the_system_namespace() -> None:
    for obj in controller_objects():
        for rule in _rules(obj):
            if {"secrets", "leases"} & set(rule["resources"]):
                assert obj["kind"] == "Role"
                assert obj["metadata"]["namespace"] == SYSTEM_NAMESPACE
    cluster_role = next(o for o in controller_objects() if o["kind"] == "ClusterRole")
    secrets = [r for r in _rules(cluster_role) if "secrets" in r["resources"]]
    assert secrets == []


def test_an_agent_may_touch_only_its_own_member_and_work_namespace() -> None:
    objects = agent_objects("cluster-b")
    cluster_role = next(o for o in objects if o["kind"] == "ClusterRole")
    assert all(r["resourceNames"] == ["cluster-b"] for r in _rules(cluster_role))
    work_role = next(o for o in objects if o["kind"] == "Role")
    assert work_role["metadata"]["namespace"] == "kubeops-member-cluster-b"
    verbs = {res: r["verbs"] for r in _rules(work_role) for res in r["resources"]}
    assert "create" not in verbs["syncworks"]
    assert "delete" not in verbs["syncworks"]
    assert {"patch", "update"} <= set(verbs["syncworks/status"])


def test_member_role_names_each_synced_resource_once_per_group() -> None:
    role = member_cluster_role(POLICIES)
    by_group = {r["apiGroups"][0]: r for r in _rules(role)}
    assert by_group["apps"]["resources"] == ["deployments"]
    assert by_group["example.com"]["resources"] == ["networkpolicies"]
    assert by_group["networking.k8s.io"]["resources"] == ["ingresses"]
    core = [r for r in _rules(role) if r["apiGroups"] == [""]]
    assert {tuple(r["resources"]) for r in core} == {("configmaps",), ("namespaces",)}
    assert set(by_group["apps"]["verbs"]) == {
        "get",
        "list",
        "watch",
        "create",
        "patch",
        "update",
        "delete",
    }
    namespaces = next(r for r in core if r["resources"] == ["namespaces"])
    assert namespaces["verbs"] == ["get", "create"]


def test_discovered_names_win_over_the_plural_rule() -> None:
    role = member_cluster_role(
        POLICIES, resources={("example.com", "NetworkPolicy"): "netpols"}, agent=True
    )
    assert role["metadata"]["name"] == "kubeops-sync-agent"
    by_group = {r["apiGroups"][0]: r for r in _rules(role)}
    assert by_group["example.com"]["resources"] == ["netpols"]


def test_a_source_is_only_read() -> None:
    for rule in _rules(source_cluster_role(POLICIES)):
        assert rule["verbs"] == ["get", "list", "watch"]


def test_the_agents_lease_is_named_for_every_verb_but_create() -> None:
    role = agent_lease_role()
    assert role["metadata"]["namespace"] == SYSTEM_NAMESPACE
    named = [r for r in _rules(role) if r.get("resourceNames")]
    assert named == [
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "verbs": ["get", "update"],
            "resourceNames": ["kubeops-sync-agent"],
        }
    ]
    kinds = [o["kind"] for o in member_rbac(POLICIES, agent=True)]
    assert kinds == [
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
    ]


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("Deployment", "deployments"),
        ("Ingress", "ingresses"),
        ("NetworkPolicy", "networkpolicies"),
        ("Gateway", "gateways"),
        ("Box", "boxes"),
        ("Mesh", "meshes"),
    ],
)
def test_plural_rule(kind: str, expected: str) -> None:
    assert plural(kind) == expected


def test_group_kinds_are_unique_and_sorted() -> None:
    assert group_kinds(POLICIES) == [
        ("", "ConfigMap"),
        ("apps", "Deployment"),
        ("example.com", "NetworkPolicy"),
        ("networking.k8s.io", "Ingress"),
    ]


def test_the_controller_may_create_only_work_namespaces() -> None:
    policy, policy_binding = namespace_guard()
    spec = policy["spec"]
    assert spec["matchConditions"][0]["expression"] == (
        "request.userInfo.username == 'system:serviceaccount:kubeops-sync:kubeops-sync'"
    )
    assert spec["validations"][0]["expression"] == (
        "object.metadata.name.startsWith('kubeops-member-')"
    )
    assert policy_binding["spec"] == {
        "policyName": policy["metadata"]["name"],
        "validationActions": ["Deny"],
    }
    assert policy in controller_objects()
