"""Faults: a target down for 20 s, the source's API server restarted and its etcd
compacted, and a list on the source that fails -- none of them loses or deletes anything."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from integration.sync.conftest import (
    SOURCE,
    TARGETS,
    MakePolicy,
    RegisterMember,
    StartController,
    SyncWorld,
    condition,
    configmap,
    create,
    delete,
    patch,
    policy_status,
    put_member,
    read,
    remove_member,
    target_status,
)
from kubeops.testenv import Cluster, eventually

OUTAGE = 20.0
"""Seconds a target's API server is down: longer than every clock the sync's handling of
a down target runs on -- the target client's circuit-breaker cooldown (10 s: its watch's
retry after it fails too), the watch's backoff cap (2 s), the probe (1 s) and the status
writer (2 s) -- with room for a stream of changes to the other target."""


def configmaps(namespace: str) -> list[dict[str, Any]]:
    return [{"apiGroup": "", "kind": "ConfigMap", "namespaces": [namespace]}]


def contents(cluster: Cluster, namespace: str) -> dict[str, dict[str, str]]:
    """Every ConfigMap's data in ``namespace`` (kube-root-ca.crt left out), by name."""
    items = cluster.admin.get(f"/api/v1/namespaces/{namespace}/configmaps")["items"]
    return {
        item["metadata"]["name"]: dict(item.get("data") or {})
        for item in items
        if item["metadata"]["name"] != "kube-root-ca.crt"
    }


def converged(world: SyncWorld, namespace: str, timeout: float = 60.0) -> float:
    """Wait until every target holds exactly the source's ConfigMaps; the seconds it took."""
    started = time.monotonic()
    expected = contents(world.source, namespace)
    for target in TARGETS:
        eventually(
            lambda t=target: contents(world.targets[t], namespace) == expected,
            timeout=timeout,
            message=f"{target} holding the source's {len(expected)} ConfigMaps",
        )
    return time.monotonic() - started


def one_change(
    source: Cluster, watched: Cluster, namespace: str, step: int
) -> tuple[str, Callable[[], bool]]:
    """Step ``step`` of a stream of changes on the source: a deletion, a creation or an
    update in turn; the object's name and the condition saying ``watched`` has it."""
    if step % 3 == 0 and step // 3 < 8:
        name = f"cm-{step // 3}"
        delete(source, "ConfigMap", namespace, name)
        return name, lambda: read(watched, "ConfigMap", namespace, name) is None
    if step % 3 == 1:
        name = f"new-{step}"
        create(source, configmap(name, namespace, {"v": str(step)}))
        return name, lambda: read(watched, "ConfigMap", namespace, name) is not None
    value = str(step)
    patch(source, "ConfigMap", namespace, "cm-9", {"data": {"v": value}})

    def updated() -> bool:
        found = read(watched, "ConfigMap", namespace, "cm-9") or {}
        return bool(found.get("data") == {"v": value})

    return "cm-9", updated


