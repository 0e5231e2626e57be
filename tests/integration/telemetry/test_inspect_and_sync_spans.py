"""An inspection is an ``inspect.run`` span over one ``inspect.cluster`` span per
cluster (its reads below it) and one ``inspect.category`` span per check category;
a sync write is a ``sync.apply`` span holding its API requests."""

from __future__ import annotations

import uuid
from typing import Any

from kubeops.api import Client
from kubeops.config import load_config
from kubeops.inspect.config import InspectConfig
from kubeops.inspect.runner import Target, inspect_clusters, selected_checks
from kubeops.sync.desired import desired_object
from kubeops.sync.model import ResourceSelector, SyncPolicy
from kubeops.sync.operation import Action
from kubeops.sync.ownership import ObjectKey
from kubeops.sync.push import PushTarget
from kubeops.testenv import Cluster, async_eventually

from .receiver import ReceivedSpan, Receiver


async def test_an_inspection_run_its_cluster_and_each_check_category_are_spans(
    traced: Receiver, kube_cluster: Cluster
) -> None:
    target = Target("testenv", load_config(kube_cluster.kubeconfig))
    report = await inspect_clusters([target], InspectConfig())
    (result,) = report.clusters
    assert result.reachable
    categories = {check.category for check in selected_checks(InspectConfig())}

    def spans() -> tuple[ReceivedSpan, ReceivedSpan, list[ReceivedSpan]]:
        run = traced.one("inspect.run")
        cluster = traced.one("inspect.cluster", **{"kubeops.cluster": "testenv"})
        found = traced.named("inspect.category")
        assert {s.attributes["kubeops.inspect.category"] for s in found} == categories
        return run, cluster, found

    run, cluster, found = await async_eventually(spans, message="the inspection's spans")
    assert run.parent_id == ""
    assert run.attributes == {"kubeops.inspect.mode": "live", "kubeops.inspect.clusters": 1}
    assert cluster.parent_id == run.span_id
    assert cluster.attributes["kubeops.inspect.findings"] == len(result.findings)
    assert cluster.attributes["kubeops.inspect.checks_run"] == len(result.checks_run)
    assert len(found) == len(categories)  # the catalogue keeps each category's checks together
    assert all(s.parent_id == cluster.span_id for s in found)
    assert sum(s.attributes["kubeops.inspect.checks_run"] for s in found) == len(result.checks_run)
    assert sum(s.attributes["kubeops.inspect.findings"] for s in found) == len(result.findings)
    reads = [s for s in traced.named("GET nodes") if s.parent_id == cluster.span_id]
    assert reads, traced.names()
    assert {s.trace_id for s in (run, cluster, *found, *reads)} == {run.trace_id}


async def test_each_sync_write_is_a_sync_apply_span_over_its_requests(
    traced: Receiver, client: Client
) -> None:
    # The session cluster stands in for a member: the same PushTarget and executor
    # the push controller and the pull agent write through.
    member = "member"
    namespace = f"sync-{uuid.uuid4().hex[:6]}"  # not there yet: the apply creates it too
    policy = SyncPolicy(
        name=f"p-{uuid.uuid4().hex[:6]}",
        source_cluster="source",
        target_clusters=(member,),
        resources=(ResourceSelector("", "ConfigMap"),),
    )
    source: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "web", "namespace": namespace, "uid": "x", "resourceVersion": "7"},
        "data": {"a": "1"},
    }
    key = ObjectKey("", "ConfigMap", namespace, "web")
    pushed = PushTarget(member, Client(client.config))
    await pushed.start(lambda _policy, _key: None)
    try:
        await pushed.watch_kind("", "ConfigMap")
        await async_eventually(pushed.synced, timeout=30, message="the member's store synced")
        desired = desired_object(source, policy, member, {}, "source")
        created = await pushed.reconcile(policy, key, desired)
        assert created.action is Action.CREATE
        source["data"] = {"a": "2"}
        desired = desired_object(source, policy, member, {}, "source")
        updated = await pushed.reconcile(policy, key, desired)
        assert updated.action is Action.APPLY
    finally:
        await pushed.stop()
    assert (await client.get("configmaps", "web", namespace))["data"] == {"a": "2"}

    def spans() -> tuple[ReceivedSpan, ReceivedSpan]:
        create = traced.one("sync.apply", **{"kubeops.sync.action": "create"})
        apply = traced.one("sync.apply", **{"kubeops.sync.action": "apply"})
        return create, apply

    create, apply = await async_eventually(spans, message="the sync.apply spans")
    for span in (create, apply):
        assert span.attributes["kubeops.cluster"] == member
        assert span.attributes["kubeops.sync.policy"] == policy.name
        assert span.attributes["kubeops.kind"] == "ConfigMap"
        assert span.attributes["kubeops.name"] == "web"
        assert span.attributes["k8s.namespace.name"] == namespace
        assert not span.error
    writes = {
        s.name: s
        for s in traced.spans
        if s.parent_id in (create.span_id, apply.span_id) and s.name.split()[0] != "GET"
    }
    assert writes["POST namespaces"].parent_id == create.span_id  # its namespace made first
    assert writes["POST configmaps"].parent_id == create.span_id
    assert writes["PATCH configmaps"].parent_id == apply.span_id  # server-side apply
    assert writes["PATCH configmaps"].attributes["http.response.status_code"] == 200
