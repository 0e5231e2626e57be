"""A real metrics.k8s.io on testenv: metrics-server scraping kwok's simulated kubelets.

kwok serves each node's kubelet ``/metrics/resource`` endpoint (at
``/metrics/nodes/<node>/metrics/resource``, which the node's
``metrics.k8s.io/resource-metrics-path`` annotation tells metrics-server), with
usage figures a test sets through annotations (:func:`set_usage`):

* a Pod's CPU (cores) and memory (bytes), shared evenly among its containers;
  kwok integrates the CPU rate into the cumulative counter a kubelet reports;
* a Node reports its Pods' usage plus what :func:`set_usage` gives the Node itself
  (the system's share, 50m and 256Mi until set); its CPU counter stays continuous by
  recording, with each new rate, the core-seconds used so far and since when.

metrics-server runs on loopback with its own client certificate and the RBAC its
release manifests grant; the API server's aggregation layer reaches it through an
ExternalName Service (no kube-proxy needed) and authenticates to it with the
front-proxy client certificate, so requests keep their real user.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubeops.models.quantity import bytes_, cpu_cores
from kubeops.testenv.errors import ControlPlaneError
from kubeops.testenv.eventually import eventually

if TYPE_CHECKING:
    from kubeops.testenv.cluster import Cluster

METRICS_API = "/apis/metrics.k8s.io/v1beta1"
# metrics-server's floor; a figure set now shows after at most two scrapes.
RESOLUTION_SECONDS = 10
METRICS_PATH_ANNOTATION = "metrics.k8s.io/resource-metrics-path"
METRICS_PATH = "/metrics/nodes/{name}/metrics/resource"

_PREFIX = "usage.testenv.kubeops.io/"
CPU = _PREFIX + "cpu"  # cores, a decimal number
MEMORY = _PREFIX + "memory"  # bytes
_CPU_BASE = _PREFIX + "cpu-seconds"  # a Node's core-seconds used until _CPU_SINCE
_CPU_SINCE = _PREFIX + "cpu-since"  # unix seconds
# metrics-server drops a container or node that reports zero, as no kubelet does.
_DEFAULT_CPU = 0.001
_DEFAULT_MEMORY = 1048576.0
# A Node's own share (the system's) until a test sets it.
_NODE_CPU = 0.05
_NODE_MEMORY = 268435456.0

_NAME = "metrics-server"
_NAMESPACE = "kube-system"
_SYSTEM_NAMESPACE_PATH = f"/api/v1/namespaces/{_NAMESPACE}"


def _annotation(obj: str, key: str, default: float) -> str:
    """A CEL expression: the annotation ``key`` of ``obj`` as a double, else ``default``."""
    value = f"{obj}.metadata.annotations[{json.dumps(key)}]"
    return f"({json.dumps(key)} in {obj}.metadata.annotations ? double({value}) : {default})"


def _node_cpu_extra() -> str:
    rate = _annotation("node", CPU, _NODE_CPU)
    base = _annotation("node", _CPU_BASE, 0.0)
    since = _annotation("node", _CPU_SINCE, 0.0)
    return f"({base} + {rate} * (UnixSecond(Now()) - {since}))"


def kwok_config() -> str:
    """kwok's Metric (the kubelet resource endpoint) and ClusterResourceUsage (the
    Pods' usage from their annotations), as a multi-document YAML config."""
    per_container = "double(size(pod.spec.containers))"
    cpu = f"{_annotation('pod', CPU, _DEFAULT_CPU)} / {per_container}"
    memory = f"{_annotation('pod', MEMORY, _DEFAULT_MEMORY)} / {per_container}"
    container_labels = [
        {"name": "container", "value": "container.name"},
        {"name": "namespace", "value": "pod.metadata.namespace"},
        {"name": "pod", "value": "pod.metadata.name"},
    ]

    def metric(name: str, dimension: str, kind: str, value: str) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "name": name,
            "dimension": dimension,
            "kind": kind,
            "help": name,
            "value": value,
        }
        if dimension == "container":
            entry["labels"] = container_labels
        return entry

    memory_extra = _annotation("node", MEMORY, _NODE_MEMORY)
    metric_config = {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "Metric",
        "metadata": {"name": "kubeops-testenv-resource"},
        "spec": {
            "path": METRICS_PATH.replace("{name}", "{nodeName}"),
            "metrics": [
                metric("scrape_error", "node", "gauge", "0"),
                metric(
                    "node_cpu_usage_seconds_total",
                    "node",
                    "counter",
                    f'node.CumulativeUsage("cpu") + {_node_cpu_extra()}',
                ),
                metric(
                    "node_memory_working_set_bytes",
                    "node",
                    "gauge",
                    f'node.Usage("memory") + {memory_extra}',
                ),
                metric(
                    "container_start_time_seconds",
                    "container",
                    "gauge",
                    "UnixSecond(pod.metadata.creationTimestamp)",
                ),
                # kwok's counter is 0 at its first reading, which metrics-server
                # drops; a constant offset keeps that reading, so a new Pod's usage
                # shows one scrape sooner (the offset cancels out of every rate).
                metric(
                    "container_cpu_usage_seconds_total",
                    "container",
                    "counter",
                    'pod.CumulativeUsage("cpu", container.name) + 0.000001',
                ),
                metric(
                    "container_memory_working_set_bytes",
                    "container",
                    "gauge",
                    'pod.Usage("memory", container.name)',
                ),
            ],
        },
    }
    usage_config = {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "ClusterResourceUsage",
        "metadata": {"name": "kubeops-testenv-usage"},
        "spec": {
            "usages": [{"usage": {"cpu": {"expression": cpu}, "memory": {"expression": memory}}}]
        },
    }
    # JSON is YAML; one document each.
    return "\n---\n".join(json.dumps(doc, indent=1) for doc in (metric_config, usage_config))


