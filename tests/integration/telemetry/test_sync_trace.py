"""The push controller's trace: a source object's event, the reconcile of its key on a
target's queue and the write there (``sync.event`` -> ``sync.reconcile`` ->
``sync.apply`` -> ``POST configmaps``) are one trace."""

from __future__ import annotations

from integration.sync.conftest import (
    MakePolicy,
    StartController,
    SyncWorld,
    configmap,
    create,
    read,
)
from kubeops.testenv import eventually

from .receiver import ReceivedSpan, Receiver

SELECTED = {"sync": "traced"}


def test_a_source_event_its_reconcile_and_the_write_on_the_target_are_one_trace(
    traced: Receiver,
    sync_world: SyncWorld,
    sync_ns: str,
    make_policy: MakePolicy,
    start_controller: StartController,
) -> None:
    make_policy(
        targetClusters=["cluster-b"],
        resources=[{"kind": "ConfigMap", "namespaces": [sync_ns], "matchLabels": SELECTED}],
    )
    start_controller()
    create(sync_world.source, configmap("carried", sync_ns, {"v": "1"}, labels=SELECTED))
    target = sync_world.targets["cluster-b"]
    eventually(
        lambda: read(target, "ConfigMap", sync_ns, "carried") is not None,
        timeout=60,
        message="the ConfigMap on cluster-b",
    )

    def chain() -> tuple[ReceivedSpan, list[ReceivedSpan], ReceivedSpan, ReceivedSpan]:
        apply = traced.one(
            "sync.apply", **{"kubeops.name": "carried", "kubeops.sync.action": "create"}
        )
        write = next(s for s in traced.named("POST configmaps") if s.parent_id == apply.span_id)
        # Up from the write: the reconcile that wrote, the attempts it retried (a target
        # store not synced yet sends the key round again), then the event that queued it.
        reconciles = [traced.by_id(apply.parent_id)]
        while reconciles[-1].name == "sync.reconcile" and reconciles[-1].parent_id:
            reconciles.append(traced.by_id(reconciles[-1].parent_id))
        event = reconciles.pop()
        return event, reconciles, apply, write

    event, reconciles, apply, write = eventually(chain, message="the sync spans exported")
    assert event.name == "sync.event"
    assert event.parent_id == ""
    assert event.attributes["kubeops.cluster"] == "cluster-a"  # the source's informer
    assert event.attributes["kubeops.name"] == "carried"
    assert reconciles
    assert {s.name for s in reconciles} == {"sync.reconcile"}
    assert {s.attributes["kubeops.cluster"] for s in reconciles} == {"cluster-b"}  # its queue
    assert apply.attributes["kubeops.cluster"] == "cluster-b"
    assert apply.attributes["k8s.namespace.name"] == sync_ns
    assert write.attributes["http.response.status_code"] == 201
    assert {s.trace_id for s in (event, *reconciles, apply, write)} == {event.trace_id}
