"""The pull agent against real servers: works the hub holds for a Pull member reach it.

The hub side is :class:`~kubeops.sync.work.PullTarget` (what the push controller
drives for a Pull member); the member is ``cluster-c``, registered once more per
test as a Pull member of a fresh name, so its works live in a namespace of their
own.  The agent runs in the test's event loop with a 1 s heartbeat.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from kubeops.api import Client
from kubeops.config.kubeconfig import write_kubeconfig
from kubeops.errors import AlreadyExists, NotFound
from kubeops.sync.agent import Agent
from kubeops.sync.desired import desired_object
from kubeops.sync.install import agent_name, install
from kubeops.sync.model import (
    Conflict,
    Deletion,
    Drift,
    ResourceSelector,
    SyncPolicy,
    work_namespace,
)
from kubeops.sync.operation import Action, State
from kubeops.sync.ownership import (
    HASH_ANNOTATION,
    POLICY_LABEL,
    SOURCE_ANNOTATION,
    WORK_FINALIZER,
    ObjectKey,
)
from kubeops.sync.rbac import member_cluster_role
from kubeops.sync.work import (
    MEMBER_RESOURCE,
    WORK_RESOURCE,
    PullTarget,
    work_name,
    work_object,
)
from kubeops.testenv import async_eventually
from kubeops.testenv.kubeconfig import kubeconfig

from ..conftest import (
    SOURCE,
    MakePolicy,
    RegisterMember,
    StartController,
    SyncWorld,
    content,
    create,
    delete,
    deployment,
    patch,
    read,
    target_status,
)

MEMBER_CLUSTER = "cluster-c"


@dataclass
class PullWorld:
    """A Pull member backed by cluster-c, the hub's side of it, and a running agent."""

    member: str
    hub: Client
    cluster: Client
    target: PullTarget
    agent: Agent
    registry: CollectorRegistry
    changes: list[tuple[str, ObjectKey]] = field(default_factory=list)

    def metric(self, name: str, **labels: str) -> float:
        """The sum of the agent's samples of ``name`` matching ``labels``."""
        return sum(
            sample.value
            for family in self.registry.collect()
            for sample in family.samples
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
        )

    async def work(self, policy: str, key: ObjectKey) -> dict[str, Any] | None:
        """The work of ``key`` on the hub, or None."""
        try:
            found: dict[str, Any] = await self.hub.get(
                WORK_RESOURCE, work_name(policy, key), work_namespace(self.member)
            )
        except NotFound:
            return None
        return found

    async def status(self, policy: str, key: ObjectKey) -> dict[str, Any]:
        """The work's status as the agent wrote it (empty before)."""
        work = await self.work(policy, key)
        return dict((work or {}).get("status") or {})

    async def actual(self, key: ObjectKey) -> dict[str, Any] | None:
        """cluster-c's Deployment of ``key``, or None."""
        try:
            found: dict[str, Any] = await self.cluster.get(
                "Deployment.apps", key.name, key.namespace
            )
        except NotFound:
            return None
        return found


def policy_for(member: str, **rules: Any) -> SyncPolicy:
    """A policy syncing from cluster-a to ``member`` (rules: conflict, deletion, drift)."""
    return SyncPolicy(
        name=f"pull-{member}", source_cluster=SOURCE, target_clusters=(member,), **rules
    )


def desired_of(source: dict[str, Any], policy: SyncPolicy, member: str) -> dict[str, Any]:
    """What the controller would write into the work for ``source``."""
    return desired_object(source, policy, member, {}, SOURCE)


