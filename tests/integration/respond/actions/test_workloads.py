"""scale, restart, rollback and deletePod against the session cluster: each planned,
executed, re-run with the same action id (no second change) and dry-run (nothing
changed), every claim checked by reading the object back."""

from __future__ import annotations

import pytest

from kubeops.api import Client
from kubeops.errors import NotFound
from kubeops.ops import OperationError
from kubeops.ops.rollout import RESTARTED_AT
from kubeops.respond.actions import ActionError
from kubeops.respond.actions.base import MARK_PREFIX
from kubeops.testenv import async_eventually

from .helpers import context, deployment, event_about, pod, run


async def test_scale_by_a_factor_within_bounds_once_per_action(client: Client) -> None:
    obj = await client.create(deployment("web", replicas=2))
    event = event_about(obj)
    params = {"factor": 2, "max": 10}

    dry_plan, dry_done = await run("scale", params, context(client, event, dry_run=True))
    assert dry_plan.summary == f"scale deployment/{client.namespace}/web from 2 to 4 replicas"
    assert dry_plan.scale_percent == 100.0
    assert "dry run" in dry_done
    after_dry = await client.get("deployments", "web")
    assert after_dry["spec"]["replicas"] == 2
    assert MARK_PREFIX + "scale" not in (after_dry["metadata"].get("annotations") or {})

    ctx = context(client, event)
    plan, done = await run("scale", params, ctx)
    assert plan.details["replicas"] == 4
    assert done == f"scaled deployment/{client.namespace}/web from 2 to 4 replicas"
    assert (await client.get("deployments", "web"))["spec"]["replicas"] == 4

    again, _ = await run("scale", params, ctx)  # a new leader re-running the same action
    assert (again.details["previous"], again.details["replicas"]) == (2, 4)
    assert (await client.get("deployments", "web"))["spec"]["replicas"] == 4

    await run("scale", params, context(client, event, action_id="another"))
    assert (await client.get("deployments", "web"))["spec"]["replicas"] == 8
    capped, _ = await run("scale", params, context(client, event, action_id="third"))
    assert capped.details["replicas"] == 10
    assert capped.scale_percent == 25.0


async def test_scale_replicas_from_a_cel_value_and_an_explicit_target(client: Client) -> None:
    await client.create(deployment("api", replicas=1))
    event = event_about(None, "wanted", "http", replicas=3)
    target = {"kind": "Deployment", "name": "api", "namespace": client.namespace}
    params = {"target": target, "replicas": "${payload.replicas}", "max": 5}
    plan, _ = await run("scale", params, context(client, event))
    assert plan.details["replicas"] == 3
    assert (await client.get("deployments", "api"))["spec"]["replicas"] == 3

    with pytest.raises(
        ActionError, match=r"^scale: the event 'wanted' \(http\) is about no object"
    ):
        await run("scale", {"replicas": 2, "max": 5}, context(client, event))


async def test_restart_once_per_action_id(client: Client) -> None:
    obj = await client.create(deployment("web"))
    event = event_about(obj)
    generation = obj["metadata"]["generation"]

    await run("restart", {}, context(client, event, dry_run=True))
    assert (await client.get("deployments", "web"))["metadata"]["generation"] == generation

    ctx = context(client, event)
    plan, done = await run("restart", {}, ctx)
    assert plan.summary == f"restart deployment/{client.namespace}/web: replace its Pods"
    assert done == f"restarted deployment/{client.namespace}/web"
    restarted = await client.get("deployments", "web")
    annotations = restarted["spec"]["template"]["metadata"]["annotations"]
    assert annotations[RESTARTED_AT] == "2026-03-04T05:06:07Z"
    assert annotations[MARK_PREFIX + "restart"] == ctx.action_id
    assert restarted["metadata"]["generation"] == generation + 1

    again, done_again = await run("restart", {}, ctx)
    assert again.details["done"] is True
    assert "already restarted" in done_again
    assert (await client.get("deployments", "web"))["metadata"]["generation"] == generation + 1


async def test_restart_refuses_a_kind_without_rollouts(client: Client) -> None:
    cm = await client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})
    with pytest.raises(
        OperationError,
        match=r"^rollout restart configmap/c in namespace .*: rollout restart is not supported for configmaps",
    ):
        await run("restart", {}, context(client, event_about(cm)))


