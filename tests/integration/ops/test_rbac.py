"""The RBAC tools against the session cluster: every answer is checked against the API
server -- real requests made as the subject, and SubjectAccessReviews for each subject
who-can names."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubeops.api import Client, SyncClient
from kubeops.config import load_config
from kubeops.errors import Forbidden, KubeopsError, NotFound
from kubeops.ops.rbac import (
    RbacError,
    Subject,
    Target,
    access_matrix,
    can_i,
    create_service_account,
    who_can,
)
from kubeops.testenv import Cluster, async_eventually

RBAC = "rbac.authorization.k8s.io"
READ_PODS = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}
ONE_CONFIGMAP = {
    "apiGroups": [""],
    "resources": ["configmaps"],
    "verbs": ["get"],
    "resourceNames": ["settings"],
}


def connect(kubeconfig: Path, namespace: str) -> Client:
    return Client(load_config(kubeconfig, namespace=namespace))


async def subject_access_review(client: Client, subject: Subject, target: Target) -> bool:
    """The server's answer for exactly this subject: the user alone, or the group alone."""
    spec: dict[str, Any] = dict(target.attributes())
    if subject.kind == "Group":
        spec["groups"] = [subject.name]
    else:
        spec["user"] = subject.user
    review = await client.create(
        {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}
    )
    return bool(review["status"].get("allowed"))


async def forbidden(request: Awaitable[Any]) -> bool:
    """Whether the server refused the request for lack of rights (any other outcome is not)."""
    try:
        await request
    except Forbidden:
        return True
    except NotFound:
        return False
    return False


def rolebinding(
    name: str, role_kind: str, role: str, subjects: list[dict[str, str]]
) -> dict[str, Any]:
    return {
        "apiVersion": f"{RBAC}/v1",
        "kind": "RoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": RBAC, "kind": role_kind, "name": role},
        "subjects": subjects,
    }


async def test_can_i_for_the_caller_and_for_others_matches_what_requests_then_meet(
    kube_cluster: Cluster, kube_namespace: str, client: Client
) -> None:
    rules = [
        READ_PODS,
        ONE_CONFIGMAP,
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]},
    ]
    kubeconfig = kube_cluster.service_account_kubeconfig("reader", rules, kube_namespace)
    await client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}})
    subject = Subject("ServiceAccount", "reader", kube_namespace)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "c", "image": "nginx"}]}}  # fmt: skip
    async with connect(kubeconfig, kube_namespace) as reader:
        cases: list[tuple[tuple[str, str, str | None], Callable[[], Awaitable[Any]]]] = [
            (("list", "pods", None), lambda: reader.list("pods")),
            (("get", "po", "p"), lambda: reader.get("pods", "p")),
            (("create", "pods", None), lambda: reader.create(pod)),
            (("delete", "pods", "p"), lambda: reader.delete("pods", "p")),
            (("get", "configmaps", "settings"), lambda: reader.get("configmaps", "settings")),
            (("get", "configmaps", "other"), lambda: reader.get("configmaps", "other")),
            (("list", "configmaps", None), lambda: reader.list("configmaps")),
            (("list", "deployments.apps", None), lambda: reader.list("deployments")),
            # A Role cannot grant a cluster-scoped kind, whatever its rules say.
            (("get", "nodes", "kwok-node-0"), lambda: reader.get("nodes", "kwok-node-0")),
        ]
        for (verb, resource, name), request in cases:
            mine = await can_i(reader, verb, resource, name)
            theirs = await can_i(client, verb, resource, name, subject=subject)
            refused = await forbidden(request())
            what = f"{verb} {resource} {name or ''}"
            assert mine.subject is None
            assert theirs.subject == subject
            assert mine.allowed is theirs.allowed is (not refused), what
    answers = {
        (verb, res): (await can_i(client, verb, res, subject=subject)).allowed
        for verb, res in (("list", "pods"), ("create", "pods"), ("get", "nodes"))
    }
    assert answers == {("list", "pods"): True, ("create", "pods"): False, ("get", "nodes"): False}


