"""Events of an object, newest last, like the bottom of `kubectl describe`: the ones the
controllers really record, and hand-made ones that check the order and the matching."""

from __future__ import annotations

from typing import Any

import pytest

from kubeops.api import Client, SyncClient
from kubeops.errors import NotFound
from kubeops.ops.events import event_source, event_time, events_for, list_events
from kubeops.testenv import async_eventually


def event(name: str, involved: dict[str, Any], reason: str, **times: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name},
        "involvedObject": involved,
        "reason": reason,
        "message": f"{reason} happened",
        "type": "Normal",
        "source": {"component": "test-suite"},
        **times,
    }


@pytest.mark.full
async def test_events_of_a_deployment_and_its_pod_come_from_their_controllers(
    client: Client,
) -> None:
    await client.create(
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
         "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                  "template": {"metadata": {"labels": {"app": "web"}},
                               "spec": {"containers": [{"name": "app", "image": "app:1"}]}}}}
    )  # fmt: skip
    events = await async_eventually(
        lambda: events_for(client, "deploy", "web"),
        message="an event recorded by the deployment controller",
    )
    assert events[0]["reason"] == "ScalingReplicaSet"
    assert events[0]["involvedObject"]["name"] == "web"
    assert event_source(events[0]) == "deployment-controller"

    # The scheduler records asynchronously; after earlier tests restarted the API
    # server its event sink may need a while, so give it its own, longer deadline.
    async def scheduler_events() -> list[dict[str, Any]]:
        for pod in (await client.list("pods", label_selector="app=web"))["items"]:
            if found := await events_for(client, "pod", pod["metadata"]["name"]):
                return found
        return []

    scheduled = await async_eventually(
        scheduler_events, timeout=90, message="an event recorded by the scheduler"
    )
    assert scheduled[0]["reason"] == "Scheduled"
    assert event_source(scheduled[0]) == "default-scheduler"
    assert all(e["involvedObject"]["kind"] == "Pod" for e in scheduled)


async def test_events_are_the_objects_own_and_newest_last(
    client: Client, sync_client: SyncClient, kube_namespace: str
) -> None:
    subject = await client.create(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "subject"}}
    )
    ns = kube_namespace
    mine = {"apiVersion": "v1", "kind": "ConfigMap", "name": "subject", "namespace": ns,
            "uid": subject["metadata"]["uid"]}  # fmt: skip
    # Created in an order that is not the order they happened in.
    for name, reason, when in (
        ("e-latest", "Third", "2024-05-01T10:00:30Z"),
        ("e-first", "First", "2024-05-01T10:00:10Z"),
        ("e-middle", "Second", "2024-05-01T10:00:20Z"),
    ):
        await client.create(
            event(name, mine, reason, firstTimestamp=when, lastTimestamp=when, count=1)
        )
    await client.create(
        {**event("e-new-api", mine, "Fourth"),
         "eventTime": "2024-05-01T10:00:40.000000Z", "action": "Check",
         "reportingComponent": "test-suite", "reportingInstance": "test-suite-1",
         "source": {}}
    )  # fmt: skip
    # Not the subject's: an earlier object of the same name, and another kind of that name.
    await client.create(
        event("e-earlier", {**mine, "uid": "00000000-0000-0000-0000-000000000000"}, "Stale",
              lastTimestamp="2024-05-01T10:00:15Z")
    )  # fmt: skip
    await client.create(
        event("e-secret", {**mine, "kind": "Secret", "uid": "11111111-1111-1111-1111-111111111111"},
              "Other", lastTimestamp="2024-05-01T10:00:25Z")
    )  # fmt: skip

    events = await events_for(client, "configmap", "subject")
    assert [e["reason"] for e in events] == ["First", "Second", "Third", "Fourth"]
    assert all(e["kind"] == "Event" for e in events)
    assert event_time(events[-1]) is not None
    assert event_source(events[-1]) == "test-suite"  # reportingComponent, the newer API

    everything = await list_events(client)
    reasons = [e["reason"] for e in everything]
    assert reasons == ["First", "Stale", "Second", "Other", "Third", "Fourth"]

    assert events_for(sync_client, "cm", "subject") == events
    assert [e["reason"] for e in list_events(sync_client, ns)] == reasons

    with pytest.raises(NotFound, match='configmaps "no-such-thing"'):
        await events_for(client, "configmap", "no-such-thing")