@contextlib.asynccontextmanager
async def running_agent(
    sync_world: SyncWorld, member: str, hub_kubeconfig: Path, member_kubeconfig: Path
) -> AsyncIterator[PullWorld]:
    """The hub's PullTarget of ``member`` (as admin) and its agent (with the credentials
    given), both started; the member's works are let go when it ends."""
    async with (
        Client.from_kubeconfig(sync_world.hub.kubeconfig) as hub,
        Client.from_kubeconfig(hub_kubeconfig) as agent_hub,
        Client.from_kubeconfig(member_kubeconfig) as member_client,
    ):
        target = PullTarget(hub, member)
        registry = CollectorRegistry()
        agent = Agent(
            agent_hub,
            member_client,
            member,
            registry=registry,
            heartbeat_interval=1.0,
            identity="agent-test",
        )
        world = PullWorld(member, hub, member_client, target, agent, registry)
        await target.start(lambda policy, key: world.changes.append((policy, key)))
        stop = asyncio.Event()
        running = asyncio.create_task(agent.run(stop))
        try:
            await async_eventually(
                lambda: target.synced() and agent.synced(),
                message="the agent's and target's caches",
            )
            yield world
        finally:
            stop.set()
            await asyncio.wait_for(running, 30)
            await target.stop()
            # Let the works go: nobody removes their finalizer once the agent stopped.
            with contextlib.suppress(Exception):
                for work in (await hub.list(WORK_RESOURCE, work_namespace(member)))["items"]:
                    await hub.patch(
                        WORK_RESOURCE,
                        work["metadata"]["name"],
                        {"metadata": {"finalizers": None}},
                        work_namespace(member),
                    )
                await hub.delete("v1/Namespace", work_namespace(member))


@pytest.fixture
async def pull(sync_world: SyncWorld, register_member: RegisterMember) -> AsyncIterator[PullWorld]:
    """cluster-c as a fresh Pull member, its PullTarget started and its agent running (admin)."""
    cluster = sync_world.cluster(MEMBER_CLUSTER)
    member = register_member(cluster, mode="Pull")
    async with running_agent(
        sync_world, member, sync_world.hub.kubeconfig, cluster.kubeconfig
    ) as world:
        yield world


async def _in_sync(world: PullWorld, policy: SyncPolicy, key: ObjectKey, desired: dict) -> bool:
    """The agent reports InSync for the work's current generation with the manifest's hash."""
    work = await world.work(policy.name, key)
    status = (work or {}).get("status") or {}
    return (
        status.get("state") == "InSync"
        and status.get("observedGeneration") == work["metadata"]["generation"]  # type: ignore[index]
        and status.get("appliedHash") == desired["metadata"]["annotations"][HASH_ANNOTATION]
    )


async def test_a_work_written_on_the_hub_is_created_on_the_member_and_reported_in_sync(
    pull: PullWorld, sync_ns: str
) -> None:
    policy = policy_for(pull.member)
    source = deployment("web", sync_ns, replicas=2)
    key = ObjectKey.of(source)
    desired = desired_of(source, policy, pull.member)

    op = await pull.target.reconcile(policy, key, desired)
    assert op.action is Action.CREATE
    assert op.state is State.PENDING

    work = await pull.work(policy.name, key)
    assert work is not None
    assert work["metadata"]["finalizers"] == [WORK_FINALIZER]
    await async_eventually(lambda: _in_sync(pull, policy, key, desired), message="work InSync")
    actual = await pull.actual(key)
    assert actual is not None
    assert actual["spec"]["replicas"] == 2
    assert actual["metadata"]["labels"][POLICY_LABEL] == policy.name
    assert actual["metadata"]["annotations"][SOURCE_ANNOTATION] == f"{SOURCE}/{sync_ns}/web"

    # The hub now reads the agent's report: nothing to write, in sync.
    async def reported() -> bool:
        again = await pull.target.reconcile(policy, key, desired)
        return again.action is Action.NONE and again.state is State.IN_SYNC

    await async_eventually(reported, message="PullTarget reading InSync from the work")

    # The heartbeat names the agent and counts the object; the hub's probe sees it.
    async def heartbeat() -> dict[str, Any]:
        member = await pull.hub.get(MEMBER_RESOURCE, pull.member)
        agent = dict((member.get("status") or {}).get("agent") or {})
        return agent if agent.get("inSync") == 1 else {}

    agent = await async_eventually(heartbeat, message="the agent's heartbeat counting 1 in sync")
    assert agent["identity"] == "agent-test"
    assert agent["objects"] == 1
    assert agent["failed"] == 0
    assert await pull.target.probe()
    created = pull.metric(
        "kubeops_sync_operations_total", policy=policy.name, action="create", result="success"
    )
    assert created == 1
    assert pull.metric("kubeops_sync_propagation_seconds_count", target=pull.member) == 1
    assert pull.metric("kubeops_sync_objects", policy=policy.name, state="InSync") == 1


