"""The pull mode at its edges: a foreign object on the member (Abort), a hand edit there
(Correct), and the agent down while the source changes."""

from __future__ import annotations

import time
from typing import Any

from integration.sync.conftest import (
    MakePolicy,
    RegisterMember,
    SpawnSync,
    StartController,
    SyncProcess,
    SyncWorld,
    configmap,
    create,
    delete,
    patch,
    read,
    target_status,
)
from kubeops.sync.model import work_namespace
from kubeops.testenv import Cluster, eventually
from kubeops.testenv.ports import free_port


def start_agent(spawn_sync: SpawnSync, hub: Cluster, member: str, cluster: Cluster) -> SyncProcess:
    cluster.admin.create(
        "/api/v1/namespaces",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kubeops-sync"}},
        exist_ok=True,
    )
    return spawn_sync(
        "agent",
        "--hub", str(hub.kubeconfig),
        "--member", member,
        "--kubeconfig", str(cluster.kubeconfig),
        "--listen", f"127.0.0.1:{free_port()}",
        "--lease-duration", "3s",
        "--log-format", "json",
    )  # fmt: skip


def data(cluster: Cluster, namespace: str, name: str) -> dict[str, str] | None:
    found = read(cluster, "ConfigMap", namespace, name)
    return None if found is None else dict(found.get("data") or {})


def works(world: SyncWorld, member: str) -> list[dict[str, Any]]:
    path = f"/apis/sync.kubeops.io/v1alpha1/namespaces/{work_namespace(member)}/syncworks"
    items: list[dict[str, Any]] = world.hub.admin.get(path)["items"]
    return items


def test_pull_conflicts_and_drift_are_handled_on_the_member(
    sync_world: SyncWorld,
    sync_ns: str,
    make_policy: MakePolicy,
    register_member: RegisterMember,
    start_controller: StartController,
    spawn_sync: SpawnSync,
) -> None:
    source, member_cluster = sync_world.source, sync_world.cluster("cluster-c")
    member = register_member(member_cluster, mode="Pull")
    create(source, configmap("ours", sync_ns, {"v": "0"}))
    create(source, configmap("theirs", sync_ns, {"v": "0"}))
    create(member_cluster, configmap("theirs", sync_ns, {"v": "foreign"}))
    policy = make_policy(
        targetClusters=[member],
        resources=[{"apiGroup": "", "kind": "ConfigMap", "namespaces": [sync_ns]}],
    )
    start_controller()
    started = time.monotonic()
    agent = start_agent(spawn_sync, sync_world.hub, member, member_cluster)
    eventually(
        lambda: agent.running and data(member_cluster, sync_ns, "ours") == {"v": "0"},
        timeout=60,
        message="ours on the pull member",
    )
    eventually(
        lambda: target_status(sync_world.hub, policy, member).get("conflicts") == 1,
        timeout=30,
        message="the conflict on the pull member in the policy's status",
    )
    reported = time.monotonic()
    states = {
        w["spec"]["source"]["name"]: (w.get("status") or {}).get("state")
        for w in works(sync_world, member)
    }
    assert states == {"ours": "InSync", "theirs": "Conflict"}, states
    assert data(member_cluster, sync_ns, "theirs") == {"v": "foreign"}

    # Drift by hand on the member: the agent corrects it.
    edited = time.monotonic()
    patch(member_cluster, "ConfigMap", sync_ns, "ours", {"data": {"v": "by hand"}})
    eventually(
        lambda: data(member_cluster, sync_ns, "ours") == {"v": "0"},
        timeout=30,
        message="the agent correcting the hand edit",
    )
    print(
        f"\npull: conflict reported {reported - started:.1f}s after the agent started; "
        f"a hand edit corrected in {time.monotonic() - edited:.2f}s"
    )


