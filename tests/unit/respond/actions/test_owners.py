"""Owner chains walked on plain dicts: to the top controller, stopping at a missing
owner, a non-controller reference, a uid that does not match, or a cycle."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from kubeops.respond.actions.nodes import node_of
from kubeops.respond.actions.target import controller_ref, event_reference, top_controller
from kubeops.respond.event import Event


def obj(kind: str, name: str, uid: str, owner: tuple[str, str, str] | None = None, *,
        controller: bool = True) -> dict[str, Any]:  # fmt: skip
    meta: dict[str, Any] = {"name": name, "namespace": "prod", "uid": uid}
    if owner is not None:
        okind, oname, ouid = owner
        meta["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": okind,
                "name": oname,
                "uid": ouid,
                "controller": controller,
            }
        ]
    return {"apiVersion": "v1", "kind": kind, "metadata": meta}


def store(*objects: dict[str, Any]) -> Any:
    by_name = {(o["kind"], o["metadata"]["name"]): o for o in objects}

    async def fetch(ref: Mapping[str, Any], namespace: str) -> dict[str, Any] | None:
        assert namespace == "prod"
        return by_name.get((ref["kind"], ref["name"]))

    return fetch


POD = obj("Pod", "web-1", "p1", ("ReplicaSet", "web-5d", "r1"))
RS = obj("ReplicaSet", "web-5d", "r1", ("Deployment", "web", "d1"))
DEPLOY = obj("Deployment", "web", "d1")


async def test_pod_to_replicaset_to_deployment() -> None:
    top = await top_controller(POD, store(POD, RS, DEPLOY))
    assert top["kind"] == "Deployment"


async def test_a_missing_owner_ends_the_chain_at_the_last_found() -> None:
    assert (await top_controller(POD, store(POD, RS)))["kind"] == "ReplicaSet"
    assert (await top_controller(POD, store(POD)))["kind"] == "Pod"


async def test_an_owner_of_the_same_name_but_another_uid_is_not_followed() -> None:
    impostor = obj("ReplicaSet", "web-5d", "other")
    assert (await top_controller(POD, store(POD, impostor)))["kind"] == "Pod"


async def test_only_the_controller_reference_counts() -> None:
    pod = obj("Pod", "p", "p2", ("ReplicaSet", "web-5d", "r1"), controller=False)
    assert controller_ref(pod) is None
    assert (await top_controller(pod, store(pod, RS, DEPLOY)))["kind"] == "Pod"


async def test_a_cycle_stops() -> None:
    a = obj("A", "a", "ua", ("B", "b", "ub"))
    b = obj("B", "b", "ub", ("A", "a", "ua"))
    top = await top_controller(a, store(a, b))
    assert top["kind"] == "B"


def test_a_kubernetes_event_is_about_its_involved_object() -> None:
    k8s_event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "n1.17", "namespace": "default"},
        "involvedObject": {"kind": "Node", "name": "n1", "apiVersion": "v1"},
        "reason": "NodeNotReady",
    }
    event = Event("NodeNotReady", "event", datetime.datetime.now(datetime.UTC), object=k8s_event)
    assert event_reference(event) == k8s_event["involvedObject"]
    assert node_of(event) == "n1"
    pod = {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"nodeName": "n2"}}
    assert node_of(Event("CrashLoop", "derived", event.time, object=pod)) == "n2"
    assert node_of(Event("x", "http", event.time)) == ""
