"""The usage source on a real metrics.k8s.io: metrics-server scraping kwok's simulated
kubelets, with each Pod's CPU set by the test.  Pods of a Deployment at 95% of their
CPU request fire UsageHigh (per Pod and for the Deployment) once the window has
passed; an idle Pod does not."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio

from kubeops.api import Client
from kubeops.config import load_config
from kubeops.respond.event import USAGE
from kubeops.respond.model import Trigger
from kubeops.respond.sources.usage import UsageSource, matches
from kubeops.testenv import Cluster, async_eventually

from .conftest import Emitted

WINDOW = 20  # seconds; metrics-server samples every 10


@pytest_asyncio.fixture
async def metrics_client(metrics_cluster: Cluster, metrics_namespace: str) -> AsyncIterator[Client]:
    async with Client(load_config(metrics_cluster.kubeconfig, namespace=metrics_namespace)) as c:
        yield c


def container() -> dict[str, Any]:
    return {
        "name": "app",
        "image": "registry.example/app:1",
        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
    }


async def test_pods_above_their_request_for_the_window_fire_and_idle_ones_do_not(
    metrics_client: Client, metrics_cluster: Cluster, metrics_namespace: str, emitted: Emitted
) -> None:
    client = metrics_client
    labels = {"app": "web"}
    await client.create(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "labels": labels},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": {"containers": [container()]}},
            },
        }
    )
    await client.create(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "idle"},
            "spec": {"containers": [container()]},
        }
    )

    async def running() -> list[Any]:
        pods = (await client.list("pods"))["items"]
        up = [
            {**p, "kind": "Pod"} for p in pods if (p.get("status") or {}).get("phase") == "Running"
        ]
        return up if len(up) == 3 else []

    pods = await async_eventually(running, timeout=60, message="three Pods running on kwok")
    for pod in pods:
        cpu = "10m" if pod["metadata"]["name"] == "idle" else "95m"
        metrics_cluster.set_usage(pod, cpu=cpu)
    for pod in pods:
        cpu = "10m" if pod["metadata"]["name"] == "idle" else "95m"
        metrics_cluster.wait_usage(pod, cpu=cpu, timeout=90)

    params = {"resource": "cpu", "above": 90, "for": f"{WINDOW}s"}
    per_pod = Trigger(USAGE, kind="Pod", namespaces=(metrics_namespace,), params=params)
    per_deployment = Trigger(
        USAGE, kind="Deployment", namespaces=(metrics_namespace,), params=params
    )
    await emitted.run(UsageSource(client, [per_pod, per_deployment], interval=2))
    web = sorted(p["metadata"]["name"] for p in pods if p["metadata"]["name"] != "idle")
    await async_eventually(
        lambda: (
            all(any(matches(per_pod, e) for e in emitted.about(n)) for n in web)
            and emitted.about("web")
        ),
        timeout=120,
        message="UsageHigh for both web Pods and the Deployment",
    )

    assert emitted.about("idle") == []
    for event in emitted.events:
        assert event.name == "UsageHigh"
        assert 90 < event.payload["percent"] < 100, event.payload
        assert event.payload["samples"] >= 2
        started = datetime.datetime.fromisoformat(event.payload["from"])
        assert event.time - started >= datetime.timedelta(seconds=WINDOW)
    deployment = emitted.about("web")[0]
    assert deployment.object is not None
    assert deployment.object["kind"] == "Deployment"
    assert matches(per_deployment, deployment)
    assert not matches(per_pod, deployment)
