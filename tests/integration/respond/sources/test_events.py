"""The Kubernetes Event source on a real API server: reason, type and involved
object filter; a repeat (count raised) fires again, an edit that repeats nothing
does not; Events from before the watermark stay quiet; events.k8s.io Events too."""

from __future__ import annotations

import datetime
from typing import Any

from kubeops.api import Client
from kubeops.respond.event import KUBERNETES_EVENT, identity_of, now
from kubeops.respond.model import Trigger
from kubeops.respond.sources.events import KubernetesEventSource, matches
from kubeops.testenv import async_eventually

from .conftest import Emitted


def stamp(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def core_event(
    name: str,
    reason: str,
    *,
    kind: str = "Pod",
    about: str = "web",
    type_: str = "Warning",
    count: int = 1,
    when: datetime.datetime | None = None,
    namespace: str,
) -> dict[str, Any]:
    moment = stamp(when or now())
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name},
        "involvedObject": {"kind": kind, "name": about, "apiVersion": "v1", "namespace": namespace},
        "reason": reason,
        "message": f"{reason} on {about}",
        "type": type_,
        "count": count,
        "firstTimestamp": moment,
        "lastTimestamp": moment,
        "source": {"component": "kubelet"},
    }


async def test_reason_type_and_involved_object_filter_and_repeats_fire_again(
    client: Client, namespace: str, emitted: Emitted
) -> None:
    since = now()
    await client.create(
        core_event(
            "old", "BackOff", namespace=namespace, when=since - datetime.timedelta(hours=1), count=4
        )
    )
    await client.create(core_event("while-down", "BackOff", namespace=namespace))
    trigger = Trigger(
        KUBERNETES_EVENT,
        names=("BackOff",),
        namespaces=(namespace,),
        params={"type": "Warning", "involvedKind": "Pod"},
    )
    await emitted.run(KubernetesEventSource(client, [trigger], since=since))
    await async_eventually(
        lambda: emitted.about("while-down"), message="the Event recorded while down"
    )
    assert emitted.about("old") == []

    live = await client.create(core_event("live", "BackOff", namespace=namespace))
    await client.create(core_event("normal", "BackOff", namespace=namespace, type_="Normal"))
    await client.create(core_event("other-reason", "Pulled", namespace=namespace))
    await client.create(core_event("node", "BackOff", namespace=namespace, kind="Node"))
    await async_eventually(lambda: emitted.about("live"), message="the live Event")
    live["count"] = 2
    live = await client.replace(live)
    await async_eventually(lambda: len(emitted.about("live")) == 2, message="its repeat")
    live["message"] = "edited, not repeated"
    await client.replace(live)
    await client.create(core_event("marker", "BackOff", namespace=namespace))
    await async_eventually(lambda: emitted.about("marker"), message="the marker")

    names = [e.object["metadata"]["name"] for e in emitted.events if e.object]
    assert names == ["while-down", "live", "live", "marker"]
    first, repeat = emitted.about("live")
    assert first.identity == identity_of(live["metadata"]["uid"], 1)
    assert repeat.identity == identity_of(live["metadata"]["uid"], 2)
    assert repeat.payload["count"] == 2
    assert repeat.payload["involvedObject"]["name"] == "web"
    assert repeat.name == "BackOff"
    assert all(matches(trigger, e) for e in emitted.events)


async def test_an_events_k8s_io_event_fires_with_its_series_count(
    client: Client, namespace: str, emitted: Emitted
) -> None:
    trigger = Trigger(KUBERNETES_EVENT, names=("FailedMount",), namespaces=(namespace,))
    await emitted.run(KubernetesEventSource(client, [trigger]))
    moment = now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    created = await client.create(
        {
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {"name": "mount"},
            "eventTime": moment,
            "reportingController": "kubeops.dev/test",
            "reportingInstance": "test-1",
            "action": "Mount",
            "reason": "FailedMount",
            "regarding": {"kind": "Pod", "name": "db", "namespace": namespace},
            "note": "volume not found",
            "type": "Warning",
        }
    )
    await async_eventually(lambda: emitted.about("mount"), message="the events.k8s.io Event")
    created["series"] = {"count": 3, "lastObservedTime": moment}
    await client.replace(created)
    await async_eventually(lambda: len(emitted.about("mount")) == 2, message="its series")
    first, series = emitted.about("mount")
    assert first.payload["message"] == "volume not found"
    assert first.payload["involvedObject"]["name"] == "db"
    assert series.payload["count"] == 3
