"""``kubeops sync run`` and ``kubeops sync agent`` as an operator runs them: subprocesses
against the session's hub and members, two replicas on one Lease, probes, metrics,
SIGTERM and SIGKILL."""

from __future__ import annotations

import datetime
import time
from typing import Any

from kubeops.testenv import Cluster, eventually

from ..conftest import (
    MEMBER_PATH,
    SYSTEM_NAMESPACE,
    MakePolicy,
    RegisterMember,
    SpawnSync,
    SyncWorld,
    create,
    deployment,
    patch,
    read,
)
from .harness import Replica, leaders, lease_name, start

LEASES = "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}"


def holder(cluster: Cluster, name: str, namespace: str = SYSTEM_NAMESPACE) -> str:
    """The Lease's holder identity on ``cluster`` ("" when released or absent)."""
    found = cluster.admin.request("GET", LEASES.format(namespace=namespace, name=name), ok=(404,))
    return str((found.get("spec") or {}).get("holderIdentity") or "")


def one_ready_leader(replicas: list[Replica]) -> list[int]:
    """``[index]`` of the one leader (a list: index 0 is falsy), once it is ready and
    every other replica stands by."""
    (leader,) = leaders(replicas)
    assert replicas[leader].ready()
    for i, replica in enumerate(replicas):
        if i != leader and replica.process.running:
            status, body = replica.get("/readyz")
            assert (status, body.strip()) == (200, "200: standing by"), body
    return [leader]


def run_replicas(
    spawn_sync: SpawnSync, world: SyncWorld, lease: str, seconds: int, count: int = 2
) -> list[Replica]:
    argv = ["--kubeconfig", str(world.hub.kubeconfig), "--lease-name", lease]
    argv += ["--lease-duration", f"{seconds}s"]
    return [start(spawn_sync, "run", *argv, "--identity", f"replica-{i}") for i in range(count)]


def synced_policy(make_policy: MakePolicy, namespace: str) -> str:
    """A policy syncing the namespace's Deployments from cluster-a to cluster-b."""
    return make_policy(
        targetClusters=["cluster-b"],
        resources=[{"apiGroup": "apps", "kind": "Deployment", "namespaces": [namespace]}],
    )


def replicas_on(cluster: Cluster, namespace: str, name: str) -> Any:
    found = read(cluster, "Deployment", namespace, name)
    return None if found is None else found["spec"]["replicas"]


def test_two_replicas_one_leads_syncs_and_hands_over_on_sigterm(
    sync_world: SyncWorld, sync_ns: str, make_policy: MakePolicy, spawn_sync: SpawnSync
) -> None:
    lease_seconds = 30
    lease = lease_name()
    replicas = run_replicas(spawn_sync, sync_world, lease, lease_seconds)
    (leader,) = eventually(
        lambda: one_ready_leader(replicas), timeout=60, message="one ready leader"
    )
    standby = replicas[1 - leader]
    assert holder(sync_world.hub, lease) == f"replica-{leader}"
    health = replicas[leader].healthz()
    assert health["role"] == "run"
    assert health["synced"] is True
    assert health["lease"] == f"{SYSTEM_NAMESPACE}/{lease}"
    # The standby learns the holder at its next try (every lease/7.5 s, jittered).
    eventually(
        lambda: standby.healthz()["leaderIdentity"] == f"replica-{leader}",
        timeout=lease_seconds / 2,
        message="the standby sees the leader",
    )

    # The leader's controller syncs; the standby writes nothing.
    synced_policy(make_policy, sync_ns)
    create(sync_world.source, deployment("web", sync_ns, replicas=2))
    eventually(
        lambda: replicas_on(sync_world.targets["cluster-b"], sync_ns, "web") == 2,
        timeout=30,
        message="web on cluster-b",
    )
    assert replicas[leader].metric("kubeops_sync_leader") == 1.0
    assert standby.metric("kubeops_sync_leader") == 0.0
    _, metrics = replicas[leader].get("/metrics")
    assert 'kubeops_sync_operations_total{action="create"' in metrics
    _, idle = standby.get("/metrics")
    assert "kubeops_sync_operations_total" not in idle
    writes = replicas[leader].records("operation")
    assert any(r["key"].endswith(f"{sync_ns}/web") and r["action"] == "create" for r in writes)
    assert standby.records("operation") == []

    # SIGTERM: the leader stops its controller and releases the Lease; the standby
    # takes over within a retry, not after the lease runs out, and syncs on.
    stopped = time.monotonic()
    assert replicas[leader].process.terminate() == 0, replicas[leader].process.log
    exited = time.monotonic()
    assert "released lease" in replicas[leader].process.log
    eventually(
        lambda: leaders([standby]) == [0] and standby.ready(),
        timeout=lease_seconds,
        message="the standby leads",
    )
    handover = time.monotonic() - stopped
    assert handover < lease_seconds / 2
    print(
        f"\nsync run: SIGTERM -> the leader exited in {exited - stopped:.2f}s, the standby "
        f"leads and is ready {handover:.2f}s after the signal (lease {lease_seconds}s, "
        f"retry {lease_seconds / 7.5:g}s x jitter)"
    )
    patch(sync_world.source, "Deployment", sync_ns, "web", {"spec": {"replicas": 3}})
    eventually(
        lambda: replicas_on(sync_world.targets["cluster-b"], sync_ns, "web") == 3,
        timeout=30,
        message="the new leader syncs the change",
    )
    assert standby.process.terminate() == 0, standby.process.log


