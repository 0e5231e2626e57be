"""Objects as an API server returns them, for the diff engine's tests."""

from __future__ import annotations

import copy
from typing import Any

from kubeops.sync.model import policy_from_object


def deployment(name: str = "web", namespace: str = "shop", **spec: Any) -> dict[str, Any]:
    """A Deployment as read back from a server: server-set fields, defaults and status."""
    obj: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": "0b6e3a52-1111-2222-3333-444455556666",
            "resourceVersion": "4711",
            "generation": 3,
            "creationTimestamp": "2026-12-05T03:00:00Z",
            "managedFields": [{"manager": "kubectl", "operation": "Apply"}],
            "labels": {"app": name, "env": "production"},
            "annotations": {
                "deployment.kubernetes.io/revision": "2",
                "kubectl.kubernetes.io/last-applied-configuration": "{}",
                "team": "shop",
            },
        },
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}, "creationTimestamp": None},
                "spec": {
                    "initContainers": [{"name": "init", "image": "busybox:1.36"}],
                    "containers": [
                        {
                            "name": "app",
                            "image": "nginx:1.27",
                            "resources": {"requests": {"cpu": "500m", "memory": "64Mi"}},
                        },
                        {"name": "sidecar", "image": "envoy:1.30"},
                    ],
                },
            },
            **spec,
        },
        "status": {"replicas": 2, "readyReplicas": 2},
    }
    return obj


def policy(**spec: Any) -> Any:
    """A ClusterSyncPolicy ``p`` from cluster-a to cluster-b and cluster-c, Deployments."""
    body: dict[str, Any] = {
        "sourceCluster": "cluster-a",
        "targetClusters": ["cluster-b", "cluster-c"],
        "resources": [{"apiGroup": "apps", "kind": "Deployment"}],
    }
    body.update(spec)
    return policy_from_object(
        {"kind": "ClusterSyncPolicy", "metadata": {"name": "p"}, "spec": body}
    )


def server_copy(desired: dict[str, Any]) -> dict[str, Any]:
    """``desired`` as a target's server returns it: server-set fields and defaults added."""
    obj = copy.deepcopy(desired)
    meta = obj["metadata"]
    meta.update(
        uid="9f", resourceVersion="12", generation=1, creationTimestamp="2026-12-05T04:00:00Z"
    )
    meta["managedFields"] = [{"manager": "kubeops-sync", "operation": "Apply"}]
    meta.setdefault("annotations", {})["deployment.kubernetes.io/revision"] = "1"
    spec = obj.get("spec") or {}
    spec.setdefault("strategy", {"type": "RollingUpdate"})
    spec.setdefault("revisionHistoryLimit", 10)
    for container in ((spec.get("template") or {}).get("spec") or {}).get("containers", []):
        container.setdefault("imagePullPolicy", "IfNotPresent")
        container.setdefault("terminationMessagePath", "/dev/termination-log")
    obj["status"] = {"observedGeneration": 1}
    return obj
