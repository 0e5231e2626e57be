"""The usage checks over metrics.k8s.io objects, and their absence."""

from __future__ import annotations

from typing import Any

import pytest

from kubeops.inspect.checks.usage import percent
from kubeops.inspect.config import InspectConfig, parse_inspect_config
from kubeops.inspect.runner import run_checks
from kubeops.inspect.snapshot import Snapshot

Object = dict[str, Any]
USAGE = ("usage-node-cpu", "usage-node-memory", "usage-container-memory-limit")


@pytest.mark.parametrize(
    ("used", "total", "share"),
    [
        ("3800m", "4", 95.0),
        ("7680Mi", "8Gi", 93.75),
        ("1234567n", "1", pytest.approx(0.1234567)),
        ("1", "0", None),
        (None, "1", None),
        ("1", None, None),
        ("x", "1", None),
    ],
)
def test_percent(used: Any, total: Any, share: Any) -> None:
    assert percent(used, total) == share


def node(
    name: str, *, allocatable: dict[str, str] | None = None, capacity: dict[str, str] | None = None
) -> Object:
    status: Object = {}
    if allocatable is not None:
        status["allocatable"] = allocatable
    if capacity is not None:
        status["capacity"] = capacity
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "status": status}


def node_metrics(name: str, cpu: str, memory: str) -> Object:
    return {
        "apiVersion": "metrics.k8s.io/v1beta1",
        "kind": "NodeMetrics",
        "metadata": {"name": name},
        "usage": {"cpu": cpu, "memory": memory},
    }


def pod(name: str, *containers: tuple[str, str | None]) -> Object:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "ns"},
        "spec": {
            "containers": [
                {"name": c, "resources": {"limits": {"memory": m}} if m else {}}
                for c, m in containers
            ]
        },
    }


def pod_metrics(name: str, *containers: tuple[str, str], namespace: str = "ns") -> Object:
    return {
        "apiVersion": "metrics.k8s.io/v1beta1",
        "kind": "PodMetrics",
        "metadata": {"name": name, "namespace": namespace},
        "containers": [{"name": c, "usage": {"cpu": "1m", "memory": m}} for c, m in containers],
    }


def snapshot(
    objects: list[Object], nodemetrics: list[Object], podmetrics: list[Object]
) -> Snapshot:
    found = Snapshot.from_objects(objects)
    found.static = False
    found.data["nodemetrics"] = nodemetrics
    found.data["podmetrics"] = podmetrics
    return found


def hits(snap: Snapshot, config: InspectConfig | None = None) -> list[tuple[str, str, str]]:
    result = run_checks(snap, config or InspectConfig())
    assert set(USAGE) <= set(result.checks_run), result.not_run
    return sorted((f.check, f.object.name, f.message) for f in result.findings if f.check in USAGE)


def test_node_usage_against_allocatable_then_capacity() -> None:
    snap = snapshot(
        [
            node("busy", allocatable={"cpu": "4", "memory": "8Gi"}),
            node("old-kubelet", capacity={"cpu": "2", "memory": "4Gi"}),
            node("unknown"),
        ],
        [
            node_metrics("busy", "3900m", "1Gi"),
            node_metrics("old-kubelet", "100m", "3900Mi"),
            node_metrics("unknown", "100", "100Gi"),
            node_metrics("deleted-node", "100", "100Gi"),
        ],
        [],
    )
    assert hits(snap) == [
        (
            "usage-node-cpu",
            "busy",
            "cpu usage 3900m is 98% of the 4 CPU allocatable (threshold 90%)",
        ),
        (
            "usage-node-memory",
            "old-kubelet",
            "memory usage 3900Mi is 95% of the 4Gi allocatable (threshold 90%)",
        ),
    ]


def test_container_memory_against_its_own_limit() -> None:
    snap = snapshot(
        [pod("web", ("app", "100Mi"), ("proxy", None)), pod("api", ("app", "1Gi"))],
        [],
        [
            pod_metrics("web", ("app", "99Mi"), ("proxy", "5Gi"), ("gone", "1Gi")),
            pod_metrics("api", ("app", "500Mi")),
            pod_metrics("web", ("app", "99Mi"), namespace="other"),
        ],
    )
    assert hits(snap) == [
        (
            "usage-container-memory-limit",
            "web",
            'container "app" uses 99Mi of its 100Mi memory limit (99%, threshold 90%)',
        ),
    ]
    config = parse_inspect_config(
        {"checks": {"usage-container-memory-limit": {"thresholds": {"percent": 40}}}}
    )
    assert [h[1] for h in hits(snap, config)] == ["api", "web"]


def test_without_the_metrics_api_the_usage_checks_are_not_run() -> None:
    snap = Snapshot.from_objects([node("n", allocatable={"cpu": "1"})])
    snap.static = False
    reason = "the metrics API (metrics.k8s.io) is not served by this cluster"
    snap.missing.update(nodemetrics=reason, podmetrics=reason)
    result = run_checks(snap, InspectConfig())
    assert {n.check: n.reason for n in result.not_run if n.check in USAGE} == dict.fromkeys(
        USAGE, reason
    )