async def test_a_changed_manifest_updates_the_member(pull: PullWorld, sync_ns: str) -> None:
    policy = policy_for(pull.member)
    source = deployment("web", sync_ns, replicas=1, labels={"tier": "web"})
    key = ObjectKey.of(source)
    first = desired_of(source, policy, pull.member)
    await pull.target.reconcile(policy, key, first)
    await async_eventually(lambda: _in_sync(pull, policy, key, first), message="first InSync")

    source["spec"]["replicas"] = 3
    source["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.27"
    del source["metadata"]["labels"]["tier"]
    second = desired_of(source, policy, pull.member)
    op = await pull.target.reconcile(policy, key, second)
    assert op.action is Action.APPLY
    assert op.reason == "source changed"

    await async_eventually(lambda: _in_sync(pull, policy, key, second), message="second InSync")
    actual = await pull.actual(key)
    assert actual is not None
    assert actual["spec"]["replicas"] == 3
    assert actual["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert "tier" not in actual["metadata"]["labels"], "a field the source dropped is dropped"
    work = await pull.work(policy.name, key)
    assert work is not None
    assert "tier" not in work["spec"]["manifest"]["metadata"]["labels"]


async def test_deleting_a_work_prunes_the_member_object_before_the_work_goes(
    pull: PullWorld, sync_ns: str
) -> None:
    policy = policy_for(pull.member)
    source = deployment("web", sync_ns)
    key = ObjectKey.of(source)
    desired = desired_of(source, policy, pull.member)
    await pull.target.reconcile(policy, key, desired)
    await async_eventually(lambda: _in_sync(pull, policy, key, desired), message="InSync")

    op = await pull.target.reconcile(policy, key, None)
    assert op.action is Action.DELETE

    async def gone() -> bool:
        return await pull.work(policy.name, key) is None and await pull.actual(key) is None

    await async_eventually(gone, message="the work and the member's Deployment gone")


async def test_a_deletion_finds_a_work_the_hub_store_has_not_seen_yet(
    pull: PullWorld, sync_ns: str
) -> None:
    cold = PullTarget(pull.hub, pull.member)  # never started: its store stays empty
    policy = policy_for(pull.member)
    source = deployment("web", sync_ns)
    key = ObjectKey.of(source)
    desired = desired_of(source, policy, pull.member)
    try:
        assert (await cold.reconcile(policy, key, desired)).action is Action.CREATE
        await async_eventually(lambda: _in_sync(pull, policy, key, desired), message="InSync")
        op = await cold.reconcile(policy, key, None)
    finally:
        await cold.stop()
    assert op.action is Action.DELETE

    async def gone() -> bool:
        return await pull.work(policy.name, key) is None and await pull.actual(key) is None

    await async_eventually(gone, message="the work and the member's Deployment gone")


async def test_orphan_leaves_the_member_object_without_the_marks(
    pull: PullWorld, sync_ns: str
) -> None:
    policy = policy_for(pull.member)
    source = deployment("web", sync_ns)
    key = ObjectKey.of(source)
    desired = desired_of(source, policy, pull.member)
    await pull.target.reconcile(policy, key, desired)
    await async_eventually(lambda: _in_sync(pull, policy, key, desired), message="InSync")

    # The policy says Orphan only now: the work learns it before it is deleted.
    orphaning = policy_for(pull.member, deletion=Deletion.ORPHAN)
    op = await pull.target.reconcile(orphaning, key, None)
    assert op.action is Action.ORPHAN

    async def orphaned() -> dict[str, Any] | None:
        if await pull.work(policy.name, key) is not None:
            return None
        return await pull.actual(key)

    actual = await async_eventually(orphaned, message="the work gone, the Deployment kept")
    assert POLICY_LABEL not in (actual["metadata"].get("labels") or {})
    assert SOURCE_ANNOTATION not in (actual["metadata"].get("annotations") or {})
    assert HASH_ANNOTATION not in (actual["metadata"].get("annotations") or {})
    await pull.cluster.delete("Deployment.apps", key.name, key.namespace)


async def test_drift_on_the_member_is_corrected(pull: PullWorld, sync_ns: str) -> None:
    policy = policy_for(pull.member)
    source = deployment("web", sync_ns, replicas=2)
    key = ObjectKey.of(source)
    desired = desired_of(source, policy, pull.member)
    await pull.target.reconcile(policy, key, desired)
    await async_eventually(lambda: _in_sync(pull, policy, key, desired), message="InSync")

    await pull.cluster.patch("Deployment.apps", "web", {"spec": {"replicas": 7}}, sync_ns)

    async def corrected() -> bool:
        actual = await pull.actual(key)
        return actual is not None and actual["spec"]["replicas"] == 2

    await async_eventually(corrected, message="replicas set back to 2")
    status = await pull.status(policy.name, key)
    assert status["state"] == "InSync"


async def test_drift_is_reported_to_the_hub_when_the_work_says_report(
    pull: PullWorld, sync_ns: str
) -> None:
    policy = policy_for(pull.member, drift=Drift.REPORT)
    source = deployment("web", sync_ns, replicas=2)
    key = ObjectKey.of(source)
    desired = desired_of(source, policy, pull.member)
    await pull.target.reconcile(policy, key, desired)
    await async_eventually(lambda: _in_sync(pull, policy, key, desired), message="InSync")
    pull.changes.clear()

    await pull.cluster.patch("Deployment.apps", "web", {"spec": {"replicas": 7}}, sync_ns)

    async def drifted() -> dict[str, Any]:
        status = await pull.status(policy.name, key)
        return status if status.get("state") == "Drifted" else {}

    status = await async_eventually(drifted, message="the work reported Drifted")
    assert "spec.replicas" in status["message"]
    await async_eventually(
        lambda: (policy.name, key) in pull.changes, message="the hub's target told of the drift"
    )
    op = await pull.target.reconcile(policy, key, desired)
    assert op.action is Action.NONE
    assert op.state is State.DRIFTED
    actual = await pull.actual(key)
    assert actual is not None
    assert actual["spec"]["replicas"] == 7


async def test_a_foreign_object_is_left_alone_and_reported_as_a_conflict(
    pull: PullWorld, sync_ns: str
) -> None:
    policy = policy_for(pull.member, conflict=Conflict.ABORT)
    source = deployment("web", sync_ns, replicas=2)
    key = ObjectKey.of(source)
    foreign = deployment("web", sync_ns, replicas=5)
    await pull.cluster.create(foreign)
    desired = desired_of(source, policy, pull.member)
    await pull.target.reconcile(policy, key, desired)

    async def conflict() -> dict[str, Any]:
        status = await pull.status(policy.name, key)
        return status if status.get("state") == "Conflict" else {}

    status = await async_eventually(conflict, message="the work reported Conflict")
    assert status["message"] == "not created by the sync"
    actual = await pull.actual(key)
    assert actual is not None
    assert actual["spec"]["replicas"] == 5
    assert POLICY_LABEL not in (actual["metadata"].get("labels") or {})
    op = await pull.target.reconcile(policy, key, desired)
    assert op.state is State.CONFLICT

    # Deleting the work never deletes what the sync did not create.
    await pull.target.reconcile(policy, key, None)
    await async_eventually(
        lambda: _absent(pull, policy, key), message="the conflicting work removed"
    )
    assert await pull.actual(key) is not None


async def test_a_manifest_the_member_refuses_is_reported_failed_and_then_fixed(
    pull: PullWorld, sync_ns: str
) -> None:
    policy = policy_for(pull.member)
    source = deployment("web", sync_ns, replicas=-1)
    key = ObjectKey.of(source)
    await pull.target.reconcile(policy, key, desired_of(source, policy, pull.member))

    async def failed() -> dict[str, Any]:
        status = await pull.status(policy.name, key)
        return status if status.get("state") == "Failed" else {}

    status = await async_eventually(failed, message="the work reported Failed")
    assert "replicas" in status["message"]
    op = await pull.target.reconcile(policy, key, desired_of(source, policy, pull.member))
    assert op.state is State.FAILED

    async def counted() -> bool:
        member = await pull.hub.get(MEMBER_RESOURCE, pull.member)
        return ((member.get("status") or {}).get("agent") or {}).get("failed") == 1

    await async_eventually(counted, message="the heartbeat counting one failed object")

    source["spec"]["replicas"] = 1
    fixed = desired_of(source, policy, pull.member)
    await pull.target.reconcile(policy, key, fixed)
    await async_eventually(lambda: _in_sync(pull, policy, key, fixed), message="InSync once fixed")


async def test_a_kind_the_member_does_not_serve_is_reported_failed(
    pull: PullWorld, sync_ns: str
) -> None:
    policy = policy_for(pull.member)
    source = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": sync_ns},
        "spec": {"size": 1},
    }
    key = ObjectKey.of(source)
    await pull.target.reconcile(policy, key, desired_of(source, policy, pull.member))

    async def failed() -> dict[str, Any]:
        status = await pull.status(policy.name, key)
        return status if status.get("state") == "Failed" else {}

    status = await async_eventually(failed, message="the work reported Failed")
    assert "Widget" in status["message"]


async def test_a_work_whose_manifest_names_another_object_is_refused(
    pull: PullWorld, sync_ns: str
) -> None:
    policy = policy_for(pull.member)
    source = deployment("web", sync_ns)
    key = ObjectKey.of(source)
    elsewhere = desired_of(deployment("elsewhere", sync_ns), policy, pull.member)
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": work_namespace(pull.member)},
    }
    with contextlib.suppress(AlreadyExists):
        await pull.hub.create(namespace)
    await pull.hub.apply(
        work_object(policy, pull.member, key, elsewhere, SOURCE),
        field_manager="by-hand",
        force=True,
    )

    async def failed() -> dict[str, Any]:
        status = await pull.status(policy.name, key)
        return status if status.get("state") == "Failed" else {}

    status = await async_eventually(failed, message="the work refused")
    assert "spec.manifest is Deployment.apps" in status["message"]
    assert await pull.actual(ObjectKey("apps", "Deployment", sync_ns, "elsewhere")) is None
    assert await pull.actual(key) is None


