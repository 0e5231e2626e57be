"""``kubeops sync plan`` shows exactly what ``run`` then does; the pull agent brings a
member to the same objects the push mode does."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import orjson

from integration.sync.conftest import (
    POLICIES,
    TARGETS,
    MakePolicy,
    RegisterMember,
    SpawnSync,
    StartController,
    SyncWorld,
    configmap,
    content,
    create,
    delete,
    deployment,
    kubeops_cli,
    patch,
    policy_object,
    read,
    target_status,
    write_yaml,
)
from kubeops.sync.ownership import HASH_ANNOTATION, POLICY_LABEL
from kubeops.testenv import eventually
from kubeops.testenv.ports import free_port

Change = tuple[str, str, str, str]
"""(target, kind, name, action)."""


def configmaps(namespace: str) -> list[dict[str, Any]]:
    return [{"apiGroup": "", "kind": "ConfigMap", "namespaces": [namespace]}]


def test_plan_lists_exactly_what_run_then_does(
    sync_world: SyncWorld, sync_ns: str, make_policy: MakePolicy, start_controller: StartController
) -> None:
    source = sync_world.source
    b, c = TARGETS
    for i in range(5):
        create(source, configmap(f"cm-{i}", sync_ns, {"v": "0"}))
    policy = make_policy(targetClusters=list(TARGETS), resources=configmaps(sync_ns))
    first = start_controller()
    for target in TARGETS:
        eventually(
            lambda t=target: all(
                read(sync_world.targets[t], "ConfigMap", sync_ns, f"cm-{i}") for i in range(5)
            ),
            message=f"the first five on {target}",
        )
    first.stop()

    # While no controller runs: the source changes, b drifts, c holds a foreign cm-6.
    patch(source, "ConfigMap", sync_ns, "cm-0", {"data": {"v": "1"}})
    delete(source, "ConfigMap", sync_ns, "cm-1")
    create(source, configmap("cm-5", sync_ns, {"v": "0"}))
    patch(sync_world.targets[b], "ConfigMap", sync_ns, "cm-2", {"data": {"v": "by hand"}})
    create(sync_world.targets[c], configmap("cm-6", sync_ns, {"v": "foreign"}))
    create(source, configmap("cm-6", sync_ns, {"v": "0"}))

    done = kubeops_cli(
        "sync",
        "plan",
        policy,
        "-o",
        "json",
        "--kubeconfig",
        str(sync_world.hub.kubeconfig),
        ok=(2,),
    )
    planned_ops = [
        op for entry in orjson.loads(done.stdout)["targets"] for op in entry["operations"]
    ]
    planned = {
        (op["target"], op["kind"], op["name"], op["action"])
        for op in planned_ops
        if op["action"] != "none"
    }
    expected = {
        *((t, "ConfigMap", "cm-0", "apply") for t in TARGETS),
        *((t, "ConfigMap", "cm-1", "delete") for t in TARGETS),
        *((t, "ConfigMap", "cm-5", "create") for t in TARGETS),
        (b, "ConfigMap", "cm-2", "apply"),
        (b, "ConfigMap", "cm-6", "create"),
    }
    assert planned == expected
    conflicts = [op for op in planned_ops if op["state"] == "Conflict"]
    assert [(op["target"], op["name"]) for op in conflicts] == [(c, "cm-6")]
    # The plan wrote nothing.
    assert read(sync_world.targets[b], "ConfigMap", sync_ns, "cm-1") is not None
    assert read(sync_world.targets[b], "ConfigMap", sync_ns, "cm-5") is None

    second = start_controller()
    for target in TARGETS:
        eventually(
            lambda t=target: (
                read(sync_world.targets[t], "ConfigMap", sync_ns, "cm-1") is None
                and read(sync_world.targets[t], "ConfigMap", sync_ns, "cm-5") is not None
                and (read(sync_world.targets[t], "ConfigMap", sync_ns, "cm-0") or {})["data"]["v"]
                == "1"
            ),
            message=f"the plan carried out on {target}",
        )
    eventually(
        lambda: (
            (read(sync_world.targets[b], "ConfigMap", sync_ns, "cm-2") or {})["data"]["v"] == "0"
        ),
        message="the drift on b corrected",
    )
    eventually(
        lambda: target_status(sync_world.hub, policy, c).get("conflicts") == 1,
        message="the conflict on c counted",
    )
    done_ops: list[Change] = [
        (r.target, r.operation.key.kind, r.operation.key.name, r.action)
        for r in second.writes(policy)
    ]
    assert set(done_ops) == planned
    assert len(done_ops) == len(planned), done_ops  # each once
    foreign = read(sync_world.targets[c], "ConfigMap", sync_ns, "cm-6")
    assert foreign is not None
    assert foreign["data"] == {"v": "foreign"}


def comparable(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` as both modes should leave it: server fields, the per-target ``site`` label
    and the hash (which covers that label) left out."""
    found = content(obj)
    meta = found["metadata"]
    meta["labels"] = {k: v for k, v in meta.get("labels", {}).items() if k != "site"}
    meta["annotations"] = {
        k: v for k, v in meta.get("annotations", {}).items() if k != HASH_ANNOTATION
    }
    return found