def metrics_server_args(binary: Path, kubeconfig: Path, port: int, cert_dir: Path) -> list[str]:
    """metrics-server's command line: on loopback, scraping kwok through each node's
    InternalIP and kubelet port (kwok's, published in the node status)."""
    return [
        str(binary),
        "--bind-address=127.0.0.1",
        f"--secure-port={port}",
        f"--cert-dir={cert_dir}",
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        # kwok's serving certificate is self-signed, as a kubelet's often is.
        "--kubelet-insecure-tls",
        "--kubelet-preferred-address-types=InternalIP",
        "--kubelet-use-node-status-port",
        f"--metric-resolution={RESOLUTION_SECONDS}s",
        "--kubelet-request-timeout=5s",
        "--profiling=false",
    ]


def register(cluster: Cluster, port: int) -> None:
    """Grant metrics-server what its release manifests grant, and serve its API
    through the aggregation layer at ``127.0.0.1:port``."""
    from kubeops.testenv.pki import METRICS_SERVER_USER

    admin = cluster.admin
    rbac = "/apis/rbac.authorization.k8s.io/v1"
    user = [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": METRICS_SERVER_USER}]
    reader_labels = {
        f"rbac.authorization.k8s.io/aggregate-to-{role}": "true"
        for role in ("view", "edit", "admin")
    }
    objects: list[tuple[str, dict[str, Any]]] = [
        (
            f"{rbac}/clusterroles",
            {
                "metadata": {"name": "system:aggregated-metrics-reader", "labels": reader_labels},
                "rules": [
                    {
                        "apiGroups": ["metrics.k8s.io"],
                        "resources": ["pods", "nodes"],
                        "verbs": ["get", "list", "watch"],
                    }
                ],
            },
        ),
        (
            f"{rbac}/clusterroles",
            {
                "metadata": {"name": "system:metrics-server"},
                "rules": [
                    {"apiGroups": [""], "resources": ["nodes/metrics"], "verbs": ["get"]},
                    {
                        "apiGroups": [""],
                        "resources": ["pods", "nodes"],
                        "verbs": ["get", "list", "watch"],
                    },
                ],
            },
        ),
        (
            f"{rbac}/clusterrolebindings",
            {
                "metadata": {"name": "system:metrics-server"},
                "roleRef": _role("ClusterRole", "system:metrics-server"),
                "subjects": user,
            },
        ),
        (
            f"{rbac}/clusterrolebindings",
            {
                "metadata": {"name": "metrics-server:system:auth-delegator"},
                "roleRef": _role("ClusterRole", "system:auth-delegator"),
                "subjects": user,
            },
        ),
        (
            f"{rbac}/namespaces/{_NAMESPACE}/rolebindings",
            {
                "metadata": {"name": "metrics-server-auth-reader"},
                "roleRef": _role("Role", "extension-apiserver-authentication-reader"),
                "subjects": user,
            },
        ),
    ]
    for path, body in objects:
        admin.create(path, body, exist_ok=True)
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": _NAME},
        # The aggregator dials an ExternalName as it is: loopback, no kube-proxy.
        "spec": {"type": "ExternalName", "externalName": "127.0.0.1"},
    }
    admin.request("DELETE", f"{_SYSTEM_NAMESPACE_PATH}/services/{_NAME}", ok=(404,))
    admin.create(f"{_SYSTEM_NAMESPACE_PATH}/services", service)
    apiservice = {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": "v1beta1.metrics.k8s.io"},
        "spec": {
            "group": "metrics.k8s.io",
            "version": "v1beta1",
            "groupPriorityMinimum": 100,
            "versionPriority": 100,
            # As metrics-server's own manifests: its serving certificate is self-signed.
            "insecureSkipTLSVerify": True,
            "service": {"namespace": _NAMESPACE, "name": _NAME, "port": port},
        },
    }
    path = "/apis/apiregistration.k8s.io/v1/apiservices"
    admin.request("DELETE", f"{path}/v1beta1.metrics.k8s.io", ok=(404,))
    admin.create(path, apiservice)


def _role(kind: str, name: str) -> dict[str, str]:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name}