@pytest.mark.full
async def test_restart_and_scale_the_owner_of_a_pod(client: Client) -> None:
    await client.create(deployment("owned", replicas=1))

    async def a_pod() -> dict:
        items = (await client.list("pods", label_selector="app=owned"))["items"]
        assert items
        return items[0]

    found = await async_eventually(a_pod, message="a Pod of deployment owned")
    found.setdefault("kind", "Pod")
    found.setdefault("apiVersion", "v1")
    plan, _ = await run(
        "scale", {"target": "owner", "by": 1, "max": 3}, context(client, event_about(found))
    )
    assert plan.target is not None
    assert (plan.target.kind, plan.target.name) == ("Deployment", "owned")
    assert (await client.get("deployments", "owned"))["spec"]["replicas"] == 2


@pytest.mark.full
async def test_rollback_goes_back_once_and_not_forward_again(client: Client) -> None:
    await client.create(deployment("web", replicas=1, image="app:1"))

    async def revisions(count: int) -> bool:
        listed = (await client.list("replicasets.apps", label_selector="app=web"))["items"]
        numbers = sorted(
            int(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]) for rs in listed
        )
        assert len(numbers) >= count, numbers
        return True

    await async_eventually(lambda: revisions(1), message="revision 1")
    await client.patch(
        "deployments", "web", {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "app:2"}]}}}},
        patch_type="strategic",
    )  # fmt: skip
    await async_eventually(lambda: revisions(2), message="revision 2")
    obj = await client.get("deployments", "web")
    event = event_about(obj)

    def image(deploy: dict) -> str:
        return str(deploy["spec"]["template"]["spec"]["containers"][0]["image"])

    dry_plan, _ = await run("rollback", {}, context(client, event, dry_run=True))
    assert dry_plan.summary == f"roll back deployment/{client.namespace}/web from revision 2 to 1"
    assert image(await client.get("deployments", "web")) == "app:2"

    ctx = context(client, event)
    _, done = await run("rollback", {}, ctx)
    assert done == f"rolled back deployment/{client.namespace}/web to the template of revision 1"
    assert image(await client.get("deployments", "web")) == "app:1"
    await async_eventually(lambda: revisions(2), message="the rollback's revision")

    # Re-run by a new leader: a plain undo would now go back to app:2.
    again, done_again = await run("rollback", {}, ctx)
    assert "as this action chose before" in again.summary
    assert "already at the template" in done_again
    assert image(await client.get("deployments", "web")) == "app:1"


async def test_delete_pod_once_and_never_its_successor(client: Client) -> None:
    first = await client.create(pod("victim", held=True))
    event = event_about(first)

    plan, done = await run("deletePod", {"gracePeriod": 0}, context(client, event, dry_run=True))
    assert plan.summary == f"delete pod/{client.namespace}/victim (grace period 0s)"
    assert (await client.get("pods", "victim"))["metadata"]["uid"] == first["metadata"]["uid"]

    ctx = context(client, event)
    _, done = await run("deletePod", {"gracePeriod": 0}, ctx)
    assert done == f"deleted pod/{client.namespace}/victim"

    async def gone() -> bool:
        with pytest.raises(NotFound):
            await client.get("pods", "victim")
        return True

    await async_eventually(gone, message="pod victim deleted")
    _, done_again = await run("deletePod", {"gracePeriod": 0}, ctx)
    assert done_again == f"pod/{client.namespace}/victim already gone"

    successor = await client.create(pod("victim", held=True))
    _, done_third = await run("deletePod", {"gracePeriod": 0}, ctx)
    assert "already replaced" in done_third
    assert (await client.get("pods", "victim"))["metadata"]["uid"] == successor["metadata"]["uid"]


async def test_delete_pod_refuses_another_kind(client: Client) -> None:
    obj = await client.create(deployment("web"))
    with pytest.raises(
        ActionError, match=r"^deletePod deployment/.*/web: is a Deployment, not a Pod$"
    ):
        await run("deletePod", {}, context(client, event_about(obj)))
