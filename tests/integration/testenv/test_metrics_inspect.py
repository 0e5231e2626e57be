"""`kubeops inspect`'s usage checks run on testenv's real metrics.k8s.io and fire on
usage set through kwok: a container near its memory limit, a node near its CPU and
memory.  Without metrics they are reported not run (tests/integration/inspect)."""

from __future__ import annotations

import asyncio

import pytest

from kubeops.inspect import InspectConfig, inspect_clusters, resolve_targets
from kubeops.testenv import Cluster

from .test_metrics import running

pytestmark = pytest.mark.full

USAGE_CHECKS = {"usage-node-cpu", "usage-node-memory", "usage-container-memory-limit"}


def test_usage_checks_fire_on_high_usage_set_through_kwok(
    metrics_cluster: Cluster, metrics_namespace: str
) -> None:
    limited = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "leaky", "namespace": metrics_namespace},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "registry.example/app:1",
                    "resources": {"limits": {"cpu": "1", "memory": "256Mi"}},
                }
            ]
        },
    }
    calm = {**limited, "metadata": {"name": "calm", "namespace": metrics_namespace}}
    leaky, calm = running(metrics_cluster, limited), running(metrics_cluster, calm)
    node = metrics_cluster.admin.get("/api/v1/nodes/kwok-node-0")
    try:
        metrics_cluster.set_usage(leaky, memory="250Mi")
        metrics_cluster.set_usage(calm, memory="64Mi")
        metrics_cluster.set_usage(node, cpu="31", memory="250Gi")
        metrics_cluster.wait_usage(leaky, memory="250Mi")
        metrics_cluster.wait_usage(calm, memory="64Mi")
        metrics_cluster.wait_usage(node, cpu="31", tolerance=0.02)

        targets = resolve_targets(str(metrics_cluster.kubeconfig), [])
        (result,) = asyncio.run(inspect_clusters(targets, InspectConfig())).clusters
    finally:
        metrics_cluster.set_usage(node, cpu="50m", memory="256Mi")
    assert result.reachable, result.error
    assert set(result.checks_run) >= USAGE_CHECKS
    assert not USAGE_CHECKS & {n.check for n in result.not_run}
    hits = {(f.check, f.object.kind, f.object.name) for f in result.findings}
    assert ("usage-container-memory-limit", "Pod", "leaky") in hits
    assert ("usage-container-memory-limit", "Pod", "calm") not in hits
    assert ("usage-node-cpu", "Node", "kwok-node-0") in hits
    assert ("usage-node-memory", "Node", "kwok-node-0") in hits
    message = next(
        f.message
        for f in result.findings
        if f.object.name == "leaky" and f.check == "usage-container-memory-limit"
    )
    assert "of its 256Mi memory limit" in message