def served(cluster: Cluster) -> bool:
    """True once the API server answers metrics for every simulated node."""
    answer = cluster.admin.request("GET", f"{METRICS_API}/nodes", ok=(403, 404, 503))
    if not answer or answer.get("kind") != "NodeMetricsList":
        return False
    return len(answer.get("items") or []) >= cluster.nodes


# -- usage figures -------------------------------------------------------------------------


def set_usage(
    cluster: Cluster,
    obj: Mapping[str, Any],
    *,
    cpu: str | float | None = None,
    memory: str | int | None = None,
) -> None:
    """Make a Pod or Node use ``cpu`` (a quantity: "950m", 2) and ``memory`` ("200Mi").

    A Pod's figures are its total, shared evenly among its containers; a Node's add
    to its Pods' usage.  metrics.k8s.io shows them after at most two scrapes
    (:data:`RESOLUTION_SECONDS` each); :func:`wait_usage` waits for that.
    """
    kind, namespace, name = _identity(obj)
    path = _object_path(kind, namespace, name)
    annotations: dict[str, str] = {}
    if cpu is not None:
        rate = cpu_cores(str(cpu))
        annotations[CPU] = repr(rate)
        if kind == "Node":
            # The counter's value now, as kwok computes it, becomes the new base.
            current = cluster.admin.get(path)["metadata"].get("annotations") or {}
            now = time.time()
            old_rate = float(current.get(CPU, _NODE_CPU))
            since = float(current.get(_CPU_SINCE, 0.0))
            used = float(current.get(_CPU_BASE, 0.0)) + old_rate * max(0.0, now - since)
            annotations[_CPU_BASE] = repr(used)
            annotations[_CPU_SINCE] = repr(now)
    if memory is not None:
        annotations[MEMORY] = str(bytes_(str(memory)))
    if not annotations:
        return
    cluster.admin.patch(path, {"metadata": {"annotations": annotations}})


def usage(cluster: Cluster, obj: Mapping[str, Any]) -> dict[str, float] | None:
    """What metrics.k8s.io reports for the Pod (summed over its containers) or Node:
    ``{"cpu": cores, "memory": bytes}``, or None while it reports nothing."""
    kind, namespace, name = _identity(obj)
    if kind == "Node":
        path = f"{METRICS_API}/nodes/{name}"
    else:
        path = f"{METRICS_API}/namespaces/{namespace}/pods/{name}"
    answer = cluster.admin.request("GET", path, ok=(404, 503))
    if not answer or answer.get("kind") == "Status":
        return None
    if kind == "Node":
        figures = [answer.get("usage") or {}]
    else:
        figures = [c.get("usage") or {} for c in answer.get("containers") or []]
    if not figures or not all(f.get("cpu") and f.get("memory") for f in figures):
        return None
    return {
        "cpu": sum(cpu_cores(str(f["cpu"])) for f in figures),
        "memory": float(sum(bytes_(str(f["memory"])) for f in figures)),
    }


def wait_usage(
    cluster: Cluster,
    obj: Mapping[str, Any],
    *,
    cpu: str | float | None = None,
    memory: str | int | None = None,
    tolerance: float = 0.05,
    timeout: float = 90.0,
) -> dict[str, float]:
    """Wait until metrics.k8s.io reports ``cpu``/``memory`` (within ``tolerance``, a
    fraction) for the Pod or Node; returns the figures it reported."""
    want: dict[str, float] = {}
    if cpu is not None:
        want["cpu"] = cpu_cores(str(cpu))
    if memory is not None:
        want["memory"] = float(bytes_(str(memory)))
    kind, namespace, name = _identity(obj)

    def reported() -> dict[str, float]:
        seen = usage(cluster, obj)
        if seen is None:
            return {}
        close = all(abs(seen[k] - want[k]) <= tolerance * max(want[k], 1e-9) for k in want)
        return seen if close else {}

    where = f"{namespace}/{name}" if namespace else name
    return eventually(
        reported,
        timeout=timeout,
        interval=1.0,
        message=f"metrics.k8s.io to report {want} for {kind} {where}",
        ignore=(ControlPlaneError,),
    )


def _identity(obj: Mapping[str, Any]) -> tuple[str, str | None, str]:
    meta = obj.get("metadata") or {}
    # A list's items carry no kind: a namespaced one is a Pod, a cluster-wide one a Node.
    kind = str(obj.get("kind") or ("Pod" if meta.get("namespace") else "Node"))
    name = str(meta.get("name") or "")
    if kind not in ("Pod", "Node") or not name:
        raise ValueError(f"set_usage takes a Pod or a Node object, not {kind or 'an object'!r}")
    namespace = meta.get("namespace") or ("default" if kind == "Pod" else None)
    return kind, namespace, name


def _object_path(kind: str, namespace: str | None, name: str) -> str:
    if kind == "Node":
        return f"/api/v1/nodes/{name}"
    return f"/api/v1/namespaces/{namespace}/pods/{name}"
