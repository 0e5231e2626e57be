"""Usage cases: the metrics API served by CustomResourceDefinitions standing in for
metrics-server, with NodeMetrics and PodMetrics objects in its shape.

The two CRDs are created first, in the first case's bad list (the harness waits
until a CRD is established before the next object); their names are fixed by the
API (``<plural>.<group>``), not by the check.
"""

from __future__ import annotations

import datetime
from typing import Any

from ..harness import Case

Object = dict[str, Any]
METRICS = "metrics.k8s.io/v1beta1"
NOW = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def metrics_crd(plural: str, kind: str, scope: str) -> Object:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{plural}.metrics.k8s.io",
            "annotations": {
                "api-approved.kubernetes.io": "unapproved, test stand-in for metrics-server"
            },
        },
        "spec": {
            "group": "metrics.k8s.io",
            "scope": scope,
            "names": {"plural": plural, "singular": kind.lower(), "kind": kind},
            "versions": [
                {
                    "name": "v1beta1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }


def node(name: str, cpu: str = "4", memory: str = "8Gi") -> Object:
    resources = {"cpu": cpu, "memory": memory, "pods": "110"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "status": {
            "capacity": resources,
            "allocatable": resources,
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
        },
    }


def node_metrics(name: str, cpu: str, memory: str) -> Object:
    return {
        "apiVersion": METRICS,
        "kind": "NodeMetrics",
        "metadata": {"name": name},
        "timestamp": NOW,
        "window": "20s",
        "usage": {"cpu": cpu, "memory": memory},
    }


def pod(name: str, memory_limit: str | None) -> Object:
    resources = {"limits": {"memory": memory_limit}} if memory_limit else {}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "containers": [
                {"name": "app", "image": "registry.example.com/app:1", "resources": resources},
                {"name": "sidecar", "image": "registry.example.com/proxy:1"},
            ]
        },
    }


def pod_metrics(name: str, memory: str) -> Object:
    return {
        "apiVersion": METRICS,
        "kind": "PodMetrics",
        "metadata": {"name": name},
        "timestamp": NOW,
        "window": "20s",
        "containers": [
            {"name": "app", "usage": {"cpu": "10m", "memory": memory}},
            {"name": "sidecar", "usage": {"cpu": "1m", "memory": "900Mi"}},
        ],
    }


CASES = [
    Case(
        "usage-node-cpu",
        bad=[
            metrics_crd("nodes", "NodeMetrics", "Cluster"),
            metrics_crd("pods", "PodMetrics", "Namespaced"),
            node("usage-node-cpu-busy"),
            node_metrics("usage-node-cpu-busy", cpu="3800m", memory="1Gi"),
        ],
        good=[
            node("usage-node-cpu-idle"),
            node_metrics("usage-node-cpu-idle", cpu="1200m", memory="1Gi"),
        ],
        expect=["Node/usage-node-cpu-busy"],
    ),
    Case(
        "usage-node-memory",
        bad=[
            node("usage-node-memory-full"),
            node_metrics("usage-node-memory-full", cpu="100m", memory="7800Mi"),
        ],
        good=[
            node("usage-node-memory-ok"),
            node_metrics("usage-node-memory-ok", cpu="100m", memory="2Gi"),
        ],
        expect=["Node/usage-node-memory-full"],
    ),
    Case(
        "usage-container-memory-limit",
        bad=[pod("hungry", "100Mi"), pod_metrics("hungry", "95Mi")],
        good=[
            pod("calm", "100Mi"),
            pod_metrics("calm", "50Mi"),
            # No limit at all (the sidecar in each Pod has none either): nothing to compare.
            pod("unbounded", None),
            pod_metrics("unbounded", "2Gi"),
        ],
        expect=["Pod/hungry"],
    ),
]
