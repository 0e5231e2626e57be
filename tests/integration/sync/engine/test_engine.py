"""The push controller's own guarantees on real clusters: a down target is paused and
caught up while the other keeps syncing; an absence is confirmed on the source before
anything is pruned; paused and deleted policies write nothing; status, member health
and metrics are kept current."""

from __future__ import annotations

import time
from typing import Any

from integration.sync.conftest import (
    MEMBER_PATH,
    TARGETS,
    MakePolicy,
    StartController,
    SyncWorld,
    configmap,
    create,
    delete,
    names,
    patch,
    read,
    target_status,
)
from kubeops.sync.ownership import (
    HASH_ANNOTATION,
    POLICY_LABEL,
    SOURCE_ANNOTATION,
)
from kubeops.testenv import eventually

SELECTED = {"sync": "engine"}


def configmaps(namespace: str) -> list[dict[str, Any]]:
    """The policy's resources: ConfigMaps of ``namespace`` labelled ``sync=engine``."""
    return [{"kind": "ConfigMap", "namespaces": [namespace], "matchLabels": SELECTED}]


def data(world: SyncWorld, target: str, namespace: str, name: str) -> dict[str, str] | None:
    found = read(world.targets[target], "ConfigMap", namespace, name)
    return None if found is None else dict(found.get("data") or {})


def test_a_down_target_is_paused_then_caught_up_and_the_other_never_waits(
    sync_world: SyncWorld, sync_ns: str, make_policy: MakePolicy, start_controller: StartController
) -> None:
    source = sync_world.source
    for i in range(20):
        create(source, configmap(f"cm-{i}", sync_ns, {"v": "0"}, labels=SELECTED))
    policy = make_policy(targetClusters=list(TARGETS), resources=configmaps(sync_ns))
    controller = start_controller()
    for target in TARGETS:
        cluster = sync_world.targets[target]
        eventually(
            lambda c=cluster: len(names(c, "ConfigMap", sync_ns)) == 20,  # type: ignore[misc]
            timeout=60,
            message=f"20 ConfigMaps on {target}",
        )
    down, other = sync_world.targets["cluster-b"], "cluster-c"
    down.stop_apiserver()
    try:
        for i in range(20):
            patch(source, "ConfigMap", sync_ns, f"cm-{i}", {"data": {"v": "1"}})
        create(source, configmap("late", sync_ns, {"v": "1"}, labels=SELECTED))
        eventually(
            lambda: (
                all(data(sync_world, other, sync_ns, f"cm-{i}") == {"v": "1"} for i in range(20))
                and data(sync_world, other, sync_ns, "late") == {"v": "1"}
            ),
            timeout=30,
            message=f"{other} synced while cluster-b is down",
        )
        eventually(
            lambda: controller.metric("kubeops_sync_target_up", target="cluster-b") == 0,
            timeout=30,
            message="cluster-b reported down",
        )
        assert controller.metric("kubeops_sync_target_up", target=other) == 1
        eventually(
            lambda: target_status(sync_world.hub, policy, "cluster-b").get("lastError"),
            timeout=15,
            message="cluster-b's outage in the policy status",
        )
        writes_to_b = len([r for r in controller.writes(policy) if r.target == "cluster-b"])
    finally:
        down.start_apiserver()
    back = time.monotonic()
    eventually(
        lambda: (
            all(data(sync_world, "cluster-b", sync_ns, f"cm-{i}") == {"v": "1"} for i in range(20))
            and data(sync_world, "cluster-b", sync_ns, "late") == {"v": "1"}
        ),
        timeout=30,
        message="cluster-b caught up",
    )
    caught_up = time.monotonic() - back
    assert caught_up < 15, f"caught up in {caught_up:.1f}s"
    caught = [r for r in controller.writes(policy) if r.target == "cluster-b"][writes_to_b:]
    # The catch-up writes what changed: 20 updates and one create, not a resync of everything.
    assert sorted({r.action for r in caught}) == ["apply", "create"], caught
    assert len(caught) <= 21 + 2, [str(r.operation.key) for r in caught]
    eventually(
        lambda: controller.metric("kubeops_sync_target_up", target="cluster-b") == 1,
        timeout=10,
    )
    eventually(
        lambda: target_status(sync_world.hub, policy, "cluster-b").get("inSync") == 21,
        timeout=15,
        message="cluster-b counted in sync",
    )


