"""Objects shaped as the API server sends them, for the cache tests."""

from __future__ import annotations

from typing import Any


def pod(
    name: str,
    namespace: str | None = "default",
    *,
    labels: dict[str, str] | None = None,
    node: str | None = None,
    rv: str = "1",
    **extra: Any,
) -> dict[str, Any]:
    """A Pod (cluster-scoped-looking when ``namespace`` is None)."""
    metadata: dict[str, Any] = {"name": name, "resourceVersion": rv, "uid": f"uid-{name}"}
    if namespace is not None:
        metadata["namespace"] = namespace
    if labels is not None:
        metadata["labels"] = labels
    metadata.update(extra)
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": {}}
    if node is not None:
        obj["spec"]["nodeName"] = node
    return obj


def node(name: str, *, rv: str = "1") -> dict[str, Any]:
    """A Node: cluster-scoped."""
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "resourceVersion": rv}}


def by_node(obj: dict[str, Any]) -> list[str]:
    """An index function: the node a Pod is scheduled to, if any."""
    node_name = obj.get("spec", {}).get("nodeName")
    return [node_name] if node_name else []


def by_labels(obj: dict[str, Any]) -> list[str]:
    """An index function filing an object under every ``key=value`` label it has."""
    labels = obj["metadata"].get("labels") or {}
    return [f"{k}={v}" for k, v in labels.items()]