async def test_work_written_while_the_member_is_down_is_applied_when_it_returns(
    pull: PullWorld, sync_ns: str, sync_world: SyncWorld
) -> None:
    policy = policy_for(pull.member)
    source = deployment("web", sync_ns, replicas=1)
    key = ObjectKey.of(source)
    first = desired_of(source, policy, pull.member)
    await pull.target.reconcile(policy, key, first)
    await async_eventually(lambda: _in_sync(pull, policy, key, first), message="InSync")

    cluster = sync_world.cluster(MEMBER_CLUSTER)
    await asyncio.to_thread(cluster.stop_apiserver)
    try:
        source["spec"]["replicas"] = 4
        second = desired_of(source, policy, pull.member)
        await pull.target.reconcile(policy, key, second)
        await async_eventually(
            lambda: pull.metric("kubeops_sync_target_up", target=pull.member) == 0,
            message="the agent finding its member down",
        )
        assert not await _in_sync(pull, policy, key, second)
    finally:
        await asyncio.to_thread(cluster.start_apiserver)
    # Caught up within seconds: a probe closes the member client's breaker.
    await async_eventually(
        lambda: _in_sync(pull, policy, key, second), timeout=20, message="InSync when back"
    )
    actual = await pull.actual(key)
    assert actual is not None
    assert actual["spec"]["replicas"] == 4