def test_an_absence_is_confirmed_on_the_source_before_anything_is_pruned(
    sync_world: SyncWorld, sync_ns: str, make_policy: MakePolicy, start_controller: StartController
) -> None:
    source, target = sync_world.source, sync_world.targets["cluster-b"]
    create(source, configmap("kept", sync_ns, {"v": "0"}, labels=SELECTED))
    create(source, configmap("leaves", sync_ns, {"v": "0"}, labels=SELECTED))
    policy = make_policy(targetClusters=["cluster-b"], resources=configmaps(sync_ns))
    controller = start_controller()
    eventually(
        lambda: names(target, "ConfigMap", sync_ns) == {"kept", "leaves"},
        message="both on the target",
    )
    # A source object leaving the selector is pruned (its GET answers, but it is not selected).
    patch(source, "ConfigMap", sync_ns, "leaves", {"metadata": {"labels": {"sync": "other"}}})
    eventually(lambda: names(target, "ConfigMap", sync_ns) == {"kept"}, message="pruned")

    # An object the policy owns on the target, whose source never existed: an orphan.
    orphan = configmap("orphan", sync_ns, {"v": "0"}, labels={POLICY_LABEL: policy})
    orphan["metadata"]["annotations"] = {
        SOURCE_ANNOTATION: f"cluster-a/{sync_ns}/orphan",
        HASH_ANNOTATION: "0",
    }
    source.stop_apiserver()
    try:
        create(target, orphan)
        eventually(
            lambda: "cluster-a" in controller.controller.snapshot()[policy]["sourceError"],
            timeout=30,
            message="the source's outage seen",
        )
        # The orphan is queued by its target event, but its absence cannot be confirmed.
        eventually(
            lambda: (
                "cannot confirm"
                in target_status(sync_world.hub, policy, "cluster-b").get("lastError", "")
            ),
            timeout=30,
            message="the unconfirmed absence in the status",
        )
        assert read(target, "ConfigMap", sync_ns, "orphan") is not None
        assert read(target, "ConfigMap", sync_ns, "kept") is not None
    finally:
        source.start_apiserver()
    eventually(
        lambda: names(target, "ConfigMap", sync_ns) == {"kept"},
        timeout=60,
        message="the orphan pruned once the source confirmed it has none",
    )
    deletes = [r for r in controller.writes(policy) if r.action == "delete"]
    assert sorted(r.operation.key.name for r in deletes) == ["leaves", "orphan"]


def test_paused_and_deleted_policies_write_nothing(
    sync_world: SyncWorld, sync_ns: str, make_policy: MakePolicy, start_controller: StartController
) -> None:
    source, target = sync_world.source, sync_world.targets["cluster-c"]
    hub = sync_world.hub
    create(source, configmap("one", sync_ns, {"v": "0"}, labels=SELECTED))
    policy = make_policy(targetClusters=["cluster-c"], resources=configmaps(sync_ns))
    controller = start_controller()
    eventually(lambda: data(sync_world, "cluster-c", sync_ns, "one") == {"v": "0"})
    path = f"/apis/sync.kubeops.io/v1alpha1/clustersyncpolicies/{policy}"
    hub.admin.patch(path, {"spec": {"paused": True}})
    eventually(
        lambda: controller.controller.snapshot()[policy]["reason"] == "Paused",
        message="the pause seen",
    )
    before = len(controller.writes(policy))
    patch(source, "ConfigMap", sync_ns, "one", {"data": {"v": "paused"}})
    create(source, configmap("two", sync_ns, {"v": "0"}, labels=SELECTED))
    # Something that is synced meanwhile proves the controller is working through events.
    other = make_policy(targetClusters=["cluster-b"], resources=configmaps(sync_ns))
    eventually(lambda: data(sync_world, "cluster-b", sync_ns, "two") == {"v": "0"})
    assert data(sync_world, "cluster-c", sync_ns, "one") == {"v": "0"}
    assert read(target, "ConfigMap", sync_ns, "two") is None
    assert len(controller.writes(policy)) == before

    hub.admin.patch(path, {"spec": {"paused": False}})
    eventually(lambda: data(sync_world, "cluster-c", sync_ns, "two") == {"v": "0"})
    eventually(lambda: data(sync_world, "cluster-c", sync_ns, "one") == {"v": "paused"})

    # Deleted: its work stops, and what it synced stays.
    hub.admin.delete(path)
    eventually(lambda: policy not in controller.controller.snapshot(), message="policy dropped")
    count = len(controller.writes(policy))
    patch(source, "ConfigMap", sync_ns, "one", {"data": {"v": "after"}})
    eventually(
        lambda: data(sync_world, "cluster-b", sync_ns, "one") == {"v": "after"},
        message="the other policy still syncing",
    )
    assert data(sync_world, "cluster-c", sync_ns, "one") == {"v": "paused"}
    assert names(target, "ConfigMap", sync_ns) == {"one", "two"}
    assert len(controller.writes(policy)) == count
    assert other in controller.controller.snapshot()


