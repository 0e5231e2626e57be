"""cordon, uncordon and drain against the session cluster, each checked against what the
server then holds.  Every test works on a node of its own (kwok manages any node with
its annotation), tainted so that nothing but the test's pods lands on it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from kubeops.api import Client, SyncClient
from kubeops.config import load_config
from kubeops.errors import Forbidden, NotFound
from kubeops.ops.node import CordonResult, DrainAborted, DrainRefused, cordon, drain, uncordon
from kubeops.testenv import Cluster, async_eventually, eventually
from kubeops.testenv.admin import AdminClient

TAINT = "kubeops.test/dedicated"


def ready(obj: dict[str, Any]) -> bool:
    conditions = obj.get("status", {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


@pytest.fixture
def node(kube_cluster: Cluster) -> Iterator[str]:
    """A Ready kwok node that only pods tolerating its taint (or naming it) run on."""
    name = f"maint-{uuid.uuid4().hex[:8]}"
    admin = kube_cluster.admin
    admin.create(
        "/api/v1/nodes",
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "labels": {"kubernetes.io/hostname": name, "type": "kwok"},
                "annotations": {"kwok.x-k8s.io/node": "fake"},
            },
            "spec": {"taints": [{"key": TAINT, "value": name, "effect": "NoSchedule"}]},
            "status": {
                "allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"},
                "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"},
            },
        },
    )
    try:
        eventually(lambda: ready(admin.get(f"/api/v1/nodes/{name}")), message=f"node {name} Ready")
        yield name
    finally:
        admin.delete(f"/api/v1/nodes/{name}")


def unschedulable(admin: AdminClient, node: str) -> bool:
    return bool(admin.get(f"/api/v1/nodes/{node}").get("spec", {}).get("unschedulable"))


def pod(name: str, node: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "nodeName": node,
            "containers": [{"name": "app", "image": "app:1"}],
            "tolerations": [{"key": TAINT, "operator": "Exists"}],
        },
    }


def template(node: str, **labels: str) -> dict[str, Any]:
    return {
        "metadata": {"labels": labels},
        "spec": {
            "nodeSelector": {"kubernetes.io/hostname": node},
            "tolerations": [{"key": TAINT, "operator": "Exists"}],
            "containers": [{"name": "app", "image": "app:1"}],
        },
    }


def pods_in(admin: AdminClient, namespace: str) -> dict[str, dict[str, Any]]:
    items = admin.get(f"/api/v1/namespaces/{namespace}/pods")["items"]
    return {p["metadata"]["name"]: p for p in items}


async def test_cordon_and_uncordon_change_what_the_server_holds(
    client: Client, kube_cluster: Cluster, node: str
) -> None:
    admin = kube_cluster.admin
    assert await cordon(client, node) == CordonResult(node, True, changed=True)
    assert unschedulable(admin, node)
    assert await cordon(client, node) == CordonResult(node, True, changed=False)

    dry = await uncordon(client, node, dry_run=True)
    assert dry == CordonResult(node, False, changed=True, dry_run=True)
    assert unschedulable(admin, node)  # a dry run changes nothing

    assert await uncordon(client, node) == CordonResult(node, False, changed=True)
    assert not unschedulable(admin, node)
    assert (await uncordon(client, node)).changed is False


def test_cordon_and_uncordon_through_the_sync_client(
    kube_cluster: Cluster, sync_client: SyncClient, node: str
) -> None:
    assert cordon(sync_client, node).changed
    assert unschedulable(kube_cluster.admin, node)
    assert uncordon(sync_client, node).changed
    assert not unschedulable(kube_cluster.admin, node)


async def test_an_unknown_node_or_a_forbidden_verb_is_one_clear_error(
    client: Client, kube_cluster: Cluster, node: str
) -> None:
    with pytest.raises(NotFound, match='nodes "no-such-node"'):
        await cordon(client, "no-such-node")
    with pytest.raises(NotFound, match='nodes "no-such-node"'):
        await drain(client, "no-such-node")
    viewer = f"node-viewer-{uuid.uuid4().hex[:6]}"
    kubeconfig = kube_cluster.service_account_kubeconfig(
        viewer, [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list"]}],
        cluster_wide=True,
    )  # fmt: skip
    async with Client(load_config(kubeconfig)) as limited:
        with pytest.raises(Forbidden) as caught:
            await cordon(limited, node)
    message = str(caught.value)
    assert f'patch nodes "{node}"' in message
    assert "\n" not in message
    assert not unschedulable(kube_cluster.admin, node)

    # Allowed to cordon and to list pods, but not to evict: the drain stops at once.
    operator = f"node-operator-{uuid.uuid4().hex[:6]}"
    kubeconfig = kube_cluster.service_account_kubeconfig(
        operator,
        [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "patch"]},
         {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}],
        cluster_wide=True,
    )  # fmt: skip
    stays = await client.create(pod("stays", node))
    async with Client(load_config(kubeconfig)) as limited:
        with pytest.raises(DrainAborted) as aborted:
            await drain(limited, node, force=True, timeout=20)
    message = str(aborted.value)
    assert isinstance(aborted.value.cause, Forbidden)
    assert (
        f'create pods/eviction "stays" in namespace "{stays["metadata"]["namespace"]}"' in message
    )
    assert "stays cordoned" in message
    assert "\n" not in message
    assert unschedulable(kube_cluster.admin, node)
    assert kube_cluster.admin.exists(f"/api/v1/namespaces/{client.namespace}/pods/stays")


def test_drain_refuses_then_evicts_and_skips_daemonset_pods(
    kube_cluster: Cluster, kube_namespace: str, sync_client: SyncClient, node: str
) -> None:
    admin = kube_cluster.admin
    ns = f"/namespaces/{kube_namespace}"
    admin.create(
        f"/apis/apps/v1{ns}/daemonsets",
        {"metadata": {"name": "agent"},
         "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": template(node, app="agent")}},
    )  # fmt: skip
    admin.create(
        f"/apis/apps/v1{ns}/replicasets",
        {"metadata": {"name": "web"},
         "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}}, "template": template(node, app="web")}},
    )  # fmt: skip
    admin.create(f"/api/v1{ns}/pods", pod("loner", node))
    admin.create(f"/api/v1{ns}/pods", pod("elsewhere", "kwok-node-0"))

    def running() -> dict[str, dict[str, Any]]:
        return {
            p["metadata"].get("labels", {}).get("app") or name: p
            for name, p in pods_in(admin, kube_namespace).items()
            if p["spec"].get("nodeName") and p.get("status", {}).get("phase") == "Running"
        }

    eventually(lambda: len(running()) == 4, message="four running pods")
    before = {key: p["metadata"]["uid"] for key, p in running().items()}
    names = {key: p["metadata"]["name"] for key, p in running().items()}
    agent = running()["agent"]
    assert agent["spec"]["nodeName"] == running()["web"]["spec"]["nodeName"] == node
    lines: list[str] = []
    with pytest.raises(DrainRefused) as refused:
        drain(sync_client, node, timeout=30)
    message = str(refused.value)
    assert f"{kube_namespace}/loner" in message
    assert "--force" in message
    assert "DaemonSet" in message
    assert "nothing was evicted" in message
    assert {k: p["metadata"]["uid"] for k, p in running().items()} == before
    assert unschedulable(admin, node)  # cordoned first, as kubectl does

    report = drain(
        sync_client, node, ignore_daemonsets=True, force=True, grace_period=0,
        timeout=30, poll_interval=0.2, progress=lines.append,
    )  # fmt: skip
    assert report.complete, report.summary()
    assert report.cordoned is False  # the refused drain had cordoned it already
    evicted = {p.name for p in report.evicted}
    assert evicted == {"loner", names["web"]}
    assert [p.name for p in report.skipped] == [agent["metadata"]["name"]]
    assert "DaemonSet agent" in report.skipped[0].reason
    assert report.blocked == report.failed == report.terminating == []
    assert report.to_dict()["complete"] is True

    now = pods_in(admin, kube_namespace)
    uids = {p["metadata"]["uid"] for p in now.values()}
    assert before["loner"] not in uids
    assert before["web"] not in uids
    assert before["agent"] in uids
    assert before["elsewhere"] in uids
    # The ReplicaSet's replacement is kept off the cordoned node.
    assert all(
        p["spec"].get("nodeName") != node
        for p in now.values()
        if p["metadata"].get("labels", {}).get("app") == "web"
    )
    assert unschedulable(admin, node)
    assert any(line.startswith("evicting pod") for line in lines)


async def test_drain_blocked_by_a_disruption_budget_reports_it_and_evicts_nothing_else(
    client: Client, kube_cluster: Cluster, kube_namespace: str, node: str
) -> None:
    admin = kube_cluster.admin
    for name, app in (("guarded", "guarded"), ("free", "free")):
        await client.create(pod(name, node, app=app))
    await client.create(pod("guarded-elsewhere", "kwok-node-0", app="guarded"))
    await client.create(
        {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
         "metadata": {"name": "keep-guarded"},
         "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "guarded"}}}}
    )  # fmt: skip

    def budget_in_force() -> bool:
        budget = admin.get(
            f"/apis/policy/v1/namespaces/{kube_namespace}/poddisruptionbudgets/keep-guarded"
        )
        status = budget.get("status", {})
        return (
            status.get("observedGeneration") == budget["metadata"]["generation"]
            and status.get("currentHealthy") == 2
            and status.get("disruptionsAllowed") == 0
        )

    await async_eventually(
        lambda: all(ready(p) for p in pods_in(admin, kube_namespace).values()),
        message="all pods Ready",
    )
    await async_eventually(budget_in_force, message="the budget to count the guarded pods")
    before = {n: p["metadata"]["uid"] for n, p in pods_in(admin, kube_namespace).items()}

    lines: list[str] = []
    report = await drain(
        client, node, force=True, timeout=3, retry_interval=0.5, poll_interval=0.2,
        progress=lines.append,
    )  # fmt: skip

    assert not report.complete
    assert [p.name for p in report.blocked] == ["guarded"]
    blocked = report.blocked[0]
    assert blocked.budgets == ("keep-guarded",)
    assert "disruption budget" in blocked.reason
    assert blocked.attempts >= 2  # asked again while the timeout allowed
    assert [p.name for p in report.evicted] == ["free"]
    assert report.failed == report.skipped == report.terminating == []
    summary = report.summary()
    assert f"{kube_namespace}/guarded blocked by PodDisruptionBudget keep-guarded" in summary
    assert "stays cordoned" in summary
    assert any("eviction refused" in line for line in lines)

    now = pods_in(admin, kube_namespace)
    assert set(now) == {"guarded", "guarded-elsewhere"}
    assert {n: p["metadata"]["uid"] for n, p in now.items()} == {
        n: before[n] for n in ("guarded", "guarded-elsewhere")
    }
    assert not any(p["metadata"].get("deletionTimestamp") for p in now.values())
    assert unschedulable(admin, node)