def test_a_target_down_is_caught_up_and_the_other_never_waits(
    sync_world: SyncWorld, sync_ns: str, make_policy: MakePolicy, start_controller: StartController
) -> None:
    source = sync_world.source
    down_name, up_name = TARGETS
    down, up = sync_world.targets[down_name], sync_world.targets[up_name]
    for i in range(10):
        create(source, configmap(f"cm-{i}", sync_ns, {"v": "0"}))
    policy = make_policy(targetClusters=list(TARGETS), resources=configmaps(sync_ns))
    controller = start_controller()
    converged(sync_world, sync_ns)
    assert controller.metric("kubeops_sync_target_up", target=down_name) == 1

    latencies: list[float] = []
    changed: set[str] = set()
    reported: dict[str, Any] = {}
    down.stop_apiserver()
    try:
        stopped = time.monotonic()
        step = 0
        while time.monotonic() - stopped < OUTAGE:
            step += 1
            started = time.monotonic()
            name, done = one_change(source, up, sync_ns, step)
            changed.add(name)
            eventually(done, timeout=15, message=f"change {step} ({name}) on {up_name}")
            latencies.append(time.monotonic() - started)
            if not reported:
                entry = target_status(sync_world.hub, policy, down_name)
                if entry.get("lastError") or entry.get("pending"):
                    reported = entry
        marked_down = controller.metric("kubeops_sync_target_up", target=down_name)
    finally:
        down.start_apiserver()
    returned = time.monotonic()
    catch_up = converged(sync_world, sync_ns)
    latencies.sort()
    print(
        f"\noutage {OUTAGE:.0f}s: {len(latencies)} changes reached {up_name}, "
        f"median {latencies[len(latencies) // 2]:.3f}s, max {latencies[-1]:.3f}s; "
        f"{down_name} caught up {catch_up:.2f}s after its API server returned "
        f"({time.monotonic() - returned:.2f}s)"
    )
    assert len(latencies) >= OUTAGE / 2, latencies  # a change every 2 s at least
    assert latencies[-1] < 5.0, latencies
    assert catch_up < 30.0
    assert reported, "the policy's status never said the target was down"
    # Caught up from the state store: each changed key written once, nothing else.
    writes = [r for r in controller.writes(policy) if r.target == down_name and r.at >= stopped]
    caught_up = [r.operation.key.name for r in writes]
    assert set(caught_up) == changed, set(caught_up) ^ changed
    twice = [
        (r.operation.key.name, r.action, r.operation.reason, round(r.at - returned, 2))
        for r in writes
        if caught_up.count(r.operation.key.name) > 1
    ]
    # No full resync: nothing unchanged is written, and each changed key once.
    print(f"catch-up writes on {down_name}: {len(writes)} for {len(changed)} keys")
    assert not twice, twice
    assert marked_down == 0
    eventually(lambda: controller.metric("kubeops_sync_target_up", target=down_name) == 1)
    assert controller.metric("kubeops_sync_propagation_seconds_count", target=up_name) >= len(
        latencies
    )


def test_the_source_restarted_and_compacted_mid_sync_loses_nothing(
    sync_world: SyncWorld, sync_ns: str, make_policy: MakePolicy, start_controller: StartController
) -> None:
    source = sync_world.source
    for i in range(150):
        create(source, configmap(f"cm-{i}", sync_ns, {"v": "0"}))
    make_policy(targetClusters=list(TARGETS), resources=configmaps(sync_ns))
    start_controller()
    # While the first 300 writes are under way: changes, then the source restarts.
    eventually(
        lambda: contents(sync_world.targets[TARGETS[-1]], sync_ns),
        message="the first copies arriving",
    )
    for i in range(5):
        patch(source, "ConfigMap", sync_ns, f"cm-{i}", {"data": {"v": "1"}})
    in_flight = len(contents(sync_world.targets[TARGETS[-1]], sync_ns))
    source.restart_apiserver()
    for i in range(150, 160):
        create(source, configmap(f"cm-{i}", sync_ns, {"v": "0"}))
    for i in range(5, 10):
        delete(source, "ConfigMap", sync_ns, f"cm-{i}")
    for i in range(20, 120):
        patch(source, "ConfigMap", sync_ns, f"cm-{i}", {"data": {"v": "3"}})
    revision = sync_world.env.compact()  # every API server restarts; old versions are gone
    assert revision > 0
    for i in range(160, 170):
        create(source, configmap(f"cm-{i}", sync_ns, {"v": "0"}))
    for i in range(10, 15):
        patch(source, "ConfigMap", sync_ns, f"cm-{i}", {"data": {"v": "2"}})
    for i in range(15, 18):
        delete(source, "ConfigMap", sync_ns, f"cm-{i}")

    converged(sync_world, sync_ns)
    final = contents(source, sync_ns)
    print(f"\n{in_flight} of 150 ConfigMaps on {TARGETS[-1]} when the source restarted")
    assert len(final) == 170 - 5 - 3
    for target in TARGETS:
        held = contents(sync_world.targets[target], sync_ns)
        assert held == final
        assert all(held[f"cm-{i}"] == {"v": "1"} for i in range(5))
        assert all(held[f"cm-{i}"] == {"v": "2"} for i in range(10, 15))
        assert all(held[f"cm-{i}"] == {"v": "3"} for i in range(20, 120))


