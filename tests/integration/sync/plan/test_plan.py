"""kubeops.sync.plan against real clusters: what the sync would do on each target, nothing written.

The session's hub with cluster-a (source), cluster-b and cluster-c as Push members
(``sync_world``); no controller runs, so every object a target holds was put there
by the test, and the plan must describe exactly those -- and leave them as they were.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kubeops.api import Client
from kubeops.sync.desired import desired_object
from kubeops.sync.model import (
    Conflict,
    Deletion,
    Drift,
    PolicyError,
    SyncPolicy,
    policy_from_object,
    work_namespace,
)
from kubeops.sync.operation import Action, Operation, State
from kubeops.sync.ownership import POLICY_LABEL
from kubeops.sync.plan import PlanError, plan
from kubeops.sync.render import PAUSED_NOTE, PULL_NOTE, render_plan
from kubeops.sync.work import work_object

from ..conftest import (
    SyncWorld,
    create,
    deployment,
    names,
    policy_object,
    read,
)

PROD = {"env": "production"}


@pytest.fixture
async def hub(sync_world: SyncWorld) -> AsyncIterator[Client]:
    async with Client.from_kubeconfig(sync_world.hub.kubeconfig) as client:
        yield client


def _policy(ns: str, **spec: Any) -> SyncPolicy:
    body = {
        "targetClusters": ["cluster-b", "cluster-c"],
        "resources": [
            {"apiGroup": "apps", "kind": "Deployment", "namespaces": [ns], "matchLabels": PROD}
        ],
        **spec,
    }
    return policy_from_object(policy_object(f"plan-{uuid.uuid4().hex[:6]}", **body))


def _by(ops: list[Operation]) -> dict[tuple[str, str], Operation]:
    return {(op.target, op.key.name): op for op in ops}


def _versions(world: SyncWorld, ns: str) -> dict[str, dict[str, str]]:
    found = {}
    for name, cluster in world.targets.items():
        items = cluster.admin.get(f"/apis/apps/v1/namespaces/{ns}/deployments")["items"]
        found[name] = {i["metadata"]["name"]: i["metadata"]["resourceVersion"] for i in items}
    return found


async def test_plan_shows_every_create_update_delete_and_conflict_and_writes_nothing(
    hub: Client, sync_world: SyncWorld, sync_ns: str
) -> None:
    p = _policy(sync_ns, overrides=[{"targetClusters": ["cluster-c"], "replicas": 3}])
    source, b, c = (
        sync_world.source,
        sync_world.targets["cluster-b"],
        sync_world.targets["cluster-c"],
    )
    web = create(source, deployment("web", sync_ns, labels=PROD))
    create(source, deployment("api", sync_ns, labels=PROD, image="api:1"))
    create(source, deployment("dev-only", sync_ns, labels={"env": "dev"}))
    # cluster-b: a foreign "api" (conflict), and an owned copy of a source that is gone
    create(b, deployment("api", sync_ns, labels=PROD))
    gone = desired_object(deployment("gone", sync_ns, labels=PROD), p, "cluster-b", {}, "cluster-a")
    create(b, gone)
    # cluster-c: "web" as the sync would have written it (in sync), "api" from an older source
    create(c, desired_object(web, p, "cluster-c", {}, "cluster-a"))
    stale = desired_object(
        deployment("api", sync_ns, labels=PROD, image="api:0"), p, "cluster-c", {}, "cluster-a"
    )
    create(c, stale)
    before = _versions(sync_world, sync_ns)

    ops = await plan(hub, p)

    got = {key: (op.action, op.state) for key, op in _by(ops).items()}
    assert got == {
        ("cluster-b", "web"): (Action.CREATE, State.IN_SYNC),
        ("cluster-b", "api"): (Action.NONE, State.CONFLICT),
        ("cluster-b", "gone"): (Action.DELETE, State.IN_SYNC),
        ("cluster-c", "web"): (Action.NONE, State.IN_SYNC),
        ("cluster-c", "api"): (Action.APPLY, State.IN_SYNC),
    }
    by = _by(ops)
    assert by["cluster-b", "api"].reason == "not created by the sync"
    assert by["cluster-c", "api"].reason == "source changed"
    assert by["cluster-c", "api"].differences == ("spec.template.spec.containers[0].image",)
    assert by["cluster-b", "web"].desired is not None
    assert by["cluster-b", "web"].desired["spec"]["replicas"] == 1
    assert _versions(sync_world, sync_ns) == before  # nothing written
    assert names(b, "Deployment", sync_ns) == {"api", "gone"}

    text = render_plan(ops, color=False)
    assert f"  + create   Deployment.apps {sync_ns}/web  (not on the target)" in text
    assert f"  - delete   Deployment.apps {sync_ns}/gone  (source deleted)" in text
    assert "      -        image: api:0" in text
    assert "      +        image: api:1" in text
    assert "  cluster-b: 1 to create, 0 to update, 1 to delete, 1 conflict, 0 in sync" in text

    only_c = await plan(hub, p, target="cluster-c")
    assert {op.target for op in only_c} == {"cluster-c"}
    assert len(only_c) == 2


async def test_modes_change_the_plan(hub: Client, sync_world: SyncWorld, sync_ns: str) -> None:
    source, b = sync_world.source, sync_world.targets["cluster-b"]
    base = _policy(sync_ns)
    create(source, deployment("web", sync_ns, labels=PROD))
    create(b, deployment("web", sync_ns, labels=PROD))  # foreign
    drifted = desired_object(
        deployment("left", sync_ns, labels=PROD), base, "cluster-b", {}, "cluster-a"
    )
    create(b, drifted)  # owned by "base", its source never existed: orphaned under Orphan

    adopt = _by(
        await plan(
            hub, _with(base, conflictResolution="Adopt", deletion="Orphan"), target="cluster-b"
        )
    )
    assert adopt["cluster-b", "web"].action is Action.APPLY
    assert adopt["cluster-b", "left"].action is Action.ORPHAN
    overwrite = _by(
        await plan(hub, _with(base, conflictResolution="Overwrite"), target="cluster-b")
    )
    assert overwrite["cluster-b", "web"].action is Action.REPLACE
    assert overwrite["cluster-b", "left"].action is Action.DELETE
    paused = _by(await plan(hub, dataclasses.replace(base, paused=True), target="cluster-b"))
    assert paused["cluster-b", "left"].reason == f"source deleted; {PAUSED_NOTE}"
    assert paused["cluster-b", "web"].reason == "not created by the sync"  # writes nothing


async def test_drift_on_the_target_is_planned_as_correct_or_report(
    hub: Client, sync_world: SyncWorld, sync_ns: str
) -> None:
    source, b = sync_world.source, sync_world.targets["cluster-b"]
    p = _policy(sync_ns, targetClusters=["cluster-b"])
    web = create(source, deployment("web", sync_ns, labels={**PROD, "tier": "front"}))
    copy = desired_object(web, p, "cluster-b", {}, "cluster-a")
    del copy["metadata"]["labels"]["tier"]  # the hand edit: a label removed, the image changed
    copy["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:hacked"
    create(b, copy)

    correct = _by(await plan(hub, p))["cluster-b", "web"]
    assert (correct.action, correct.state) == (Action.APPLY, State.IN_SYNC)
    assert correct.differences == (
        "metadata.labels.tier",
        "spec.template.spec.containers[0].image",
    )
    report = _by(await plan(hub, _with(p, drift="Report")))["cluster-b", "web"]
    assert (report.action, report.state) == (Action.NONE, State.DRIFTED)


async def test_pull_members_are_planned_from_their_work(
    hub: Client, sync_world: SyncWorld, sync_ns: str, register_member: Any
) -> None:
    member = register_member(sync_world.targets["cluster-c"], mode="Pull")
    p = _policy(sync_ns, targetClusters=[member])
    web = create(sync_world.source, deployment("web", sync_ns, labels=PROD))
    create(sync_world.source, deployment("api", sync_ns, labels=PROD))
    sync_world.hub.admin.create(
        "/api/v1/namespaces",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": work_namespace(member)}},
        exist_ok=True,
    )
    key = next(op.key for op in await plan(hub, p) if op.key.name == "web")
    work = work_object(p, member, key, desired_object(web, p, member, {}, "cluster-a"), "cluster-a")
    work["metadata"]["finalizers"] = []  # no agent runs here to release it
    sync_world.hub.admin.create(
        f"/apis/sync.kubeops.io/v1alpha1/namespaces/{work_namespace(member)}/syncworks", work
    )

    by = _by(await plan(hub, p))
    assert (by[member, "api"].action, by[member, "api"].state) == (Action.CREATE, State.IN_SYNC)
    assert (by[member, "web"].action, by[member, "web"].state) == (Action.NONE, State.PENDING)
    assert by[member, "web"].reason == f"waiting for the member's agent; {PULL_NOTE}"
    assert all(op.reason.endswith(PULL_NOTE) for op in by.values())
    assert read(sync_world.targets["cluster-c"], "Deployment", sync_ns, "api") is None
    assert f"policy {p.name} -> {member} ({PULL_NOTE})" in render_plan(
        list(by.values()), color=False
    )


async def test_bad_targets_are_one_line_errors(
    hub: Client, sync_world: SyncWorld, sync_ns: str, register_member: Any, tmp_path: Path
) -> None:
    with pytest.raises(PolicyError, match=r"target 'nowhere' is not a MemberCluster on the hub$"):
        await plan(hub, _policy(sync_ns, targetClusters=["nowhere"]))
    with pytest.raises(
        PolicyError, match=r"'cluster-a' is not one of its targets \(cluster-b, cluster-c\)$"
    ):
        await plan(hub, _policy(sync_ns), target="cluster-a")
    # a member whose API server does not answer: the plan fails, it never shows deletions
    dead = tmp_path / "dead.kubeconfig"
    text = Path(sync_world.targets["cluster-b"].kubeconfig).read_text()
    server = next(
        line.split("server:", 1)[1].strip() for line in text.splitlines() if "server:" in line
    )
    dead.write_text(text.replace(server, "https://127.0.0.1:9"))
    member = register_member(sync_world.targets["cluster-b"], dead)
    with pytest.raises(PlanError) as caught:
        await plan(hub, _policy(sync_ns, targetClusters=[member]))
    assert f"cannot list target cluster {member!r}" in str(caught.value)
    assert POLICY_LABEL not in str(caught.value)


def _with(policy: SyncPolicy, **spec: str) -> SyncPolicy:
    """``policy`` with other modes (camelCase names as in the spec)."""
    fields = {
        "conflictResolution": ("conflict", Conflict),
        "deletion": ("deletion", Deletion),
        "drift": ("drift", Drift),
    }
    return dataclasses.replace(policy, **{fields[k][0]: fields[k][1](v) for k, v in spec.items()})