async def test_can_i_asks_about_groups_urls_and_other_namespaces(
    kube_namespace: str, client: Client, sync_client: SyncClient
) -> None:
    group = f"kubeops-readers-{kube_namespace}"
    await client.create(
        {
            "apiVersion": f"{RBAC}/v1",
            "kind": "Role",
            "metadata": {"name": "pods"},
            "rules": [READ_PODS],
        }
    )
    await client.create(rolebinding("readers", "Role", "pods", [{"kind": "Group", "name": group}]))

    async def allowed() -> bool:
        return (await can_i(client, "list", "pods", groups=[group])).allowed

    # The API server's RBAC authorizer reads the binding from its own cache, a moment later.
    await async_eventually(allowed, timeout=30, message="the new binding is authorized")
    assert not (await can_i(client, "list", "pods", groups=[group], namespace="default")).allowed
    alice = await can_i(client, "list", "pods", subject="alice", groups=[group])
    assert alice.allowed
    assert alice.groups == (group, "system:authenticated")
    assert not (await can_i(client, "list", "pods", subject="alice")).allowed
    healthz = await can_i(client, "get", "/healthz", subject="user:nobody-in-particular")
    assert healthz.allowed  # system:public-info-viewer is bound to system:authenticated
    odd = await can_i(client, "frobnicate", "gizmos.example.com", subject="alice")
    assert not odd.allowed
    assert odd.warnings == (
        "verb 'frobnicate' is not a known verb",
        "the server doesn't have a resource type 'gizmos.example.com'",
    )
    assert (odd.target.group, odd.target.resource) == ("example.com", "gizmos")
    answer = can_i(sync_client, "get", "pods", subject=Subject("Group", group))
    assert answer.allowed
    assert answer.target.namespace == kube_namespace


async def test_who_can_names_only_subjects_that_subject_access_reviews_allow(
    kube_cluster: Cluster, kube_namespace: str, client: Client
) -> None:
    ns = kube_namespace
    kube_cluster.service_account_kubeconfig("pod-reader", [READ_PODS], ns)
    kube_cluster.service_account_kubeconfig("cm-reader", [ONE_CONFIGMAP], ns)
    await client.create(
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "elsewhere"}}
    )
    group = f"kubeops-viewers-{ns}"
    await client.create(
        rolebinding(
            "mixed",
            "ClusterRole",
            "view",
            [
                {"kind": "Group", "name": group},
                {"kind": "User", "name": f"alice-{ns}"},
                # No namespace: the binding's own.
                {"kind": "ServiceAccount", "name": "elsewhere"},
            ],
        )
    )
    result = await who_can(client, "list", "pods")
    assert result.target == Target("list", "pods", namespace=ns)
    named = set(result.subjects)
    expected = {
        Subject("ServiceAccount", "pod-reader", ns),
        Subject("Group", group),
        Subject("User", f"alice-{ns}"),
        Subject("ServiceAccount", "elsewhere", ns),
        Subject("Group", "system:masters"),
    }
    assert expected <= named
    assert Subject("ServiceAccount", "cm-reader", ns) not in named
    assert not await subject_access_review(
        client, Subject("ServiceAccount", "cm-reader", ns), result.target
    )
    reviews = await asyncio.gather(
        *(subject_access_review(client, s, result.target) for s in named)
    )
    assert dict(zip(named, reviews, strict=True)) == dict.fromkeys(named, True)
    via = {g.subject: (g.binding, g.role) for g in result.grants if g.subject in expected}
    assert via[Subject("ServiceAccount", "pod-reader", ns)] == (
        f"RoleBinding/{ns}/pod-reader",
        "Role/pod-reader",
    )
    # view's rules come from the ClusterRoles aggregated into it.
    assert via[Subject("User", f"alice-{ns}")] == (
        f"RoleBinding/{ns}/mixed",
        "ClusterRole/view (aggregated from ClusterRole/system:aggregate-to-view)",
    )

    # In every namespace at once, only cluster-wide grants count.
    everywhere = await who_can(client, "list", "pods", all_namespaces=True)
    assert everywhere.target.namespace == ""
    assert not set(everywhere.subjects) & (expected - {Subject("Group", "system:masters")})
    reviews = await asyncio.gather(
        *(subject_access_review(client, s, everywhere.target) for s in everywhere.subjects)
    )
    assert all(reviews)

    # Non-resource URLs, which only ClusterRoles grant.
    healthz = await who_can(client, "get", "/healthz")
    assert Subject("Group", "system:unauthenticated") in healthz.subjects
    reviews = await asyncio.gather(
        *(subject_access_review(client, s, healthz.target) for s in healthz.subjects)
    )
    assert all(reviews)
    document = json.loads(json.dumps(result.to_dict()))
    assert {"kind": "Group", "name": group} in document["subjects"]


