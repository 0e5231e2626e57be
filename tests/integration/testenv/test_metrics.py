"""metrics.k8s.io on testenv is real: metrics-server scrapes kwok's simulated kubelets,
the aggregation layer serves it with the caller's own identity, and the usage a test
sets on a Pod or Node is what the API reports."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kubeops.api import Client
from kubeops.config import load_config
from kubeops.errors import Forbidden
from kubeops.testenv import Cluster, eventually

pytestmark = pytest.mark.full


def pod(name: str, namespace: str, *containers: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "containers": [
                {
                    "name": container,
                    "image": "registry.example/app:1",
                    "resources": {"requests": {"cpu": "1", "memory": "256Mi"}},
                }
                for container in containers or ("app",)
            ]
        },
    }


def running(cluster: Cluster, obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj["metadata"]
    path = f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}"
    cluster.admin.create(f"/api/v1/namespaces/{meta['namespace']}/pods", obj)
    found: dict[str, Any] = eventually(
        lambda: (got := cluster.admin.get(path))["status"].get("phase") == "Running" and got,
        timeout=60,
        message=f"Pod {meta['name']} running",
    )
    return found


def test_a_pods_usage_set_from_a_test_is_what_metrics_api_reports(
    metrics_cluster: Cluster, metrics_namespace: str
) -> None:
    web = running(metrics_cluster, pod("web", metrics_namespace, "app", "sidecar"))
    metrics_cluster.set_usage(web, cpu="950m", memory="200Mi")
    seen = metrics_cluster.wait_usage(web, cpu="950m", memory="200Mi")
    assert seen["memory"] == 200 * 2**20
    # Shared evenly among the two containers, as the API shows them.
    answer = metrics_cluster.admin.get(
        f"/apis/metrics.k8s.io/v1beta1/namespaces/{metrics_namespace}/pods/web"
    )
    assert sorted(c["name"] for c in answer["containers"]) == ["app", "sidecar"]
    assert {c["usage"]["memory"] for c in answer["containers"]} == {"100Mi"}
    # A change is followed, not just the first figure.
    metrics_cluster.set_usage(web, cpu="100m")
    metrics_cluster.wait_usage(web, cpu="100m", memory="200Mi")


def test_a_nodes_usage_adds_to_its_pods_and_changes_keep_the_counter_continuous(
    metrics_cluster: Cluster,
) -> None:
    node = metrics_cluster.admin.get("/api/v1/nodes/kwok-node-0")
    try:
        metrics_cluster.set_usage(node, cpu="20", memory="100Gi")
        high = metrics_cluster.wait_usage(node, cpu="20", memory="100Gi", tolerance=0.02)
        assert high["cpu"] < 20 * 1.02
        metrics_cluster.set_usage(node, cpu="4")
        metrics_cluster.wait_usage(node, cpu="4", tolerance=0.05)
    finally:
        metrics_cluster.set_usage(node, cpu="50m", memory="256Mi")


def test_the_callers_own_identity_reaches_metrics_server(
    metrics_cluster: Cluster, metrics_namespace: str
) -> None:
    """The API server proxies with its front-proxy certificate and the user in headers:
    metrics-server authorizes the real caller, not the proxy."""
    running(metrics_cluster, pod("api", metrics_namespace))
    reader = metrics_cluster.service_account_kubeconfig(
        "metrics-reader",
        [{"apiGroups": ["metrics.k8s.io"], "resources": ["pods"], "verbs": ["get", "list"]}],
        metrics_namespace,
    )
    other = metrics_cluster.service_account_kubeconfig(
        "pod-reader",
        [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}],
        metrics_namespace,
    )
    path = f"/apis/metrics.k8s.io/v1beta1/namespaces/{metrics_namespace}/pods"

    async def names(kubeconfig: Any) -> list[str]:
        async with Client(load_config(kubeconfig)) as client:
            body = (await client.request("GET", path)).json()
            return sorted(item["metadata"]["name"] for item in body["items"])

    assert eventually(lambda: asyncio.run(names(reader)), timeout=60) == ["api"]
    with pytest.raises(Forbidden, match=r"metrics-reader|pod-reader"):
        asyncio.run(names(other))