def test_a_failed_list_on_the_source_deletes_nothing_on_the_targets(
    sync_world: SyncWorld,
    sync_ns: str,
    make_policy: MakePolicy,
    register_member: RegisterMember,
    start_controller: StartController,
) -> None:
    source = sync_world.source
    reader = f"reader-{uuid.uuid4().hex[:6]}"
    rules = [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}]
    kubeconfig = source.service_account_kubeconfig(reader, rules, cluster_wide=True)
    member = register_member(source, kubeconfig)
    for i in range(5):
        create(source, configmap(f"cm-{i}", sync_ns, {"v": "0"}))
    policy = make_policy(
        sourceCluster=member, targetClusters=list(TARGETS), resources=configmaps(sync_ns)
    )
    controller = start_controller()
    converged(sync_world, sync_ns)
    everything = set(contents(source, sync_ns))

    # Revoke the controller's list on the source; a restarted API server ends its watches,
    # so it lists again -- and is refused.
    binding = f"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/kubeops-testenv:{reader}"
    saved = source.admin.get(binding)
    source.admin.delete(binding)
    source.restart_apiserver()
    eventually(
        lambda: "forbidden" in str(policy_status(sync_world.hub, policy)).lower(),
        timeout=60,
        message="the policy's status reporting the refused list",
    )
    for target in TARGETS:
        assert set(contents(sync_world.targets[target], sync_ns)) == everything
    blind = time.monotonic()

    # Given back: the controller lists again, and a real deletion is pruned.
    body = {k: saved[k] for k in ("apiVersion", "kind", "roleRef", "subjects")}
    body["metadata"] = {"name": saved["metadata"]["name"]}
    source.admin.create("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", body)
    delete(source, "ConfigMap", sync_ns, "cm-0")
    for target in TARGETS:
        eventually(
            lambda t=target: set(contents(sync_world.targets[t], sync_ns)) == everything - {"cm-0"},
            timeout=60,
            message=f"cm-0 pruned on {target}, the others kept",
        )
    deletions = [r for r in controller.writes(policy) if r.action == "delete"]
    assert deletions, "the controller recorded no deletion"
    assert all(r.at > blind for r in deletions)
    assert {str(r.operation.key.name) for r in deletions} == {"cm-0"}


def test_the_source_api_server_stopped_deletes_nothing(
    sync_world: SyncWorld, sync_ns: str, make_policy: MakePolicy, start_controller: StartController
) -> None:
    source = sync_world.source
    for i in range(5):
        create(source, configmap(f"cm-{i}", sync_ns, {"v": "0"}))
    policy = make_policy(targetClusters=list(TARGETS), resources=configmaps(sync_ns))
    controller = start_controller()
    converged(sync_world, sync_ns)
    everything = set(contents(source, sync_ns))
    source.stop_apiserver()
    stopped = time.monotonic()
    try:
        eventually(
            lambda: condition_false(sync_world, policy),
            timeout=60,
            message="the policy's status reporting the unreachable source",
        )
        for target in TARGETS:
            assert set(contents(sync_world.targets[target], sync_ns)) == everything
        noticed = time.monotonic() - stopped
    finally:
        source.start_apiserver()
    back = time.monotonic()
    delete(source, "ConfigMap", sync_ns, "cm-4")
    for target in TARGETS:
        eventually(
            lambda t=target: set(contents(sync_world.targets[t], sync_ns)) == everything - {"cm-4"},
            timeout=60,
            message=f"cm-4 pruned on {target} once the source is back",
        )
    print(
        f"\nsource down: reported in {noticed:.1f}s; a deletion pruned "
        f"{time.monotonic() - back:.1f}s after it returned"
    )
    assert {r.operation.key.name for r in controller.writes(policy) if r.action == "delete"} == {
        "cm-4"
    }


def condition_false(world: SyncWorld, policy: str) -> bool:
    """Whether the policy's Ready condition is False naming the source."""
    ready = condition(world.hub, policy, "Ready")
    return ready.get("status") == "False" and SOURCE in str(ready.get("message", ""))


