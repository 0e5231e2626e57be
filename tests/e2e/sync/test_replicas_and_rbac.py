"""Two ``kubeops sync run`` replicas never both apply, and the controller and the agent
work with only the RBAC their own manifests grant."""

from __future__ import annotations

import datetime
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from integration.sync.conftest import (
    POLICIES,
    TARGETS,
    MakePolicy,
    RegisterMember,
    SpawnSync,
    SyncProcess,
    SyncWorld,
    apply_objects,
    configmap,
    create,
    delete,
    patch,
    policy_object,
    read,
    target_status,
    token_kubeconfig,
)
from kubeops.sync import install, rbac
from kubeops.sync.model import SYSTEM_NAMESPACE, policy_from_object, work_namespace
from kubeops.testenv import eventually
from kubeops.testenv.ports import free_port

LEASES = f"/apis/coordination.k8s.io/v1/namespaces/{SYSTEM_NAMESPACE}/leases"


def seconds(moment: str) -> float:
    """A log record's ``time`` (ISO 8601, milliseconds) as a Unix time."""
    return datetime.datetime.fromisoformat(moment).timestamp()


def configmaps(namespace: str) -> list[dict[str, Any]]:
    return [{"apiGroup": "", "kind": "ConfigMap", "namespaces": [namespace]}]


def replica(spawn_sync: SpawnSync, kubeconfig: Path, identity: str, lease: str) -> SyncProcess:
    return spawn_sync(
        "run",
        "--kubeconfig", str(kubeconfig),
        "--listen", f"127.0.0.1:{free_port()}",
        "--identity", identity,
        "--lease-name", lease,
        "--lease-duration", "4s",
        "--log-format", "json",
    )  # fmt: skip


def test_two_controller_replicas_never_both_apply(
    sync_world: SyncWorld, sync_ns: str, make_policy: MakePolicy, spawn_sync: SpawnSync
) -> None:
    source, hub = sync_world.source, sync_world.hub
    lease = f"sync-e2e-{uuid.uuid4().hex[:6]}"
    policy = make_policy(targetClusters=list(TARGETS), resources=configmaps(sync_ns))
    replicas = {name: replica(spawn_sync, hub.kubeconfig, name, lease) for name in ("one", "two")}

    def holder() -> str:
        found: str = hub.admin.get(f"{LEASES}/{lease}")["spec"]["holderIdentity"]
        assert found in replicas, found
        return found

    first = eventually(holder, timeout=60, message="a replica leading")
    created: list[str] = []

    def change(i: int, wait: bool = True) -> None:
        name = f"cm-{i}"
        create(source, configmap(name, sync_ns, {"v": "0"}))
        created.append(name)
        if i % 4 == 3:  # and an update of an earlier one, mid-stream
            patch(source, "ConfigMap", sync_ns, f"cm-{i - 3}", {"data": {"v": "1"}})
        last = TARGETS[-1]
        if not wait:
            return
        eventually(
            lambda: read(sync_world.targets[last], "ConfigMap", sync_ns, name) is not None,
            timeout=60,
            message=f"{name} on {last}",
        )

    for i in range(12):
        change(i)
    for i in range(12, 40):  # a burst, and the leader dies in the middle of it
        change(i, wait=False)
        if i == 24:
            killed_at = time.time()
            replicas[first].kill()  # SIGKILL: nothing runs on the way out
    for i in range(40, 48):
        change(i)  # the first waits out the lease, then the other takes over
    second = next(name for name in replicas if name != first)
    assert holder() == second

    expected = {
        name: {"v": "1" if int(name[3:]) % 4 == 0 and int(name[3:]) < 45 else "0"}
        for name in created
    }
    for target in TARGETS:
        eventually(
            lambda t=target: (
                {
                    n: (read(sync_world.targets[t], "ConfigMap", sync_ns, n) or {}).get("data")
                    for n in created
                }
                == expected
            ),
            timeout=60,
            message=f"{target} holding every change",
        )

    writes = sorted(
        (
            r
            for process in replicas.values()
            for r in process.records()
            if r.get("event") == "operation" and r.get("policy") == policy and "error" not in r
        ),
        key=lambda r: seconds(r["time"]),
    )
    identities = [r["identity"] for r in writes]
    assert set(identities) == {first, second}, identities
    # One leader at a time: the first's writes all come before the second's, and the
    # second wrote nothing before the first was killed.
    switched = identities.index(second)
    assert identities[:switched] == [first] * switched
    assert identities[switched:] == [second] * (len(identities) - switched)
    assert seconds(writes[switched]["time"]) > killed_at
    leading = [
        seconds(r["time"]) for r in replicas[second].records() if r.get("event") == "leading"
    ]
    assert leading, replicas[second].log
    assert leading[-1] > killed_at
    # Nothing applied twice: each object was created once on each target.
    creates = Counter((r["target"], r["key"]) for r in writes if r["action"] == "create")
    assert creates, writes
    assert max(creates.values()) == 1, creates
    # The creates nobody logged are the killed leader's last, in flight when it died
    # (at most its 4 workers per target): objects of the burst before the kill.
    logged = {(target, key.rsplit("/", 1)[1]) for target, key in creates}
    unlogged = {(t, n) for t in TARGETS for n in created} - logged
    assert len(unlogged) <= 4 * len(TARGETS), sorted(unlogged)
    assert all(int(name[3:]) <= 24 for _, name in unlogged), sorted(unlogged)


