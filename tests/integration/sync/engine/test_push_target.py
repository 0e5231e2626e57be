"""PushTarget and ClusterSink against a real member: every action, conflicts, a missing
namespace, changes by others reported, and an unreachable member raising TargetDown."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kubeops.api import Client
from kubeops.errors import NotFound
from kubeops.sync.desired import desired_object
from kubeops.sync.executor import CREATED_BY_LABEL
from kubeops.sync.model import Conflict, Deletion, Drift, ResourceSelector, SyncPolicy
from kubeops.sync.operation import Action, Operation, State
from kubeops.sync.ownership import HASH_ANNOTATION, POLICY_LABEL, ObjectKey
from kubeops.sync.push import PushTarget
from kubeops.sync.target import TargetDown
from kubeops.testenv import Environment, async_eventually

TARGET = "cluster-b"


def _policy(name: str, **options: Any) -> SyncPolicy:
    return SyncPolicy(
        name=name,
        source_cluster="cluster-a",
        target_clusters=(TARGET,),
        resources=(ResourceSelector("", "ConfigMap"),),
        **options,
    )


def _source(name: str, namespace: str, data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "uid": "x", "resourceVersion": "7"},
        "data": data,
    }


@pytest.fixture
async def member(sync_env: Environment) -> AsyncIterator[Client]:
    async with Client.from_kubeconfig(sync_env.cluster(TARGET).kubeconfig) as client:
        yield client


@pytest.fixture
async def target(member: Client) -> AsyncIterator[tuple[PushTarget, list[tuple[str, ObjectKey]]]]:
    changes: list[tuple[str, ObjectKey]] = []
    pushed = PushTarget(TARGET, Client(member.config))
    await pushed.start(lambda policy, key: changes.append((policy, key)))
    await pushed.watch_kind("", "ConfigMap")
    await async_eventually(pushed.synced, timeout=30, message="the target store synced")
    yield pushed, changes
    await pushed.stop()


async def _reconcile(
    pushed: PushTarget, policy: SyncPolicy, source: dict[str, Any] | None, key: ObjectKey
) -> Operation:
    desired = desired_object(source, policy, TARGET, {}, "cluster-a") if source else None
    return await pushed.reconcile(policy, key, desired)


async def test_create_update_drift_delete(member: Client, target: Any) -> None:
    pushed, changes = target
    namespace = f"push-{uuid.uuid4().hex[:6]}"  # not on the target yet: created there
    policy = _policy(f"p-{uuid.uuid4().hex[:6]}")
    source = _source("web", namespace, {"a": "1", "gone": "1"})
    key = ObjectKey("", "ConfigMap", namespace, "web")

    op = await _reconcile(pushed, policy, source, key)
    assert op.action is Action.CREATE
    ns = await member.get("namespaces", namespace)
    assert ns["metadata"]["labels"][CREATED_BY_LABEL] == "kubeops-sync"
    made = await member.get("configmaps", "web", namespace)
    assert made["data"] == {"a": "1", "gone": "1"}
    assert made["metadata"]["labels"][POLICY_LABEL] == policy.name

    await async_eventually(lambda: pushed.store.get(key) is not None, timeout=10)
    op = await _reconcile(pushed, policy, source, key)
    assert (op.action, op.state) == (Action.NONE, State.IN_SYNC)

    source["data"] = {"a": "2"}  # a key the create (a POST) set is dropped by the source
    op = await _reconcile(pushed, policy, source, key)
    assert (op.action, op.reason) == (Action.APPLY, "source changed")
    applied = await member.get("configmaps", "web", namespace)
    assert applied["data"] == {"a": "2"}
    managers = [(e["manager"], e["operation"]) for e in applied["metadata"]["managedFields"]]
    assert managers == [("kubeops-sync", "Apply")]
    assert not changes, "the echoes of the sync's own writes are not changes"

    await member.patch("configmaps", "web", {"data": {"a": "by hand"}}, namespace)
    await async_eventually(lambda: (policy.name, key) in changes, timeout=10)
    await async_eventually(
        lambda: (pushed.store.get(key) or {}).get("data") == {"a": "by hand"}, timeout=10
    )
    op = await _reconcile(pushed, policy, source, key)
    assert op.action is Action.APPLY
    assert op.reason.startswith("drifted: data.a")
    assert (await member.get("configmaps", "web", namespace))["data"] == {"a": "2"}

    op = await _reconcile(pushed, policy, None, key)
    assert op.action is Action.DELETE
    with pytest.raises(NotFound):
        await member.get("configmaps", "web", namespace)
    await member.delete("namespaces", namespace)


async def test_conflicts_abort_adopt_overwrite_and_orphan(member: Client, target: Any) -> None:
    pushed, _ = target
    namespace = f"push-{uuid.uuid4().hex[:6]}"
    await member.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    foreign = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "app", "namespace": namespace},
        "data": {"theirs": "1"},
    }
    await member.create(foreign)
    key = ObjectKey("", "ConfigMap", namespace, "app")
    source = _source("app", namespace, {"ours": "1"})

    abort = _policy(f"p-{uuid.uuid4().hex[:6]}")
    op = await _reconcile(pushed, abort, source, key)
    assert (op.action, op.state, op.reason) == (
        Action.NONE,
        State.CONFLICT,
        "not created by the sync",
    )
    assert (await member.get("configmaps", "app", namespace))["data"] == {"theirs": "1"}

    adopt = _policy(abort.name, conflict=Conflict.ADOPT, drift=Drift.REPORT)
    op = await _reconcile(pushed, adopt, source, key)
    assert op.action is Action.APPLY
    assert op.reason.startswith("adopt")
    adopted = await member.get("configmaps", "app", namespace)
    assert adopted["data"] == {"theirs": "1", "ours": "1"}  # foreign fields stay
    assert adopted["metadata"]["labels"][POLICY_LABEL] == abort.name

    other = f"p-{uuid.uuid4().hex[:6]}"
    overwrite = _policy(other, conflict=Conflict.OVERWRITE, deletion=Deletion.ORPHAN)
    await async_eventually(lambda: pushed.store.get(key) is not None, timeout=10)
    op = await _reconcile(pushed, overwrite, source, key)
    assert op.action is Action.REPLACE
    assert op.reason == f"overwrite (owned by policy {abort.name})"
    replaced = await member.get("configmaps", "app", namespace)
    assert replaced["data"] == {"ours": "1"}  # a replace removes foreign fields
    assert replaced["metadata"]["labels"][POLICY_LABEL] == other

    await async_eventually(
        lambda: (
            (pushed.store.get(key) or {}).get("metadata", {}).get("labels", {}).get(POLICY_LABEL)
            == other
        ),
        timeout=10,
    )
    op = await _reconcile(pushed, overwrite, None, key)
    assert op.action is Action.ORPHAN
    left = await member.get("configmaps", "app", namespace)
    assert POLICY_LABEL not in (left["metadata"].get("labels") or {})
    assert HASH_ANNOTATION not in (left["metadata"].get("annotations") or {})
    assert left["data"] == {"ours": "1"}
    await member.delete("namespaces", namespace)


async def test_unreachable_member_raises_target_down(sync_env: Environment, target: Any) -> None:
    pushed, _ = target
    cluster = sync_env.cluster(TARGET)
    namespace = f"push-{uuid.uuid4().hex[:6]}"
    policy = _policy(f"p-{uuid.uuid4().hex[:6]}")
    key = ObjectKey("", "ConfigMap", namespace, "down")
    assert await pushed.probe()
    cluster.stop_apiserver()
    try:
        with pytest.raises(TargetDown):
            await _reconcile(pushed, policy, _source("down", namespace, {"a": "1"}), key)
        for _ in range(8):  # more failures than a circuit breaker tolerates
            assert not await pushed.probe()
    finally:
        cluster.start_apiserver()
    # The probe is never held back by a breaker's cooldown (10 s): it sees the member at once.
    await async_eventually(pushed.probe, timeout=5, message="the member answers again")
    op = await _reconcile(pushed, policy, _source("down", namespace, {"a": "1"}), key)
    assert op.action is Action.CREATE
    await pushed.client.delete("namespaces", namespace)


async def test_an_update_writes_once_until_the_source_drops_a_field(
    sync_env: Environment, member: Client, target: Any
) -> None:
    pushed, _ = target
    namespace = f"push-{uuid.uuid4().hex[:6]}"
    policy = SyncPolicy(
        name=f"p-{uuid.uuid4().hex[:6]}",
        source_cluster="cluster-a",
        target_clusters=(TARGET,),
        resources=(ResourceSelector("apps", "Deployment"),),
    )
    await pushed.watch_kind("apps", "Deployment")
    await async_eventually(pushed.synced, timeout=30)
    deployment: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": namespace, "labels": {"a": "1", "b": "1"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]},
            },
        },
    }
    key = ObjectKey("apps", "Deployment", namespace, "web")
    # The source as its server holds it: defaulted, so the create's fields are all desired.
    async with Client.from_kubeconfig(sync_env.cluster("cluster-a").kubeconfig) as origin:
        await origin.create(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
        )
        source = await origin.create(deployment)
        assert (await _reconcile(pushed, policy, source, key)).action is Action.CREATE
        await async_eventually(lambda: pushed.store.get(key) is not None, timeout=10)
        source = await origin.patch("deployments.apps", "web", {"spec": {"replicas": 3}}, namespace)
        assert (await _reconcile(pushed, policy, source, key)).action is Action.APPLY
        after = await member.get("deployments.apps", "web", namespace)
        assert after["spec"]["replicas"] == 3
        managers = sorted(
            (e["manager"], e["operation"]) for e in after["metadata"]["managedFields"]
        )
        # Nothing dropped: one apply, the create's entry left as it is.
        assert managers == [("kubeops-sync", "Apply"), ("kubeops-sync", "Update")]

        await async_eventually(
            lambda: (pushed.store.get(key) or {}).get("spec", {}).get("replicas") == 3, timeout=10
        )
        # Dropped: the create's ownership is folded into the apply's, and b goes.
        source = await origin.patch(
            "deployments.apps", "web", {"metadata": {"labels": {"b": None}}}, namespace
        )
        assert (await _reconcile(pushed, policy, source, key)).action is Action.APPLY
        dropped = await member.get("deployments.apps", "web", namespace)
        assert "b" not in dropped["metadata"]["labels"]
        assert dropped["metadata"]["labels"]["a"] == "1"
        assert dropped["spec"]["replicas"] == 3
        assert dropped["spec"]["progressDeadlineSeconds"] == 600  # defaults stay
        await origin.delete("namespaces", namespace)
    await member.delete("namespaces", namespace)