def test_the_source_member_removed_from_the_hub_deletes_nothing(
    sync_world: SyncWorld,
    sync_ns: str,
    make_policy: MakePolicy,
    register_member: RegisterMember,
    start_controller: StartController,
) -> None:
    source = sync_world.source
    member = register_member(source)
    for i in range(3):
        create(source, configmap(f"cm-{i}", sync_ns, {"v": "0"}))
    policy = make_policy(
        sourceCluster=member, targetClusters=list(TARGETS), resources=configmaps(sync_ns)
    )
    controller = start_controller()
    converged(sync_world, sync_ns)
    everything = set(contents(source, sync_ns))
    remove_member(sync_world.hub, member)
    eventually(
        lambda: condition(sync_world.hub, policy, "Valid").get("status") == "False",
        message="the policy invalid without its source",
    )
    for target in TARGETS:
        assert set(contents(sync_world.targets[target], sync_ns)) == everything
    assert not [r for r in controller.writes(policy) if r.action == "delete"]
    put_member(sync_world.hub, member, source.kubeconfig)
    delete(source, "ConfigMap", sync_ns, "cm-0")
    for target in TARGETS:
        eventually(
            lambda t=target: set(contents(sync_world.targets[t], sync_ns)) == everything - {"cm-0"},
            timeout=60,
            message=f"cm-0 pruned on {target} once the source is a member again",
        )


def test_the_hub_down_for_a_while_changes_nothing_and_loses_nothing(
    sync_world: SyncWorld, sync_ns: str, make_policy: MakePolicy, start_controller: StartController
) -> None:
    source, hub = sync_world.source, sync_world.hub
    for i in range(5):
        create(source, configmap(f"cm-{i}", sync_ns, {"v": "0"}))
    policy = make_policy(targetClusters=list(TARGETS), resources=configmaps(sync_ns))
    controller = start_controller()
    converged(sync_world, sync_ns)
    hub.stop_apiserver()
    try:
        patch(source, "ConfigMap", sync_ns, "cm-0", {"data": {"v": "1"}})
        create(source, configmap("cm-5", sync_ns, {"v": "0"}))
        delete(source, "ConfigMap", sync_ns, "cm-1")
        # The policy and members are cached: syncing goes on without the hub.
        converged(sync_world, sync_ns)
        assert controller.alive
    finally:
        hub.start_apiserver()
    create(source, configmap("cm-6", sync_ns, {"v": "0"}))
    converged(sync_world, sync_ns)
    controller.check()
    eventually(
        lambda: target_status(hub, policy, TARGETS[0]).get("inSync") == 6,
        timeout=30,
        message="the status written again once the hub is back",
    )


def test_a_rate_limited_target_is_slow_alone(
    sync_world: SyncWorld,
    sync_ns: str,
    make_policy: MakePolicy,
    register_member: RegisterMember,
    start_controller: StartController,
) -> None:
    fast_name = TARGETS[0]
    fast, slow_cluster = sync_world.targets[fast_name], sync_world.targets[TARGETS[1]]
    slow = register_member(slow_cluster, rate_limit={"qps": 5, "burst": 1})
    count = 40
    for i in range(count):
        create(sync_world.source, configmap(f"cm-{i}", sync_ns, {"v": "0"}))
    make_policy(targetClusters=[fast_name, slow], resources=configmaps(sync_ns))
    started = time.monotonic()
    start_controller()

    def all_on(cluster: Cluster) -> bool:
        return len(contents(cluster, sync_ns)) == count

    eventually(lambda: all_on(fast), timeout=30, message=f"{count} on {fast_name}")
    fast_took = time.monotonic() - started
    eventually(lambda: all_on(slow_cluster), timeout=60, message=f"{count} on the slow member")
    slow_took = time.monotonic() - started
    print(
        f"\n{count} objects: {fast_name} in {fast_took:.1f}s, the member at 5 qps in {slow_took:.1f}s"
    )
    assert slow_took >= count / 5 * 0.7, slow_took  # its own limit held
    assert fast_took < slow_took / 2, (fast_took, slow_took)  # and held only it back