@pytest.mark.full  # the aggregation controller runs in the controller-manager
async def test_who_can_counts_aggregated_cluster_roles(
    kube_cluster: Cluster, kube_namespace: str, client: Client
) -> None:
    ns = kube_namespace
    label = {"kubeops.test/aggregate-to": ns}
    parent, child = f"kubeops-test-parent-{ns}", f"kubeops-test-child-{ns}"
    gizmos = {"apiGroups": ["example.com"], "resources": ["gizmos"], "verbs": ["get"]}
    try:
        await client.create(
            {
                "apiVersion": f"{RBAC}/v1",
                "kind": "ClusterRole",
                "metadata": {"name": parent},
                "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": label}]},
            }
        )
        await client.create(
            rolebinding("agg", "ClusterRole", parent, [{"kind": "ServiceAccount", "name": "agg"}])
        )
        await client.create(
            {
                "apiVersion": f"{RBAC}/v1",
                "kind": "ClusterRole",
                "metadata": {"name": child, "labels": label},
                "rules": [gizmos],
            }
        )
        # Counted at once, whether or not the controller has copied the rule yet.
        result = await who_can(client, "get", "gizmos.example.com", "g1")
        agg = Subject("ServiceAccount", "agg", ns)
        grant = next(g for g in result.grants if g.subject == agg)
        assert (grant.role_name, grant.aggregated_from) == (parent, child)
        assert result.warnings == ("the server doesn't have a resource type 'gizmos.example.com'",)
        await async_eventually(
            lambda: subject_access_review(client, agg, result.target),
            timeout=15,
            message="the aggregation controller to grant it",
        )
        held = await client.get("clusterroles", parent)
        assert held["rules"] == [gizmos]
    finally:
        for name in (parent, child):
            kube_cluster.admin.delete(f"/apis/{RBAC}/v1/clusterroles/{name}")


async def test_the_access_matrix_is_the_same_asked_by_the_subject_and_about_it(
    kube_cluster: Cluster, kube_namespace: str, client: Client
) -> None:
    rules = [
        READ_PODS,
        {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["*"]},
    ]
    kubeconfig = kube_cluster.service_account_kubeconfig("matrix", rules, kube_namespace)
    subject = Subject("ServiceAccount", "matrix", kube_namespace)
    resources = ["pods", "pods/log", "deploy", "secrets", "nodes"]
    about = await access_matrix(client, subject, resources=resources)
    async with connect(kubeconfig, kube_namespace) as own:
        mine = await access_matrix(own, resources=resources)
        everything = await access_matrix(own)
    assert about.cells == mine.cells
    assert about.resources == ("pods", "pods/log", "deployments.apps", "secrets", "nodes")
    allowed = {(r, v) for r in about.resources for v in about.verbs if about.cells[r][v]}
    assert allowed == {
        ("pods", "get"),
        ("pods", "list"),
        ("pods/log", "get"),
        *(("deployments.apps", v) for v in about.verbs),
    }
    assert about.allowed("pods", "create") is False
    assert "nodes" not in everything.resources  # a namespace's matrix has namespaced kinds only
    assert everything.cells["pods"] == about.cells["pods"]
    assert everything.cells["deployments.apps"] == about.cells["deployments.apps"]
    assert not any(everything.cells["secrets"].values())
    # Verbs a resource does not serve are not asked about.
    assert everything.cells["bindings"]["get"] is None
    document = json.loads(json.dumps(about.to_dict()))
    assert document["subject"] == {
        "kind": "ServiceAccount",
        "name": "matrix",
        "namespace": kube_namespace,
    }
    with SyncClient(load_config(kubeconfig, namespace=kube_namespace)) as sync:
        assert access_matrix(sync, resources=resources, verbs=["get"]).cells["secrets"] == {
            "get": False
        }


def jwt_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


async def test_a_created_service_account_may_do_exactly_what_its_rules_say(
    kube_namespace: str, client: Client, sync_client: SyncClient, tmp_path: Path
) -> None:
    await client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}})
    await client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "other"}})
    path = await create_service_account(
        client,
        "deployer",
        ["get,list:pods", "get:configmaps:settings", "get,list,patch:deploy"],
        tmp_path / "deployer.kubeconfig",
        expiration="15m",
    )
    held = await client.get("roles", "deployer")
    assert held["rules"] == [
        {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]},
        {"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["settings"]},
        {"verbs": ["get", "list", "patch"], "apiGroups": ["apps"], "resources": ["deployments"]},
    ]  # fmt: skip
    binding = await client.get("rolebindings", "deployer")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "deployer", "namespace": kube_namespace}
    ]
    config = yaml.safe_load(path.read_text())
    token = config["users"][0]["user"]["token"]
    claims = jwt_claims(token)
    assert claims["exp"] - claims["iat"] == 15 * 60
    assert claims["sub"] == f"system:serviceaccount:{kube_namespace}:deployer"

    async with connect(path, kube_namespace) as deployer:
        assert deployer.namespace == kube_namespace  # the kubeconfig's context says so
        await deployer.list("pods")
        await deployer.list("deployments")
        await deployer.get("configmaps", "settings")
        assert await forbidden(deployer.get("configmaps", "other"))
        assert await forbidden(deployer.list("secrets"))
        assert await forbidden(deployer.list("pods", "default"))
        assert await forbidden(deployer.delete("pods", "x"))

    # Running it again replaces the rules and issues a new token (sync API this time).
    again = create_service_account(sync_client, "deployer", ["list:pods"], path, expiration=600)
    assert jwt_claims(yaml.safe_load(again.read_text())["users"][0]["user"]["token"])["jti"] != claims["jti"]  # fmt: skip
    async with connect(path, kube_namespace) as deployer:
        await deployer.list("pods")
        assert await forbidden(deployer.get("configmaps", "settings"))


