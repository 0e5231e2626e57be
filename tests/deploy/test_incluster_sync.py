"""``kubeops sync run`` and ``kubeops sync agent`` from the image, as the chart deploys
them: the push controller syncs its policy's objects to a member and the pull agent
applies its work beside another, both with only the chart's RBAC, answering their
probes and never refused by the API server (the run: :mod:`deploy.incluster_runs`)."""

from __future__ import annotations

import json

import pytest

from deploy.incluster_runs import (
    CONFIGMAPS,
    MEMBERS,
    POLICIES,
    PULL,
    PUSH,
    SyncRun,
    configmap,
    forbidden_lines,
    http_get,
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
        lambda: target_status(sync_run, target).get("inSync") == 2,
        timeout=30,
        message=f"{target} in sync in the policy's status",
    )
    assert not target_status(sync_run, target).get("lastError")


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


def test_a_rotated_token_is_picked_up(sync_run: SyncRun) -> None:
    before = {t: int(target_status(sync_run, t).get("inSync") or 0) for t in sync_run.namespaces}
    # The kubelet rotates each pod's token; here the old one is revoked at once, so only
    # a daemon that reads the token file again keeps working.
    for pod in sync_run.pods().values():
        pod.rotate_token(invalidate_old=True)
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
            lambda t=target: target_status(sync_run, t).get("inSync") == before[t] + 1,
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