def test_the_standby_takes_over_when_the_leader_is_killed(
    sync_world: SyncWorld, sync_ns: str, make_policy: MakePolicy, spawn_sync: SpawnSync
) -> None:
    lease_seconds = 6
    lease = lease_name()
    replicas = run_replicas(spawn_sync, sync_world, lease, lease_seconds)
    (leader,) = eventually(
        lambda: one_ready_leader(replicas), timeout=60, message="one ready leader"
    )
    standby = replicas[1 - leader]
    synced_policy(make_policy, sync_ns)
    create(sync_world.source, deployment("api", sync_ns, replicas=1))
    eventually(
        lambda: replicas_on(sync_world.targets["cluster-b"], sync_ns, "api") == 1,
        timeout=30,
        message="api on cluster-b",
    )

    killed = time.monotonic()
    replicas[leader].process.kill()  # nothing runs on the way out: the Lease stays held
    assert holder(sync_world.hub, lease) == f"replica-{leader}"
    # The source changes while nobody leads; the successor catches up.
    patch(sync_world.source, "Deployment", sync_ns, "api", {"spec": {"replicas": 4}})
    eventually(
        lambda: leaders([standby]) == [0] and standby.ready(),
        timeout=lease_seconds * 4,
        message="the standby leads",
    )
    took = time.monotonic() - killed
    print(
        f"\nsync run: leader SIGKILLed -> the standby leads in {took:.2f}s (lease {lease_seconds}s)"
    )
    assert holder(sync_world.hub, lease) == f"replica-{1 - leader}"
    eventually(
        lambda: replicas_on(sync_world.targets["cluster-b"], sync_ns, "api") == 4,
        timeout=30,
        message="the successor syncs what changed while nobody led",
    )
    assert len(standby.records("leading")) == 1
    assert took >= lease_seconds * 0.5  # it waited for the lease to run out
    assert standby.process.terminate() == 0, standby.process.log


def test_the_agent_leads_on_its_member_and_reports_to_the_hub(
    sync_world: SyncWorld, register_member: RegisterMember, spawn_sync: SpawnSync
) -> None:
    member_cluster = sync_world.targets["cluster-c"]
    member = register_member(member_cluster, mode="Pull")
    member_cluster.admin.create(
        "/api/v1/namespaces",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": SYSTEM_NAMESPACE}},
        exist_ok=True,
    )
    lease = lease_name()
    agent = start(
        spawn_sync,
        "agent",
        "--hub",
        str(sync_world.hub.kubeconfig),
        "--member",
        member,
        "--kubeconfig",
        str(member_cluster.kubeconfig),
        "--lease-name",
        lease,
        "--identity",
        "agent-0",
    )
    eventually(
        lambda: leaders([agent]) == [0] and agent.ready(), timeout=60, message="the agent leads"
    )
    health = agent.healthz()
    assert (health["role"], health["member"], health["synced"]) == ("agent", member, True)
    assert holder(member_cluster, lease) == "agent-0"  # on the member, not the hub
    assert holder(sync_world.hub, lease) == ""
    eventually(
        lambda: (
            (sync_world.hub.admin.get(f"{MEMBER_PATH}/{member}").get("status") or {})
            .get("agent", {})
            .get("heartbeatTime")
        ),
        timeout=30,
        message="the agent's heartbeat on the hub",
    )
    assert agent.metric("kubeops_sync_leader") == 1.0
    assert agent.process.terminate() == 0, agent.process.log
    assert holder(member_cluster, lease) == ""