async def _absent(world: PullWorld, policy: SyncPolicy, key: ObjectKey) -> bool:
    return await world.work(policy.name, key) is None


async def test_the_hub_going_away_leaves_the_member_alone_and_the_agent_catches_up(
    pull: PullWorld, sync_ns: str, sync_world: SyncWorld
) -> None:
    policy = policy_for(pull.member, drift=Drift.REPORT)
    source = deployment("web", sync_ns, replicas=2)
    key = ObjectKey.of(source)
    desired = desired_of(source, policy, pull.member)
    await pull.target.reconcile(policy, key, desired)
    await async_eventually(lambda: _in_sync(pull, policy, key, desired), message="InSync")
    beats = pull.agent.heartbeats

    await asyncio.to_thread(sync_world.hub.stop_apiserver)
    try:
        # While the hub is away a hand edit on the member is seen (drift Report) and the
        # object stays; the agent keeps its work from memory and never reads it as gone.
        await pull.cluster.patch("Deployment.apps", "web", {"spec": {"replicas": 4}}, sync_ns)
        await async_eventually(
            lambda: pull.agent.states.get(work_name(policy.name, key)) is State.DRIFTED,
            message="the agent seeing the drift with the hub down",
        )
        await async_eventually(
            lambda: pull.agent.works.last_error is not None,
            message="the agent's watch of its works failing",
        )
        assert pull.agent.works.store.get_by_key(
            f"{work_namespace(pull.member)}/{work_name(policy.name, key)}"
        ), "the agent kept its work"
        actual = await pull.actual(key)
        assert actual is not None
        assert actual["metadata"]["labels"][POLICY_LABEL] == policy.name
    finally:
        await asyncio.to_thread(sync_world.hub.start_apiserver)

    async def reported() -> dict[str, Any]:
        status = await pull.status(policy.name, key)
        return status if status.get("state") == "Drifted" else {}

    # Caught up within seconds of the hub's return (its probe closes the client's breaker).
    status = await async_eventually(reported, timeout=20, message="the drift reported when back")
    assert "spec.replicas" in status["message"]
    await async_eventually(
        lambda: pull.agent.heartbeats > beats, timeout=20, message="heartbeats again"
    )
    assert await pull.actual(key) is not None

    # And new work written after the outage is carried out.
    source["spec"]["replicas"] = 1
    newer = desired_of(source, policy, pull.member)
    await async_eventually(pull.target.synced, timeout=60, message="the hub's works watched again")
    await pull.target.reconcile(policy, key, newer)
    await async_eventually(
        lambda: _in_sync(pull, policy, key, newer), timeout=60, message="InSync after the outage"
    )