async def test_bad_rules_are_refused_before_anything_is_written(
    kube_namespace: str, client: Client, tmp_path: Path
) -> None:
    cases = [
        (["lsit:pods"], "unknown verb 'lsit'"),
        (["get:nodes"], "nodes are cluster-scoped"),
        (["get:deploymets"], "the server doesn't have a resource type 'deploymets'"),
        ([{"verbs": ["get"], "nonResourceURLs": ["/metrics"]}], "only be granted by a ClusterRole"),
    ]
    for rules, message in cases:
        with pytest.raises(KubeopsError) as caught:
            await create_service_account(client, "bad", rules, tmp_path / "bad.kubeconfig")
        assert message in str(caught.value)
    with pytest.raises(RbacError, match="out of range"):
        await create_service_account(client, "bad", ["get:pods"], tmp_path / "x", expiration=60)
    with pytest.raises(NotFound):
        await client.get("serviceaccounts", "bad")
    assert not (tmp_path / "bad.kubeconfig").exists()


async def test_a_dry_run_is_checked_by_the_server_and_stores_nothing(
    kube_cluster: Cluster, kube_namespace: str, client: Client, tmp_path: Path
) -> None:
    target = tmp_path / "dry.kubeconfig"
    path = await create_service_account(client, "dry", ["get:pods"], target, dry_run=True)
    assert path == target
    assert not target.exists()
    for kind in ("serviceaccounts", "roles", "rolebindings"):
        with pytest.raises(NotFound):
            await client.get(kind, "dry")
    # The server's escalation check runs in a dry run too: nobody grants what they lack.
    writes = ["get", "create", "patch"]
    granter = kube_cluster.service_account_kubeconfig(
        "granter",
        [
            {"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": writes},
            {"apiGroups": [RBAC], "resources": ["roles", "rolebindings"], "verbs": writes},
            READ_PODS,
        ],
        kube_namespace,
    )
    async with connect(granter, kube_namespace) as limited:
        await create_service_account(limited, "fine", ["list:pods"], target, dry_run=True)
        with pytest.raises(RbacError) as caught:
            await create_service_account(limited, "greedy", ["get:secrets"], target, dry_run=True)
    assert "serviceaccount/greedy applied, then patch roles.rbac.authorization.k8s.io" in str(
        caught.value
    )
    assert isinstance(caught.value.__cause__, Forbidden)
    assert not target.exists()


async def test_a_half_applied_service_account_is_reported_as_such(
    kube_cluster: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    creator = kube_cluster.service_account_kubeconfig(
        "sa-maker",
        [
            {
                "apiGroups": [""],
                "resources": ["serviceaccounts"],
                "verbs": ["get", "create", "patch"],
            }
        ],
        kube_namespace,
    )
    async with connect(creator, kube_namespace) as client:
        with pytest.raises(RbacError) as caught:
            await create_service_account(client, "half", ["get:pods"], tmp_path / "half.kubeconfig")
    message = str(caught.value)
    assert message.startswith(
        f'create service account "half" in namespace "{kube_namespace}": '
        "serviceaccount/half applied, then patch roles.rbac.authorization.k8s.io"
    )
    assert "Forbidden" in message
    assert "\n" not in message
    assert kube_cluster.admin.exists(f"/api/v1/namespaces/{kube_namespace}/serviceaccounts/half")
    assert not (tmp_path / "half.kubeconfig").exists()


def test_who_can_works_through_the_sync_client(
    kube_cluster: Cluster, kube_namespace: str, sync_client: SyncClient
) -> None:
    kube_cluster.service_account_kubeconfig("sync-reader", [READ_PODS], kube_namespace)
    result = who_can(sync_client, "get", "pods", f"p-{uuid.uuid4().hex[:4]}")
    assert Subject("ServiceAccount", "sync-reader", kube_namespace) in result.subjects
