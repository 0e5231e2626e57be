"""The derived source on a real API server: statuses are written as a kubelet or a
controller would (the cluster is API-only, so nothing overwrites them), and each
state fires once on entering it, on time without further changes, and from the
cluster's own timestamps after a restart of the source."""

from __future__ import annotations

import asyncio
import datetime
from typing import Any

from kubeops.api import Client
from kubeops.respond.event import DERIVED, KUBERNETES_EVENT, now
from kubeops.respond.model import Trigger
from kubeops.respond.sources.derived import DerivedSource, matches
from kubeops.respond.sources.events import KubernetesEventSource
from kubeops.testenv import Cluster, async_eventually

from .conftest import Emitted
from .test_events import core_event


def stamp(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


async def with_status(client: Client, obj: dict[str, Any], status: dict[str, Any]) -> Any:
    current = await client.get(obj["kind"], obj["metadata"]["name"])
    current["status"] = status
    return await client.replace(current, subresource="status")


def pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "app", "image": "registry.example/app:1"}]},
    }


def container(restarts: int, waiting: str | None, last: str = "Error") -> dict[str, Any]:
    state = (
        {"waiting": {"reason": waiting}} if waiting else {"running": {"startedAt": stamp(now())}}
    )
    return {
        "name": "app",
        "image": "registry.example/app:1",
        "imageID": "",
        "ready": False,
        "restartCount": restarts,
        "state": state,
        "lastState": {
            "terminated": {
                "reason": last,
                "exitCode": 137 if last == "OOMKilled" else 1,
                "startedAt": stamp(now()),
                "finishedAt": stamp(now()),
            }
        },
    }


def pod_status(*containers: dict[str, Any]) -> dict[str, Any]:
    return {"phase": "Running", "containerStatuses": list(containers)}


async def test_pod_states_fire_once_on_entering_them(
    client: Client, namespace: str, emitted: Emitted
) -> None:
    triggers = [
        Trigger(DERIVED, names=("CrashLoop",), namespaces=(namespace,), params={"restarts": 3}),
        Trigger(DERIVED, names=("OOMKilled", "ImagePullBackOff"), namespaces=(namespace,)),
    ]
    web = await client.create(pod("web"))
    await emitted.run(DerivedSource(client, triggers))
    await with_status(client, web, pod_status(container(2, "CrashLoopBackOff")))
    await with_status(client, web, pod_status(container(3, "CrashLoopBackOff")))
    await async_eventually(lambda: emitted.named("CrashLoop"), message="the crash loop")
    # Still in it, nothing new: the same occurrence.
    await with_status(client, web, pod_status(container(3, None)))
    await with_status(client, web, pod_status(container(3, "CrashLoopBackOff")))
    await with_status(client, web, pod_status(container(4, "CrashLoopBackOff", last="OOMKilled")))
    await async_eventually(lambda: emitted.named("OOMKilled"), message="the OOM kill")
    pull = await client.create(pod("pull"))
    for reason in ("ErrImagePull", "ImagePullBackOff", "ErrImagePull"):
        await with_status(client, pull, pod_status(container(0, reason, last="Error")))
    await async_eventually(lambda: emitted.named("ImagePullBackOff"), message="the pull back-off")
    marker = await client.create(pod("marker"))
    await with_status(client, marker, pod_status(container(7, "CrashLoopBackOff")))
    await async_eventually(lambda: emitted.named("CrashLoop", "marker"), message="the marker")

    crashes = emitted.named("CrashLoop", "web")
    assert [e.payload["restartCount"] for e in crashes] == [3, 4]
    assert len(emitted.named("OOMKilled")) == 1
    assert len(emitted.named("ImagePullBackOff")) == 1
    assert emitted.named("ImagePullBackOff")[0].payload["image"] == "registry.example/app:1"
    assert crashes[0].payload["restarts"] == 3
    assert matches(triggers[0], crashes[0])
    assert not matches(triggers[1], crashes[0])


def node(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}


def ready(status: str, since: datetime.datetime) -> dict[str, Any]:
    return {
        "conditions": [
            {
                "type": "Ready",
                "status": status,
                "reason": "KubeletNotReady" if status != "True" else "KubeletReady",
                "lastHeartbeatTime": stamp(now()),
                "lastTransitionTime": stamp(since),
            }
        ]
    }


async def test_a_node_not_ready_before_start_fires_at_once_and_a_new_one_on_time(
    client: Client, namespace: str, sources_cluster: Cluster, emitted: Emitted
) -> None:
    names = [f"{namespace[-6:]}-{n}" for n in ("long", "fresh", "fine")]
    long, fresh, fine = names
    for name in names:
        sources_cluster.admin.create("/api/v1/nodes", node(name))
    try:
        await with_status(
            client, node(long), ready("False", now() - datetime.timedelta(minutes=10))
        )
        await with_status(client, node(fine), ready("True", now() - datetime.timedelta(hours=1)))
        five = Trigger(DERIVED, names=("NodeNotReady",), selector="", params={"for": "5m"})
        await emitted.run(DerivedSource(client, [five]))
        await async_eventually(lambda: emitted.about(long), message="the long-NotReady node")

        # A node going NotReady now, with a short threshold, fires by the timer alone.
        three = Trigger(DERIVED, names=("NodeNotReady",), params={"for": "3s"})
        timed = Emitted()
        await timed.run(DerivedSource(client, [three]))
        try:
            went = await with_status(client, node(fresh), ready("Unknown", now()))
            transition = datetime.datetime.fromisoformat(
                went["status"]["conditions"][0]["lastTransitionTime"].replace("Z", "+00:00")
            )
            await async_eventually(
                lambda: timed.about(fresh), timeout=15, message="NotReady for 3s, by the timer"
            )
            fired = timed.about(fresh)[0]
            assert fired.time >= transition + datetime.timedelta(seconds=3)
            assert fired.payload["since"] == transition.isoformat()
            assert fired.payload["for"] == 3.0
        finally:
            await timed.stop()
        assert [e.object["metadata"]["name"] for e in emitted.events if e.object] == [long]
        first = emitted.about(long)[0]
        assert first.payload["status"] == "False"

        # A restarted source finds the same occurrence (same identity) from the cluster.
        await emitted.stop()
        again = Emitted()
        await again.run(DerivedSource(client, [five]))
        try:
            await async_eventually(lambda: again.about(long), message="found again after restart")
            assert again.about(long)[0].identity == first.identity
        finally:
            await again.stop()
    finally:
        for name in names:
            sources_cluster.admin.delete(f"/api/v1/nodes/{name}")


