"""``kubeops sync run`` and ``kubeops sync agent`` from the image, as the chart deploys
them: the push controller syncs its policy's objects to a member and the pull agent
applies its work beside another, both with only the chart's RBAC, answering their
probes and never refused by the API server (the run: :mod:`deploy.incluster_runs`)."""

from __future__ import annotations

import json

import pytest

from deploy.chart import fullname
from deploy.incluster_runs import (
    CONFIGMAPS,
    MEMBERS,
    NAMESPACE,
    POLICIES,
    PULL,
    PUSH,
    SyncRun,
    api_status,
    configmap,
    forbidden_lines,
    http_get,
    namespace_object,
    read_configmap,
)
from kubeops.testenv import eventually


def target_status(run: SyncRun, target: str) -> dict[str, object]:
    """The target's entry in its policy's ``status.targets`` (empty when absent)."""
    policy = run.hub.admin.get(f"{POLICIES}/{run.policies[target]}")
    for entry in (policy.get("status") or {}).get("targets") or []:
        if entry.get("name") == target:
            return dict(entry)
    return {}


def all_in_sync(run: SyncRun, target: str) -> bool:
    """Whether the policy's status counts every ConfigMap of its source namespace in sync."""
    listed = run.hub.admin.get(CONFIGMAPS.format(run.namespaces[target]))["items"]
    status = target_status(run, target)
    return status.get("inSync") == len(listed) and not status.get("lastError")


def synced(run: SyncRun, target: str, data: dict[str, str] | None) -> bool:
    """Whether ``target``'s namespace on the member holds ``settings`` with ``data``
    (None: holds none); both pods must still run."""
    for name, pod in run.pods().items():
        assert pod.alive(), f"{name} exited {pod.exit_code()}:\n{pod.logs()[-4000:]}"
    found = read_configmap(run.member, run.namespaces[target], "settings")
    return (None if found is None else found.get("data")) == data


@pytest.mark.parametrize("target", [PUSH, PULL])
def test_a_policys_objects_reach_the_member_with_the_charts_rbac(
    sync_run: SyncRun, target: str
) -> None:
    namespace, hub = sync_run.namespaces[target], sync_run.hub
    source = f"{CONFIGMAPS.format(namespace)}"
    # The set-up saw a create, an update and a delete synced; another update and create.
    hub.admin.patch(f"{source}/settings", {"data": {"v": "2"}})
    hub.admin.create(source, configmap("extra", {"k": "v"}))
    eventually(
        lambda: synced(sync_run, target, {"v": "2"}),
        timeout=30,
        message=f"the change synced to {target}",
    )
    eventually(
        lambda: read_configmap(sync_run.member, namespace, "extra") is not None,
        timeout=30,
        message=f"the new ConfigMap synced to {target}",
    )
    eventually(
        lambda: all_in_sync(sync_run, target),
        timeout=30,
        message=f"{target} in sync in the policy's status",
    )


def test_the_agent_reports_to_the_hub(sync_run: SyncRun) -> None:
    def heartbeat() -> dict[str, object]:
        member = sync_run.hub.admin.get(f"{MEMBERS}/{PULL}")
        return dict((member.get("status") or {}).get("agent") or {})

    agent = eventually(
        lambda: heartbeat().get("objects") and heartbeat(),
        timeout=30,
        message="the agent's heartbeat, counting its work, on its MemberCluster",
    )
    assert agent["inSync"] == agent["objects"], agent
    assert agent["failed"] == 0, agent


def create_namespace_as_controller(run: SyncRun, name: str) -> str:
    """Create Namespace ``name`` on the hub (a dry run) as the controller's ServiceAccount,
    by impersonation (the audit log then names the admin, so the least privilege test
    does not count it as the daemon's use); '' when allowed, else the refusal's message."""
    import asyncio
    import dataclasses

    from kubeops.api import Client
    from kubeops.config import load_config
    from kubeops.errors import KubeopsError

    account = f"system:serviceaccount:{NAMESPACE}:{fullname('sync')}"
    groups = (
        "system:serviceaccounts",
        f"system:serviceaccounts:{NAMESPACE}",
        "system:authenticated",
    )
    config = dataclasses.replace(
        load_config(run.hub.kubeconfig), impersonate_user=account, impersonate_groups=groups
    )

    async def create() -> str:
        async with Client(config) as client:
            try:
                await client.create(namespace_object(name), dry_run=True)
            except KubeopsError as err:
                return str(err)
        return ""

    return asyncio.run(create())


def test_the_controller_may_create_only_work_namespaces(sync_run: SyncRun) -> None:
    # RBAC cannot limit a create by name; the chart's ValidatingAdmissionPolicy does.
    assert create_namespace_as_controller(sync_run, "kubeops-member-elsewhere") == ""
    refusal = eventually(
        lambda: create_namespace_as_controller(sync_run, "not-a-work-namespace"),
        timeout=30,
        message="the namespace guard to refuse the controller",
    )
    assert "may create only namespaces kubeops-member-<member>" in refusal, refusal


def test_a_rotated_token_is_picked_up(sync_run: SyncRun) -> None:
    # The kubelet rotates each pod's token; here the old one is revoked at once, so only
    # a daemon that reads the token file again keeps working.
    rotations = {pod: pod.rotate_token(invalidate_old=True) for pod in sync_run.pods().values()}
    for pod, rotation in rotations.items():  # the API server caches a token's review ~10 s
        eventually(
            lambda p=pod, r=rotation: api_status(p.cluster, r.old_token) == 401,
            timeout=30,
            message="the API server to refuse the old token",
        )
    for namespace in sync_run.namespaces.values():
        sync_run.hub.admin.create(CONFIGMAPS.format(namespace), configmap("rotated", {"k": "v"}))
    # Pull: the controller writes the SyncWork with its token, the agent the ConfigMap with
    # its own; both: the controller writes the policy's status with its token.
    for target, namespace in sync_run.namespaces.items():
        eventually(
            lambda ns=namespace: read_configmap(sync_run.member, ns, "rotated") is not None,
            timeout=30,
            message=f"a ConfigMap synced to {target} after the token rotated",
        )
        eventually(
            lambda t=target: all_in_sync(sync_run, t),
            timeout=30,
            message=f"{target}'s status written after the token rotated",
        )


@pytest.mark.parametrize("daemon", ["sync", "sync-agent"])
def test_probes_answer_and_nothing_is_forbidden(sync_run: SyncRun, daemon: str) -> None:
    pod = sync_run.pods()[daemon]
    status, body = http_get(pod, sync_run.port, "/healthz")
    assert status == 200, body
    health = json.loads(body)
    assert health["leader"] is True, health  # the only replica leads
    assert health["synced"] is True, health
    assert http_get(pod, sync_run.port, "/readyz")[0] == 200
    log = pod.logs()
    assert log.strip(), "the daemon logged nothing"
    assert not forbidden_lines(log), log[-4000:]
