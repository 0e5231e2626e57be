"""Real inspection documents for tests of what stores, serves and describes them
(the history, ``inspect serve``'s metrics and pages): built by running the checks
on a small snapshot, not written by hand."""

from __future__ import annotations

from typing import Any

from kubeops.inspect import InspectConfig, Snapshot, build_document, run_checks
from kubeops.inspect.model import ClusterResult
from kubeops.inspect.runner import assemble_report


def node(name: str, ready: str = "True") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "status": {"conditions": [{"type": "Ready", "status": ready}]},
    }


def pod(name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"containers": [{"name": "app", "image": "nginx:latest"}]},
        "status": {"phase": "Running"},
    }


def document(down: int = 0, *, unreachable: bool = False) -> dict[str, Any]:
    """A real document: cluster ``a`` with ``down`` NotReady nodes and a Pod, cluster
    ``b`` unreachable when asked."""
    objects = [node(f"n{i}", "False" if i < down else "True") for i in range(3)]
    snapshot = Snapshot.from_objects([*objects, pod("web", "shop")], name="a")
    snapshot.static = False
    results = [run_checks(snapshot, InspectConfig())]
    if unreachable:
        results.append(ClusterResult(name="b", reachable=False, error="connection refused"))
    return build_document(assemble_report(results, InspectConfig(), mode="live"))
