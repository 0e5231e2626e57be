"""cordon and drain against the session cluster, on a kwok Node of the test's own,
tainted so that only the test's Pods run there."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from kubeops.api import Client
from kubeops.errors import NotFound
from kubeops.respond.actions import ActionError
from kubeops.testenv import Cluster, async_eventually, eventually

from .helpers import context, event_about, pod, run

pytestmark = pytest.mark.full
TAINT = "kubeops.test/respond"


def ready(obj: dict[str, Any]) -> bool:
    return any(
        c["type"] == "Ready" and c["status"] == "True"
        for c in obj.get("status", {}).get("conditions") or []
    )


@pytest.fixture
def node(kube_cluster: Cluster) -> Iterator[str]:
    name = f"respond-{uuid.uuid4().hex[:8]}"
    admin = kube_cluster.admin
    admin.create(
        "/api/v1/nodes",
        {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "type": "kwok"},
                         "annotations": {"kwok.x-k8s.io/node": "fake"}},
            "spec": {"taints": [{"key": TAINT, "value": name, "effect": "NoSchedule"}]},
            "status": {"allocatable": {"cpu": "8", "memory": "16Gi", "pods": "110"},
                       "capacity": {"cpu": "8", "memory": "16Gi", "pods": "110"}},
        },
    )  # fmt: skip
    try:
        eventually(lambda: ready(admin.get(f"/api/v1/nodes/{name}")), message=f"node {name} Ready")
        yield name
    finally:
        admin.delete(f"/api/v1/nodes/{name}")


async def unschedulable(client: Client, node: str) -> bool:
    return bool((await client.get("nodes", node)).get("spec", {}).get("unschedulable"))


async def test_cordon_the_node_of_a_pod(client: Client, node: str) -> None:
    obj = await client.create(pod("p", node))
    event = event_about(obj, "CrashLoop", "derived")

    plan, done = await run("cordon", {}, context(client, event, dry_run=True))
    assert plan.nodes == (node,)
    assert plan.summary == f"cordon node/{node}"
    assert "dry run" in done
    assert not await unschedulable(client, node)

    ctx = context(client, event)
    _, done = await run("cordon", {}, ctx)
    assert done == f"cordoned node/{node}"
    assert await unschedulable(client, node)
    plan_again, done_again = await run("cordon", {}, ctx)
    assert plan_again.summary == f"cordon node/{node} (already cordoned)"
    assert done_again == f"node/{node} already cordoned"


async def test_drain_evicts_once_and_names_the_node(client: Client, node: str) -> None:
    await client.create(pod("bare", node))

    async def running() -> bool:
        status = (await client.get("pods", "bare")).get("status", {})
        assert status.get("phase") == "Running", status
        return True

    await async_eventually(running, message="pod bare running")
    node_obj = await client.get("nodes", node)
    node_obj.setdefault("kind", "Node")
    event = event_about(node_obj, "NodeNotReady", "derived")
    params = {"force": True, "gracePeriod": 0, "timeout": "60s"}

    plan, done = await run("drain", params, context(client, event, dry_run=True))
    assert plan.nodes == (node,)
    assert plan.summary == f"drain node/{node} (1 Pods on it)"
    assert "(server dry run)" in done
    assert not await unschedulable(client, node)
    assert (await client.get("pods", "bare"))["metadata"].get("deletionTimestamp") is None

    ctx = context(client, event)
    _, done = await run("drain", params, ctx)
    assert done == f"node/{node} drained: 1 evicted"
    assert await unschedulable(client, node)
    with pytest.raises(NotFound):
        await client.get("pods", "bare")

    _, again = await run("drain", params, ctx)
    assert again == f"node/{node} drained: no pods to evict"


async def test_drain_refused_is_one_line_naming_action_and_node(client: Client, node: str) -> None:
    await client.create(pod("bare", node))
    event = event_about(await client.get("pods", "bare"))
    with pytest.raises(ActionError) as caught:
        await run("drain", {"timeout": "30s"}, context(client, event))
    message = str(caught.value)
    assert message.startswith(f'drain node/{node}: cannot drain node "{node}", nothing was evicted')
    assert "declares no controller" in message
    assert "\n" not in message