async def test_deployment_job_and_claim_states(
    client: Client, namespace: str, emitted: Emitted
) -> None:
    deploy = await client.create(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "app", "image": "app:1"}]},
                },
            },
        }
    )
    job = await client.create(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "migrate"},
            "spec": {
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "m", "image": "app:1"}],
                    }
                }
            },
        }
    )
    triggers = [
        Trigger(
            DERIVED,
            names=("DeploymentUnavailable", "PVCPending"),
            namespaces=(namespace,),
            params={"for": "2s"},
        ),
        Trigger(DERIVED, names=("JobFailed",), namespaces=(namespace,)),
    ]
    await emitted.run(DerivedSource(client, triggers))
    hour_ago = stamp(now() - datetime.timedelta(hours=1))
    await with_status(
        client,
        deploy,
        {
            "replicas": 2,
            "availableReplicas": 0,
            "conditions": [
                {
                    "type": "Available",
                    "status": "False",
                    "reason": "MinimumReplicasUnavailable",
                    "lastTransitionTime": hour_ago,
                    "lastUpdateTime": hour_ago,
                }
            ],
        },
    )
    await async_eventually(lambda: emitted.named("DeploymentUnavailable"), message="the deployment")
    start = stamp(now() - datetime.timedelta(minutes=1))
    failed_at = stamp(now())
    await with_status(
        client,
        job,
        {
            "startTime": start,
            "failed": 1,
            "conditions": [
                {
                    "type": "FailureTarget",
                    "status": "True",
                    "reason": "BackoffLimitExceeded",
                    "lastTransitionTime": failed_at,
                },
                {
                    "type": "Failed",
                    "status": "True",
                    "reason": "BackoffLimitExceeded",
                    "message": "Job has reached the specified backoff limit",
                    "lastTransitionTime": failed_at,
                },
            ],
        },
    )
    await async_eventually(lambda: emitted.named("JobFailed"), message="the failed job")
    claim = await client.create(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
                "storageClassName": "none",
            },
        }
    )
    await async_eventually(
        lambda: emitted.named("PVCPending"), timeout=15, message="the claim pending for 2s"
    )
    pending = emitted.named("PVCPending")[0]
    created = datetime.datetime.fromisoformat(
        claim["metadata"]["creationTimestamp"].replace("Z", "+00:00")
    )
    assert pending.time >= created + datetime.timedelta(seconds=2)
    assert emitted.named("JobFailed")[0].payload["reason"] == "BackoffLimitExceeded"
    assert emitted.named("DeploymentUnavailable")[0].payload["availableReplicas"] == 0
    assert len(emitted.events) == 3


async def test_an_api_server_restart_refires_no_state_and_no_event(
    client: Client, namespace: str, sources_cluster: Cluster, emitted: Emitted
) -> None:
    crashing = [await client.create(pod(f"crash-{i}")) for i in range(5)]
    for obj in crashing:
        await with_status(client, obj, pod_status(container(5, "CrashLoopBackOff")))
    await client.create(core_event("backoff", "BackOff", namespace=namespace))
    derived = DerivedSource(
        client, [Trigger(DERIVED, names=("CrashLoop",), namespaces=(namespace,))]
    )
    events = Emitted()
    await emitted.run(derived)
    await events.run(
        KubernetesEventSource(
            client,
            [Trigger(KUBERNETES_EVENT, names=("BackOff",), namespaces=(namespace,))],
            since=now() - datetime.timedelta(minutes=1),
        )
    )
    try:
        await async_eventually(
            lambda: len(emitted.named("CrashLoop")) == 5, message="five crash loops"
        )
        await async_eventually(lambda: events.about("backoff"), message="the BackOff Event")
        before = (len(emitted.events), len(events.events))
        await asyncio.get_running_loop().run_in_executor(None, sources_cluster.restart_apiserver)
        marker = await async_eventually(
            lambda: client.create(pod("marker")), timeout=30, message="writes after the restart"
        )
        await with_status(client, marker, pod_status(container(3, "CrashLoopBackOff")))
        await client.create(core_event("after", "BackOff", namespace=namespace))
        await async_eventually(lambda: emitted.about("marker"), timeout=60, message="marker")
        await async_eventually(lambda: events.about("after"), timeout=60, message="event after")
        assert (len(emitted.events), len(events.events)) == (before[0] + 1, before[1] + 1)
    finally:
        await events.stop()
