"""Rollout verbs against the session cluster (controller-manager, scheduler and kwok nodes,
so Deployments, StatefulSets and DaemonSets really roll out).  Each verb is checked
against what the server then holds: templates, annotations, ReplicaSets and
ControllerRevisions."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from kubeops.api import Client, SyncClient
from kubeops.config import load_config
from kubeops.errors import Forbidden, NotFound
from kubeops.ops.rollout import (
    CHANGE_CAUSE,
    RESTARTED_AT,
    ContainerNotFound,
    ProgressDeadlineExceeded,
    RevisionNotFound,
    Rollout,
    RolloutError,
    RolloutNotSupported,
    RolloutPaused,
    RolloutStatus,
    RolloutTimeout,
    SyncRollout,
    describe_pod_template,
    format_history,
)
from kubeops.ops.rollout import restart as restart_module
from kubeops.testenv import Cluster, async_eventually

# Rollouts need the controller-manager, the scheduler and kwok's nodes.
pytestmark = pytest.mark.full


def workload(kind: str, name: str, image: str, replicas: int = 2, **spec: Any) -> dict[str, Any]:
    labels = {"app": name}
    body: dict[str, Any] = {
        "selector": {"matchLabels": labels},
        "template": {
            "metadata": {"labels": labels},
            "spec": {"containers": [{"name": name, "image": image}]},
        },
        **spec,
    }
    if kind != "DaemonSet":
        body["replicas"] = replicas
    if kind == "StatefulSet":
        body["serviceName"] = name
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name}, "spec": body}


def image_of(obj: dict[str, Any]) -> str:
    return str(obj["spec"]["template"]["spec"]["containers"][0]["image"])


async def revisions(rollout: Rollout) -> list[tuple[int, str | None, str]]:
    return [
        (r.revision, r.change_cause, r.template["spec"]["containers"][0]["image"])
        for r in await rollout.history()
    ]


async def test_set_image_then_undo_restores_the_template_and_renumbers_the_revision(
    client: Client,
) -> None:
    await client.create(workload("Deployment", "web", "nginx:1.0"))
    web = Rollout(client, "deploy", "web")
    assert (await web.status(timeout=60)).done

    updated = await web.set_image({"web": "nginx:2.0"}, change_cause="bump to 2.0")
    assert (updated.action, updated.changed) == ("image updated", True)
    seen: list[RolloutStatus] = []
    done = await web.status(timeout=60, on_progress=seen.append)
    assert done.done
    assert done.message == 'deployment "web" successfully rolled out'
    assert done.revision == 2
    assert (done.desired, done.updated, done.available) == (2, 2, 2)
    assert all(not s.done for s in seen)
    held = await client.get("deploy", "web")
    assert image_of(held) == "nginx:2.0"
    assert held["metadata"]["annotations"][CHANGE_CAUSE] == "bump to 2.0"
    assert await revisions(web) == [(1, None, "nginx:1.0"), (2, "bump to 2.0", "nginx:2.0")]

    undone = await web.undo()
    assert (str(undone), undone.revision) == ("deployment.apps/web rolled back", 1)
    await web.status(timeout=60)
    held = await client.get("deploy", "web")
    assert image_of(held) == "nginx:1.0"
    # The revision's annotations replace the Deployment's own change-cause, as with kubectl.
    assert CHANGE_CAUSE not in held["metadata"].get("annotations", {})
    assert "pod-template-hash" not in held["spec"]["template"]["metadata"]["labels"]
    # The controller renumbers revision 1 as 3; the ReplicaSet is reused, not recreated.
    assert await revisions(web) == [(2, "bump to 2.0", "nginx:2.0"), (3, None, "nginx:1.0")]
    replica_sets = (await client.list("rs", label_selector="app=web"))["items"]
    assert len(replica_sets) == 2
    text = format_history("deployment.apps/web", await web.history())
    assert text.splitlines() == [
        "deployment.apps/web",
        "REVISION  CHANGE-CAUSE",
        "2         bump to 2.0",
        "3         <none>",
    ]


async def test_undo_to_revision_reaches_any_earlier_revision(client: Client) -> None:
    await client.create(workload("Deployment", "api", "api:1", replicas=1))
    api = Rollout(client, "deploy", "api")
    await api.status(timeout=60)
    for version in (2, 3):
        await api.set_image({"api": f"api:{version}"})
        await api.status(timeout=60)
    assert [r for r, _, _ in await revisions(api)] == [1, 2, 3]

    back = await api.undo(to_revision=1)
    assert back.revision == 1
    await api.status(timeout=60)
    assert image_of(await client.get("deploy", "api")) == "api:1"
    assert [(r, i) for r, _, i in await revisions(api)] == [
        (2, "api:2"),
        (3, "api:3"),
        (4, "api:1"),
    ]

    await api.undo(to_revision=2)
    await api.status(timeout=60)
    assert image_of(await client.get("deploy", "api")) == "api:2"
    assert [(r, i) for r, _, i in await revisions(api)] == [
        (3, "api:3"),
        (4, "api:1"),
        (5, "api:2"),
    ]

    # Rolling back to where the template already is changes nothing.
    before = await client.get("deploy", "api")
    same = await api.undo(to_revision=5)
    assert not same.changed
    assert same.action == "skipped rollback (current template already matches revision 5)"
    after = await client.get("deploy", "api")
    assert after["metadata"]["generation"] == before["metadata"]["generation"]

    only = await api.history(4)
    assert [r.revision for r in only] == [4]
    assert "Image:\tapi:1\n" in describe_pod_template(only[0].template)


async def test_unknown_revisions_and_an_empty_history_are_clear_errors(client: Client) -> None:
    await client.create(workload("Deployment", "solo", "solo:1", replicas=1))
    solo = Rollout(client, "deploy", "solo")
    await solo.status(timeout=60)
    generation = (await client.get("deploy", "solo"))["metadata"]["generation"]

    with pytest.raises(RevisionNotFound, match=r'no rollout history found for deployment "solo"'):
        await solo.undo()
    with pytest.raises(
        RevisionNotFound,
        match=r'rollout undo deployment.apps/solo in namespace "[^"]+": unable to find '
        r"specified revision 7 in history \(revisions: 1\)",
    ):
        await solo.undo(to_revision=7)
    with pytest.raises(RevisionNotFound, match=r"unable to find revision 7 \(revisions: 1\)"):
        await solo.history(7)
    assert (await client.get("deploy", "solo"))["metadata"]["generation"] == generation
    with pytest.raises(NotFound, match=r'deployments.apps "missing"'):
        await Rollout(client, "deploy", "missing").status()


async def test_a_paused_deployment_refuses_to_roll_and_resumes(client: Client) -> None:
    await client.create(workload("Deployment", "calm", "calm:1", replicas=1))
    calm = Rollout(client, "deployment", "calm")
    await calm.set_image({"calm": "calm:2"})
    await calm.status(timeout=60)

    assert str(await calm.pause()) == "deployment.apps/calm paused"
    assert (await client.get("deploy", "calm"))["spec"]["paused"] is True
    with pytest.raises(RolloutError, match="it is already paused"):
        await calm.pause()
    await calm.set_image({"calm": "calm:3"})
    started = time.monotonic()
    with pytest.raises(RolloutPaused, match="the rollout is paused and will not finish"):
        await calm.status(timeout=30)
    assert time.monotonic() - started < 10, "a paused rollout must fail fast, not time out"
    with pytest.raises(RolloutPaused, match="cannot roll back a paused deployment"):
        await calm.undo()
    with pytest.raises(RolloutPaused, match="can't restart paused deployment"):
        await calm.restart()

    assert str(await calm.resume()) == "deployment.apps/calm resumed"
    with pytest.raises(RolloutError, match="it is not paused"):
        await calm.resume()
    done = await calm.status(timeout=60)
    assert done.done
    assert done.revision == 3
    held = await client.get("deploy", "calm")
    assert not held["spec"].get("paused")
    assert image_of(held) == "calm:3"


async def test_a_stuck_rollout_fails_on_its_progress_deadline_or_the_timeout(
    client: Client,
) -> None:
    stuck = workload("Deployment", "stuck", "stuck:1", replicas=1, progressDeadlineSeconds=1)
    stuck["spec"]["template"]["spec"]["nodeSelector"] = {"kubeops.test/nowhere": "true"}
    slow = workload("Deployment", "slow", "slow:1", replicas=1, progressDeadlineSeconds=600)
    slow["spec"]["template"]["spec"]["nodeSelector"] = {"kubeops.test/nowhere": "true"}
    await client.create(stuck)
    await client.create(slow)

    with pytest.raises(
        ProgressDeadlineExceeded, match=r'deployment "stuck" exceeded its progress deadline: .*'
    ):
        await Rollout(client, "deploy", "stuck").status(timeout=30)

    seen: list[str] = []
    started = time.monotonic()
    with pytest.raises(RolloutTimeout) as raised:
        await Rollout(client, "deploy", "slow").status(
            timeout=1.5, on_progress=lambda s: seen.append(s.message)
        )
    assert 1.4 < time.monotonic() - started < 10
    assert "timed out after 1.5s" in str(raised.value)
    assert "rollout to finish: 0 of 1 updated replicas are available" in str(raised.value)
    assert seen, "progress was reported while waiting"
    # Without waiting, the status is reported as it is.
    once = await Rollout(client, "deploy", "slow").status(watch=False)
    assert not once.done
    assert once.available == 0


async def test_restart_rolls_every_pod_through_a_new_revision(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    await client.create(workload("Deployment", "again", "again:1", replicas=2))
    again = Rollout(client, "deploy", "again")
    await again.status(timeout=60)
    restarted = await again.restart()
    assert str(restarted) == "deployment.apps/again restarted"
    stamp = restarted.object["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT]
    assert stamp.endswith("Z") or stamp[-6] in "+-"
    assert (await again.status(timeout=60)).revision == 2
    held = await client.get("deploy", "again")
    assert held["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT] == stamp
    # Every pod now comes from the new ReplicaSet; the old one is scaled to zero.
    by_revision = {
        int(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]): rs
        for rs in (await client.list("rs", label_selector="app=again"))["items"]
    }
    assert by_revision[1]["spec"]["replicas"] == 0
    assert by_revision[2]["status"]["readyReplicas"] == 2

    # kubectl's rule: a second restart within the same second is refused, not merged.
    monkeypatch.setattr(restart_module, "_rfc3339_now", lambda: stamp)
    with pytest.raises(RolloutError, match="already triggered within the past second"):
        await again.restart()


async def revision_cache_caught_up(client: Client) -> None:
    """Wait until kube-controller-manager's ControllerRevision cache holds every revision
    written so far.

    Its controllers share one ControllerRevision informer, and a DaemonSet adopts an
    orphan ControllerRevision its selector matches once that cache shows it.  A marker
    written now and adopted proves the cache holds everything written before it: one
    watch delivers in order.
    """
    name = f"cache-probe-{uuid.uuid4().hex[:6]}"
    probe = workload("DaemonSet", name, "probe:1")
    probe["spec"]["template"]["spec"]["nodeSelector"] = {"kubeops.test/nowhere": "true"}
    await client.create(probe)
    await client.create(
        {"apiVersion": "apps/v1", "kind": "ControllerRevision",
         "metadata": {"name": f"{name}-marker", "labels": {"app": name}},
         "data": {"marker": True}, "revision": 1}
    )  # fmt: skip

    async def adopted() -> bool:
        marker = await client.get("controllerrevisions", f"{name}-marker")
        owners = marker["metadata"].get("ownerReferences") or []
        return any(o["kind"] == "DaemonSet" and o["name"] == name for o in owners)

    await async_eventually(
        adopted, timeout=60, message="kube-controller-manager's ControllerRevision cache"
    )


async def test_statefulset_and_daemonset_roll_back_through_controller_revisions(
    client: Client,
) -> None:
    await client.create(workload("StatefulSet", "db", "db:1", replicas=2))
    await client.create(workload("DaemonSet", "agent", "agent:1"))
    for kind, name in (("sts", "db"), ("ds", "agent")):
        rollout = Rollout(client, kind, name)
        await rollout.status(timeout=60)
        # The controller numbers a new ControllerRevision from its own cache; after the
        # session's API server restarts that cache can lag, and a template change made
        # before it saw revision 1 would be numbered 1 as well.
        await revision_cache_caught_up(client)
        await rollout.set_image({name: f"{name}:2"}, change_cause=f"{name} 2")
        await rollout.status(timeout=60)
        assert await revisions(rollout) == [(1, None, f"{name}:1"), (2, f"{name} 2", f"{name}:2")]

        undone = await rollout.undo()
        assert undone.changed
        assert undone.revision == 1
        status = await rollout.status(timeout=60)
        assert status.done
        assert image_of(await client.get(kind, name)) == f"{name}:1"
        assert await revisions(rollout) == [(2, f"{name} 2", f"{name}:2"), (3, None, f"{name}:1")]
        skipped = await rollout.undo(to_revision=3)
        assert not skipped.changed

    with pytest.raises(RolloutNotSupported, match="pausing is not supported"):
        await Rollout(client, "sts", "db").pause()
    with pytest.raises(RolloutNotSupported, match="resuming is not supported"):
        await Rollout(client, "ds", "agent").resume()


async def test_set_image_names_missing_containers_and_changes_nothing(client: Client) -> None:
    await client.create(workload("Deployment", "pair", "pair:1", replicas=1))
    pair = Rollout(client, "deploy", "pair")
    before = await client.get("deploy", "pair")
    with pytest.raises(
        ContainerNotFound,
        match=r"unable to find container named 'sidecar' \(the containers are pair\)",
    ):
        await pair.set_image({"pair": "pair:2", "sidecar": "envoy:1"})
    after = await client.get("deploy", "pair")
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    assert after["spec"]["template"] == before["spec"]["template"]

    unchanged = await pair.set_image({"*": "pair:1"})
    assert (unchanged.changed, unchanged.action) == (False, "image unchanged")
    dry = await pair.set_image({"*": "pair:9"}, dry_run=True)
    assert image_of(dry.object) == "pair:9"
    assert str(dry).endswith("(server dry run)")
    assert image_of(await client.get("deploy", "pair")) == "pair:1"

    # set image also works on kinds that have a pod template but no rollout.
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "lone"},
        "spec": {"containers": [{"name": "c", "image": "busybox:1"}]},
    }
    await client.create(pod)
    await Rollout(client, "pod", "lone").set_image({"c": "busybox:2"})
    assert (await client.get("pod", "lone"))["spec"]["containers"][0]["image"] == "busybox:2"
    with pytest.raises(RolloutNotSupported, match="rollout undo is not supported for pods"):
        await Rollout(client, "pod", "lone").undo()
    with pytest.raises(RolloutNotSupported, match="rollout status is not supported for configmaps"):
        await Rollout(client, "cm", "anything").status()


async def test_a_forbidden_verb_raises_the_servers_refusal(
    client: Client, kube_cluster: Cluster, kube_namespace: str
) -> None:
    await client.create(workload("Deployment", "locked", "locked:1", replicas=1))
    read_only = kube_cluster.service_account_kubeconfig(
        "rollout-reader",
        [
            {
                "apiGroups": ["apps"],
                "resources": ["deployments", "replicasets"],
                "verbs": ["get", "list", "watch"],
            }
        ],
        namespace=kube_namespace,
    )
    async with Client(load_config(read_only, namespace=kube_namespace)) as reader:
        locked = Rollout(reader, "deploy", "locked")
        assert [r.revision for r in await locked.history()] == [1]
        with pytest.raises(Forbidden, match=r'patch deployments.apps "locked".*Forbidden'):
            await locked.restart()
    assert RESTARTED_AT not in (
        (await client.get("deploy", "locked"))["spec"]["template"]["metadata"].get("annotations")
        or {}
    )


def test_the_sync_facade_runs_every_verb(sync_client: SyncClient) -> None:
    sync_client.create(workload("Deployment", "blocking", "blocking:1", replicas=1))
    rollout = SyncRollout(sync_client, "deploy", "blocking")
    assert rollout.status(timeout=60).done
    rollout.set_image({"blocking": "blocking:2"})
    rollout.status(timeout=60)
    assert [r.revision for r in rollout.history()] == [1, 2]
    rollout.undo(to_revision=1)
    rollout.status(timeout=60)
    assert image_of(sync_client.get("deploy", "blocking")) == "blocking:1"
    rollout.pause()
    rollout.resume()
    rollout.restart()
    assert rollout.status(timeout=60).done