def test_status_member_health_and_metrics(
    sync_world: SyncWorld, sync_ns: str, make_policy: MakePolicy, start_controller: StartController
) -> None:
    source, hub = sync_world.source, sync_world.hub
    for i in range(3):
        create(source, configmap(f"cm-{i}", sync_ns, {"v": "0"}, labels=SELECTED))
    policy = make_policy(targetClusters=list(TARGETS), resources=configmaps(sync_ns))
    controller = start_controller(member_status_interval=1.0)

    def ready() -> dict[str, Any]:
        status = hub.admin.get(f"/apis/sync.kubeops.io/v1alpha1/clustersyncpolicies/{policy}")
        found = {c["type"]: c for c in status.get("status", {}).get("conditions", [])}
        assert found.get("Ready", {}).get("status") == "True", status.get("status")
        body: dict[str, Any] = status["status"]
        return body

    status = eventually(ready, timeout=30, message="the policy Ready")
    assert status["observedGeneration"] == 1
    rows = {row["name"]: row for row in status["targets"]}
    assert set(rows) == set(TARGETS)
    for row in rows.values():
        assert (row["desired"], row["inSync"], row["failed"], row["mode"]) == (3, 3, 0, "Push")
        assert row["lastSyncTime"]
    for target in TARGETS:
        assert (
            controller.metric(
                "kubeops_sync_operations_total",
                policy=policy,
                target=target,
                action="create",
                result="success",
            )
            == 3
        )
        assert (
            controller.metric("kubeops_sync_objects", policy=policy, target=target, state="InSync")
            == 3
        )
        assert controller.metric("kubeops_sync_propagation_seconds_count", target=target) >= 3

    def member_ready(name: str) -> bool:
        member = hub.admin.get(f"{MEMBER_PATH}/{name}")
        conditions = {c["type"]: c for c in member.get("status", {}).get("conditions", [])}
        return conditions.get("Ready", {}).get("status") == "True" and bool(
            member["status"].get("kubernetesVersion")
        )

    for name in ("cluster-a", *TARGETS):
        eventually(lambda n=name: member_ready(n), timeout=30, message=f"{name} Ready")  # type: ignore[misc]

    delete(source, "ConfigMap", sync_ns, "cm-0")
    eventually(
        lambda: target_status(hub, policy, "cluster-b").get("desired") == 2,
        timeout=15,
        message="the pruned object no longer desired",
    )


def test_a_kind_dropped_from_the_policy_is_pruned_and_the_rest_stays(
    sync_world: SyncWorld, sync_ns: str, make_policy: MakePolicy, start_controller: StartController
) -> None:
    source, target, hub = sync_world.source, sync_world.targets["cluster-b"], sync_world.hub
    create(source, configmap("settings", sync_ns, {"v": "0"}, labels=SELECTED))
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "token", "namespace": sync_ns, "labels": SELECTED},
        "stringData": {"t": "1"},
    }
    create(source, secret)
    resources = [
        *configmaps(sync_ns),
        {"kind": "Secret", "namespaces": [sync_ns], "matchLabels": SELECTED},
    ]
    policy = make_policy(targetClusters=["cluster-b"], resources=resources)
    controller = start_controller()
    eventually(lambda: read(target, "Secret", sync_ns, "token") is not None, message="synced")
    eventually(lambda: read(target, "ConfigMap", sync_ns, "settings") is not None)
    path = f"/apis/sync.kubeops.io/v1alpha1/clustersyncpolicies/{policy}"
    hub.admin.patch(path, {"spec": {"resources": configmaps(sync_ns)}})
    eventually(
        lambda: read(target, "Secret", sync_ns, "token") is None,
        message="the Secret pruned once its kind left the policy",
    )
    assert read(target, "ConfigMap", sync_ns, "settings") is not None
    assert read(source, "Secret", sync_ns, "token") is not None
    deletes = [r.operation.key.kind for r in controller.writes(policy) if r.action == "delete"]
    assert deletes == ["Secret"]