def test_a_missing_lease_namespace_is_one_line_and_exit_1(
    sync_world: SyncWorld, spawn_sync: SpawnSync
) -> None:
    replica = start(
        spawn_sync,
        "run",
        "--kubeconfig",
        str(sync_world.hub.kubeconfig),
        "--lease-namespace",
        "no-such-namespace",
    )
    assert replica.process.process.wait(60) == 1
    lines = replica.process.log.splitlines()
    assert lines == [
        "kubeops: error: sync run: the Lease's namespace 'no-such-namespace' does not exist "
        "on the hub (run `kubeops sync install`); create it or give --lease-namespace"
    ], replica.process.log


def take_lease(cluster: Cluster, name: str, identity: str, seconds: int) -> None:
    """Write ``identity`` into the Lease as its holder, as another elector winning would."""
    path = LEASES.format(namespace=SYSTEM_NAMESPACE, name=name)
    lease = cluster.admin.get(path)
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    lease["spec"].update(
        holderIdentity=identity, leaseDurationSeconds=seconds, acquireTime=now, renewTime=now
    )
    cluster.admin.request("PUT", path, lease)


def test_a_leader_that_loses_its_lease_stops_its_controller(
    sync_world: SyncWorld, sync_ns: str, make_policy: MakePolicy, spawn_sync: SpawnSync
) -> None:
    """The Lease taken by someone else: the leader stops its controller (the worker has
    returned when it says it stopped), both replicas stand by, and when the Lease is
    free again the next leader syncs what changed while nobody led."""
    lease = lease_name()
    replicas = run_replicas(spawn_sync, sync_world, lease, 6)
    (leader,) = eventually(lambda: one_ready_leader(replicas), timeout=60, message="a leader")
    synced_policy(make_policy, sync_ns)
    create(sync_world.source, deployment("db", sync_ns, replicas=1))
    eventually(
        lambda: replicas_on(sync_world.targets["cluster-b"], sync_ns, "db") == 1,
        timeout=30,
        message="db on cluster-b",
    )

    take_lease(sync_world.hub, lease, "intruder", 3600)
    eventually(lambda: leaders(replicas) == [], timeout=30, message="nobody leads")
    former = replicas[leader]
    eventually(
        lambda: "no longer leading: the controller stopped" in former.process.log,
        timeout=30,
        message="the former leader's controller stopped",
    )
    assert former.metric("kubeops_sync_leader") == 0.0
    assert all(r.ready() for r in replicas)  # standing by is ready
    _, idle = former.get("/metrics")
    assert "kubeops_sync_operations_total" not in idle  # its controller's registry is gone

    patch(sync_world.source, "Deployment", sync_ns, "db", {"spec": {"replicas": 5}})
    released = time.time()
    take_lease(sync_world.hub, lease, "", 1)  # released, as an elector leaving does
    (successor,) = eventually(lambda: one_ready_leader(replicas), timeout=30, message="a leader")
    eventually(
        lambda: replicas_on(sync_world.targets["cluster-b"], sync_ns, "db") == 5,
        timeout=30,
        message="the change made while nobody led",
    )

    def applied() -> list[dict[str, Any]]:
        return [
            r
            for replica in replicas
            for r in replica.records("operation")
            if r["key"].endswith(f"{sync_ns}/db") and r["action"] == "apply"
        ]

    # Its log line follows the write: wait for it, then see who wrote and when.
    (record,) = eventually(applied, timeout=10, message="the apply's log record")
    assert record["identity"] == f"replica-{successor}", [r.process.log for r in replicas]
    # The record's time is in milliseconds: a write after the release is not before it.
    assert datetime.datetime.fromisoformat(record["time"]).timestamp() >= released - 0.001
    assert len(replicas[successor].records("leading")) == (2 if successor == leader else 1)