async def test_with_the_engine_a_pull_member_converges_as_a_push_member_does(
    pull: PullWorld,
    sync_ns: str,
    sync_world: SyncWorld,
    make_policy: MakePolicy,
    start_controller: StartController,
) -> None:
    push = "cluster-b"
    name = make_policy(
        targetClusters=[push, pull.member],
        resources=[{"apiGroup": "apps", "kind": "Deployment", "namespaces": [sync_ns]}],
    )
    start_controller(workers=2)
    source, pushed = sync_world.source, sync_world.cluster(push)
    create(source, deployment("web", sync_ns, replicas=2))
    pulled = sync_world.cluster(MEMBER_CLUSTER)

    def alike(replicas: int) -> bool:
        on_push = read(pushed, "Deployment", sync_ns, "web")
        on_pull = read(pulled, "Deployment", sync_ns, "web")
        return (
            on_push is not None
            and on_pull is not None
            and on_push["spec"]["replicas"] == replicas
            and content(on_push) == content(on_pull)
        )

    await async_eventually(lambda: alike(2), message="the Push and the Pull member alike")

    def in_sync() -> bool:
        entry = target_status(sync_world.hub, name, pull.member)
        return entry.get("inSync") == 1 and entry.get("pending", 0) == 0

    await async_eventually(in_sync, message="the policy's status: the Pull member in sync")

    patch(source, "Deployment", sync_ns, "web", {"spec": {"replicas": 3}})
    await async_eventually(lambda: alike(3), message="the change on both members")

    patch(pulled, "Deployment", sync_ns, "web", {"spec": {"replicas": 9}})
    await async_eventually(lambda: alike(3), message="the Pull member's drift corrected")

    delete(source, "Deployment", sync_ns, "web")

    def pruned() -> bool:
        return (
            read(pushed, "Deployment", sync_ns, "web") is None
            and read(pulled, "Deployment", sync_ns, "web") is None
        )

    await async_eventually(pruned, message="the deletion on both members")
    key = ObjectKey("apps", "Deployment", sync_ns, "web")
    await async_eventually(lambda: _absent_named(pull, name, key), message="the work removed")


async def _absent_named(world: PullWorld, policy: str, key: ObjectKey) -> bool:
    return await world.work(policy, key) is None