def test_a_pull_member_whose_agent_was_down_catches_up(
    sync_world: SyncWorld,
    sync_ns: str,
    make_policy: MakePolicy,
    register_member: RegisterMember,
    start_controller: StartController,
    spawn_sync: SpawnSync,
) -> None:
    source, member_cluster = sync_world.source, sync_world.cluster("cluster-c")
    member = register_member(member_cluster, mode="Pull")
    for i in range(5):
        create(source, configmap(f"cm-{i}", sync_ns, {"v": "0"}))
    make_policy(
        targetClusters=[member],
        resources=[{"apiGroup": "", "kind": "ConfigMap", "namespaces": [sync_ns]}],
    )
    start_controller()
    agent = start_agent(spawn_sync, sync_world.hub, member, member_cluster)
    eventually(
        lambda: all(data(member_cluster, sync_ns, f"cm-{i}") for i in range(5)),
        timeout=60,
        message="the first five on the member",
    )
    agent.kill()
    patch(source, "ConfigMap", sync_ns, "cm-0", {"data": {"v": "1"}})
    delete(source, "ConfigMap", sync_ns, "cm-1")
    create(source, configmap("cm-5", sync_ns, {"v": "0"}))
    # The hub's works follow the source while nobody applies them.
    eventually(
        lambda: (
            {w["spec"]["source"]["name"] for w in works(sync_world, member)} >= {"cm-0", "cm-5"}
        ),
        message="the works on the hub following the source",
    )
    assert data(member_cluster, sync_ns, "cm-0") == {"v": "0"}
    again = start_agent(spawn_sync, sync_world.hub, member, member_cluster)
    eventually(
        lambda: (
            again.running
            and data(member_cluster, sync_ns, "cm-0") == {"v": "1"}
            and data(member_cluster, sync_ns, "cm-1") is None
            and data(member_cluster, sync_ns, "cm-5") == {"v": "0"}
        ),
        timeout=60,
        message="the member caught up by the new agent",
    )
    eventually(
        lambda: "cm-1" not in {w["spec"]["source"]["name"] for w in works(sync_world, member)},
        message="the deleted object's work gone once the agent pruned it",
    )


def test_a_pull_conflict_ends_when_the_foreign_object_goes(
    sync_world: SyncWorld,
    sync_ns: str,
    make_policy: MakePolicy,
    register_member: RegisterMember,
    start_controller: StartController,
    spawn_sync: SpawnSync,
) -> None:
    source, member_cluster = sync_world.source, sync_world.cluster("cluster-c")
    member = register_member(member_cluster, mode="Pull")
    create(source, configmap("taken", sync_ns, {"v": "source"}))
    create(member_cluster, configmap("taken", sync_ns, {"v": "foreign"}))
    policy = make_policy(
        targetClusters=[member],
        resources=[{"apiGroup": "", "kind": "ConfigMap", "namespaces": [sync_ns]}],
    )
    start_controller()
    start_agent(spawn_sync, sync_world.hub, member, member_cluster)
    eventually(
        lambda: target_status(sync_world.hub, policy, member).get("conflicts") == 1,
        timeout=60,
        message="the conflict on the pull member",
    )
    delete(member_cluster, "ConfigMap", sync_ns, "taken")
    eventually(
        lambda: data(member_cluster, sync_ns, "taken") == {"v": "source"},
        timeout=60,
        message="the agent creating the object once the foreign one is gone",
    )


def test_two_agent_replicas_hand_over_when_the_leader_dies(
    sync_world: SyncWorld,
    sync_ns: str,
    make_policy: MakePolicy,
    register_member: RegisterMember,
    start_controller: StartController,
    spawn_sync: SpawnSync,
) -> None:
    source, member_cluster = sync_world.source, sync_world.cluster("cluster-c")
    member = register_member(member_cluster, mode="Pull")
    make_policy(
        targetClusters=[member],
        resources=[{"apiGroup": "", "kind": "ConfigMap", "namespaces": [sync_ns]}],
    )
    start_controller()
    agents = [start_agent(spawn_sync, sync_world.hub, member, member_cluster) for _ in range(2)]
    lease = "/apis/coordination.k8s.io/v1/namespaces/kubeops-sync/leases/kubeops-sync-agent"

    def leader() -> SyncProcess:
        holder = member_cluster.admin.get(lease)["spec"]["holderIdentity"]
        led = [
            a for a in agents if a.running and f'"identity":"{holder}"' in a.log.replace(" ", "")
        ]
        assert len(led) == 1, (holder, [a.log[-500:] for a in agents])
        return led[0]

    create(source, configmap("before", sync_ns, {"v": "0"}))
    eventually(lambda: data(member_cluster, sync_ns, "before"), timeout=60, message="before")
    first = eventually(leader, timeout=30, message="one agent leading")
    first.kill()
    create(source, configmap("after", sync_ns, {"v": "0"}))
    eventually(
        lambda: data(member_cluster, sync_ns, "after") == {"v": "0"},
        timeout=60,
        message="the other agent applying once the leader died",
    )
    second = eventually(leader, timeout=30, message="the other agent leading")
    assert second is not first