def test_the_controller_and_the_agent_need_only_the_rbac_they_ship(
    sync_world: SyncWorld,
    sync_ns: str,
    register_member: RegisterMember,
    spawn_sync: SpawnSync,
    request: Any,
) -> None:
    hub, source = sync_world.hub, sync_world.source
    push_cluster, pull_cluster = (sync_world.targets[t] for t in TARGETS)
    suffix = uuid.uuid4().hex[:6]

    # Members: the source grants read only, the push target read/write of the synced
    # kinds, the pull member its agent's role -- each to a ServiceAccount of its own.
    pull_name = register_member(pull_cluster, mode="Pull")
    draft = policy_object("draft", targetClusters=["x"], resources=configmaps(sync_ns))
    kinds = [policy_from_object(draft)]
    reader = f"sync-source-{suffix}"
    apply_objects(
        source,
        [
            install.namespace(SYSTEM_NAMESPACE),
            install.service_account(reader, SYSTEM_NAMESPACE),
            rbac.source_cluster_role(kinds, reader),
            install.binding(reader, "ClusterRole", reader, SYSTEM_NAMESPACE),
        ],
    )
    source_name = register_member(source, token_kubeconfig(source, SYSTEM_NAMESPACE, reader))
    writer = f"sync-member-{suffix}"
    apply_objects(push_cluster, rbac.member_rbac(kinds, service_account_name=writer))
    push_name = register_member(
        push_cluster, token_kubeconfig(push_cluster, SYSTEM_NAMESPACE, writer)
    )
    agent_account = f"sync-agent-{suffix}"
    apply_objects(
        pull_cluster, rbac.member_rbac(kinds, agent=True, service_account_name=agent_account)
    )
    agent_member = token_kubeconfig(pull_cluster, SYSTEM_NAMESPACE, agent_account)

    # The hub: the controller's ServiceAccount as `sync install` made it, and the
    # agent's as `sync install --agent` makes it.
    apply_objects(hub, install.agent_objects(pull_name))
    controller_hub = token_kubeconfig(hub, SYSTEM_NAMESPACE, install.CONTROLLER)
    agent_hub = token_kubeconfig(hub, work_namespace(pull_name), install.agent_name(pull_name))

    create(source, configmap("settings", sync_ns, {"v": "0"}))
    create(source, configmap("other", sync_ns, {"v": "0"}))
    name = f"p-rbac-{suffix}"
    body = policy_object(name, targetClusters=[push_name, pull_name], resources=configmaps(sync_ns))
    body["spec"]["sourceCluster"] = source_name
    hub.admin.create(POLICIES, body)
    request.addfinalizer(lambda: hub.admin.delete(f"{POLICIES}/{name}"))

    controller = replica(spawn_sync, controller_hub, f"rbac-{suffix}", f"sync-e2e-{suffix}")
    agent = spawn_sync(
        "agent",
        "--hub", str(agent_hub),
        "--member", pull_name,
        "--kubeconfig", str(agent_member),
        "--listen", f"127.0.0.1:{free_port()}",
        "--log-format", "json",
    )  # fmt: skip

    def everywhere(cm: str, data: dict[str, str] | None) -> bool:
        """Whether both targets hold ``cm`` with ``data`` (None: neither holds it)."""
        assert controller.running, controller.log
        assert agent.running, agent.log
        for cluster in (push_cluster, pull_cluster):
            found = read(cluster, "ConfigMap", sync_ns, cm)
            if (None if found is None else found.get("data")) != data:
                return False
        return True

    eventually(lambda: everywhere("settings", {"v": "0"}), timeout=60, message="created")
    patch(source, "ConfigMap", sync_ns, "settings", {"data": {"v": "1"}})
    eventually(lambda: everywhere("settings", {"v": "1"}), timeout=60, message="updated")
    delete(source, "ConfigMap", sync_ns, "other")
    eventually(lambda: everywhere("other", None), timeout=60, message="deleted")
    for target in (push_name, pull_name):
        eventually(
            lambda t=target: target_status(hub, name, t).get("inSync") == 1,
            timeout=30,
            message=f"{target} in sync in the status",
        )
    for process, what in ((controller, "sync run"), (agent, "sync agent")):
        assert "forbidden" not in process.log.lower(), f"{what}:\n{process.log}"
    assert not target_status(hub, name, push_name).get("lastError")