async def least_privilege(
    sync_world: SyncWorld, member: str, policy: SyncPolicy, tmp_path: Path
) -> tuple[Path, Path]:
    """Kubeconfigs of the agent's own accounts on the hub and on cluster-c, granted only
    what ``kubeops sync install --agent`` and ``kubeops sync rbac --agent`` grant."""
    hub, cluster = sync_world.hub, sync_world.cluster(MEMBER_CLUSTER)
    # The hub: what `kubeops sync install --agent <member>` writes, and its ServiceAccount's token.
    async with Client.from_kubeconfig(hub.kubeconfig) as admin:
        await install(admin, agent=member)
    account, namespace = agent_name(member), work_namespace(member)
    token = hub.admin.create(
        f"/api/v1/namespaces/{namespace}/serviceaccounts/{account}/token",
        {"spec": {"expirationSeconds": 3600}},
    )["status"]["token"]
    hub_kubeconfig = write_kubeconfig(
        tmp_path / "agent-hub.kubeconfig",
        kubeconfig(hub.name, hub.server, hub.pki.ca.cert_pem, account, {"token": token}),
    )
    # The member: the ClusterRole `kubeops sync rbac --agent` prints for the policy's kinds.
    role = member_cluster_role([policy], agent=True)
    member_kubeconfig = cluster.service_account_kubeconfig(
        f"agent-{member}", role["rules"], "default", cluster_wide=True
    )
    return hub_kubeconfig, member_kubeconfig


async def test_the_agent_works_with_the_least_privilege_its_manifests_grant(
    sync_world: SyncWorld, register_member: RegisterMember, sync_ns: str, tmp_path: Path
) -> None:
    member = register_member(sync_world.cluster(MEMBER_CLUSTER), mode="Pull")
    policy = policy_for(member, resources=(ResourceSelector("apps", "Deployment"),))
    hub_kubeconfig, member_kubeconfig = await least_privilege(sync_world, member, policy, tmp_path)

    async with running_agent(sync_world, member, hub_kubeconfig, member_kubeconfig) as pull:
        source = deployment("web", sync_ns, replicas=2)
        key = ObjectKey.of(source)
        desired = desired_of(source, policy, member)
        await pull.target.reconcile(policy, key, desired)
        await async_eventually(lambda: _in_sync(pull, policy, key, desired), message="InSync")
        await async_eventually(
            lambda: pull.agent.heartbeats > 0, message="a heartbeat the hub took"
        )
        assert await pull.target.probe()

        await pull.cluster.patch("Deployment.apps", "web", {"spec": {"replicas": 5}}, sync_ns)

        async def corrected() -> bool:
            actual = await pull.actual(key)
            return actual is not None and actual["spec"]["replicas"] == 2

        await async_eventually(corrected, message="drift corrected as the agent's account")

        await pull.target.reconcile(policy, key, None)

        async def gone() -> bool:
            return await pull.work(policy.name, key) is None and await pull.actual(key) is None

        await async_eventually(gone, message="pruned and the finalizer removed")


async def test_a_kind_the_agent_may_not_list_is_reported_and_stalls_no_other(
    sync_world: SyncWorld, register_member: RegisterMember, sync_ns: str, tmp_path: Path
) -> None:
    member = register_member(sync_world.cluster(MEMBER_CLUSTER), mode="Pull")
    policy = policy_for(member, resources=(ResourceSelector("apps", "Deployment"),))
    hub_kubeconfig, member_kubeconfig = await least_privilege(sync_world, member, policy, tmp_path)
    async with running_agent(sync_world, member, hub_kubeconfig, member_kubeconfig) as pull:
        # The member granted Deployments only: a ConfigMap's work cannot be carried out.
        configmap = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": sync_ns},
            "data": {"a": "1"},
        }
        refused = ObjectKey.of(configmap)
        await pull.target.reconcile(policy, refused, desired_of(configmap, policy, member))

        async def failed() -> dict[str, Any]:
            status = await pull.status(policy.name, refused)
            return status if status.get("state") == "Failed" else {}

        status = await async_eventually(failed, message="the ConfigMap's work reported Failed")
        assert "ConfigMap cannot be listed" in status["message"]
        assert "Forbidden" in status["message"] or "forbidden" in status["message"]

        source = deployment("web", sync_ns)
        key = ObjectKey.of(source)
        desired = desired_of(source, policy, member)
        await pull.target.reconcile(policy, key, desired)
        await async_eventually(
            lambda: _in_sync(pull, policy, key, desired), message="the Deployment still synced"
        )