def test_the_pull_agent_converges_a_member_as_the_push_mode_does(
    sync_world: SyncWorld,
    sync_ns: str,
    make_policy: MakePolicy,
    register_member: RegisterMember,
    start_controller: StartController,
    spawn_sync: SpawnSync,
) -> None:
    source = sync_world.source
    push_name = TARGETS[0]
    push, pulled = sync_world.targets[push_name], sync_world.cluster("cluster-c")
    pull_name = register_member(pulled, mode="Pull")
    pulled.admin.create(
        "/api/v1/namespaces",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kubeops-sync"}},
        exist_ok=True,
    )
    create(source, deployment("web", sync_ns, labels={"env": "production"}, replicas=2))
    create(source, configmap("settings", sync_ns, {"mode": "a"}, labels={"env": "production"}))
    policy = make_policy(
        targetClusters=[push_name, pull_name],
        resources=[
            {"apiGroup": "apps", "kind": "Deployment", "namespaces": [sync_ns]},
            {"apiGroup": "", "kind": "ConfigMap", "namespaces": [sync_ns]},
        ],
        overrides=[
            {"replicas": 3, "image": "nginx:1.27"},
            {"targetClusters": [push_name], "labels": {"site": "push"}},
            {"targetClusters": [pull_name], "labels": {"site": "pull"}},
        ],
    )
    start_controller()
    agent = spawn_sync(
        "agent",
        "--hub", str(sync_world.hub.kubeconfig),
        "--member", pull_name,
        "--kubeconfig", str(pulled.kubeconfig),
        "--listen", f"127.0.0.1:{free_port()}",
        "--log-format", "json",
    )  # fmt: skip

    def both(kind: str, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
        assert agent.running, agent.log
        on_push, on_pull = read(push, kind, sync_ns, name), read(pulled, kind, sync_ns, name)
        assert on_push is not None, f"{kind} {name} not on {push_name}"
        assert on_pull is not None, f"{kind} {name} not on the pull member"
        return on_push, on_pull

    for kind, name in (("Deployment", "web"), ("ConfigMap", "settings")):
        on_push, on_pull = eventually(lambda k=kind, n=name: both(k, n), timeout=60)
        assert comparable(on_pull) == comparable(on_push)
        assert on_push["metadata"]["labels"]["site"] == "push"
        assert on_pull["metadata"]["labels"]["site"] == "pull"
        assert on_pull["metadata"]["labels"][POLICY_LABEL] == policy
    web = both("Deployment", "web")[1]
    assert web["spec"]["replicas"] == 3
    assert web["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"

    # An update and a deletion reach both the same way.
    patch(source, "ConfigMap", sync_ns, "settings", {"data": {"mode": "b"}})
    eventually(
        lambda: [o["data"] for o in both("ConfigMap", "settings")] == [{"mode": "b"}] * 2,
        message="the update on both members",
    )
    delete(source, "Deployment", sync_ns, "web")
    eventually(
        lambda: (
            read(push, "Deployment", sync_ns, "web") is None
            and read(pulled, "Deployment", sync_ns, "web") is None
        ),
        message="the deletion on both members",
    )
    # The agent reports what it holds; the policy's status counts the pull member.
    eventually(
        lambda: target_status(sync_world.hub, policy, pull_name).get("inSync") == 1,
        message="the pull member in sync in the policy's status",
    )
    member_path = f"/apis/sync.kubeops.io/v1alpha1/memberclusters/{pull_name}"

    def agent_report() -> dict[str, Any]:
        report: dict[str, Any] = sync_world.hub.admin.get(member_path)["status"]["agent"]
        return report

    report = eventually(
        lambda: agent_report()["objects"] == 1 and agent_report(),
        message="the agent reporting the one object it holds",
    )
    assert report["heartbeatTime"], report
    assert report["inSync"] == 1, report


def test_plan_and_status_never_print_a_secret_value(
    sync_world: SyncWorld, sync_ns: str, make_policy: MakePolicy, start_controller: StartController
) -> None:
    value = "s3cr3t-" + sync_ns[-5:]
    encoded = base64.b64encode(value.encode()).decode()
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": sync_ns},
        "data": {"password": encoded},
    }
    sync_world.source.admin.create(f"/api/v1/namespaces/{sync_ns}/secrets", secret)
    policy = make_policy(
        targetClusters=list(TARGETS),
        resources=[{"apiGroup": "", "kind": "Secret", "namespaces": [sync_ns], "names": ["db"]}],
    )
    hub = str(sync_world.hub.kubeconfig)
    outputs = ("plan", "plan -o wide", "plan -o json", "plan -o yaml")
    printed = {
        what: kubeops_cli("sync", *what.split(), policy, "--kubeconfig", hub, ok=(2,)).stdout
        for what in outputs
    }
    assert all("db" in text for text in printed.values()), printed
    start_controller()
    for target in TARGETS:
        eventually(
            lambda t=target: (
                sync_world.targets[t]
                .admin.request("GET", f"/api/v1/namespaces/{sync_ns}/secrets/db", ok=(404,))
                .get("data")
                == {"password": encoded}
            ),
            message=f"the Secret on {target}",
        )
    # A Secret changed by hand: the plan shows the change without either value.
    changed = base64.b64encode(b"by-hand-" + sync_ns[-5:].encode()).decode()
    sync_world.targets[TARGETS[0]].admin.patch(
        f"/api/v1/namespaces/{sync_ns}/secrets/db", {"data": {"password": changed}}
    )
    for what in ("plan", "plan -o wide", "plan -o json"):
        done = kubeops_cli("sync", *what.split(), policy, "--kubeconfig", hub, ok=(0, 2))
        printed[f"{what} (drifted)"] = done.stdout
    status = kubeops_cli("sync", "status", policy, "-o", "yaml", "--kubeconfig", hub)
    printed["status -o yaml"] = status.stdout
    leaks = {
        what: [s for s in (value, encoded, changed, "by-hand-") if s in text]
        for what, text in printed.items()
    }
    assert not {what: found for what, found in leaks.items() if found}, printed


def test_plan_of_an_edited_policy_file_shows_the_prune_run_then_does(
    sync_world: SyncWorld,
    sync_ns: str,
    make_policy: MakePolicy,
    start_controller: StartController,
    tmp_path: Path,
) -> None:
    source = sync_world.source
    for i, tier in enumerate("aabb"):
        create(source, configmap(f"cm-{i}", sync_ns, {"v": "0"}, labels={"tier": tier}))
    resources = configmaps(sync_ns)
    policy = make_policy(targetClusters=list(TARGETS), resources=resources)
    first = start_controller()
    for target in TARGETS:
        eventually(
            lambda t=target: all(
                read(sync_world.targets[t], "ConfigMap", sync_ns, f"cm-{i}") for i in range(4)
            ),
            message=f"four on {target}",
        )
    first.stop()
    # The edit a user previews: only tier a from now on.
    edited = policy_object(
        policy,
        targetClusters=list(TARGETS),
        resources=[{**resources[0], "matchLabels": {"tier": "a"}}],
    )
    policy_file = write_yaml(tmp_path / "policy.yaml", edited)
    hub = str(sync_world.hub.kubeconfig)
    done = kubeops_cli(
        "sync", "plan", "-f", str(policy_file), "-o", "json", "--kubeconfig", hub, ok=(2,)
    )
    planned = {
        (op["target"], op["name"], op["action"])
        for entry in orjson.loads(done.stdout)["targets"]
        for op in entry["operations"]
        if op["action"] != "none"
    }
    assert planned == {(t, f"cm-{i}", "delete") for t in TARGETS for i in (2, 3)}
    text = kubeops_cli("sync", "plan", "-f", str(policy_file), "--kubeconfig", hub, ok=(2,))
    assert "cm-2" in text.stdout
    assert "delete" in text.stdout
    for target in TARGETS:  # the plan deleted nothing
        assert read(sync_world.targets[target], "ConfigMap", sync_ns, "cm-2") is not None

    sync_world.hub.admin.patch(f"{POLICIES}/{policy}", {"spec": edited["spec"]})
    second = start_controller()
    for target in TARGETS:
        eventually(
            lambda t=target: (
                read(sync_world.targets[t], "ConfigMap", sync_ns, "cm-3") is None
                and read(sync_world.targets[t], "ConfigMap", sync_ns, "cm-2") is None
            ),
            message=f"tier b pruned on {target}",
        )
    create(source, configmap("witness", sync_ns, {"v": "0"}, labels={"tier": "a"}))
    for target in TARGETS:
        eventually(
            lambda t=target: read(sync_world.targets[t], "ConfigMap", sync_ns, "witness"),
            message=f"the witness on {target}",
        )
    done_ops = {
        (r.target, r.operation.key.name, r.action)
        for r in second.writes(policy)
        if r.operation.key.name != "witness"
    }
    assert done_ops == planned
