"""The objects an inspection judges, read once per cluster (or from manifests).

Checks never talk to the API server: :func:`collect_snapshot` lists every resource the
enabled checks need, concurrently, and records why a list failed (forbidden, API
not served) so the checks that needed it are reported as not run rather than
silently passed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kubeops.api import Client, Object
    from kubeops.inspect.catalog import PodSpecOwner

# Snapshot key → the name the client resolves (kubectl-style), and whether it is namespaced.
RESOURCES: dict[str, tuple[str, bool]] = {
    "nodes": ("nodes", False),
    "namespaces": ("namespaces", False),
    "pods": ("pods", True),
    "services": ("services", True),
    "endpointslices": ("endpointslices.discovery.k8s.io", True),
    "configmaps": ("configmaps", True),
    "secrets": ("secrets", True),
    "serviceaccounts": ("serviceaccounts", True),
    "deployments": ("deployments.apps", True),
    "statefulsets": ("statefulsets.apps", True),
    "daemonsets": ("daemonsets.apps", True),
    "replicasets": ("replicasets.apps", True),
    "jobs": ("jobs.batch", True),
    "cronjobs": ("cronjobs.batch", True),
    "hpas": ("horizontalpodautoscalers.autoscaling", True),
    "pdbs": ("poddisruptionbudgets.policy", True),
    "ingresses": ("ingresses.networking.k8s.io", True),
    "ingressclasses": ("ingressclasses.networking.k8s.io", False),
    "networkpolicies": ("networkpolicies.networking.k8s.io", True),
    "pvcs": ("persistentvolumeclaims", True),
    "pvs": ("persistentvolumes", False),
    "storageclasses": ("storageclasses.storage.k8s.io", False),
    "clusterroles": ("clusterroles.rbac.authorization.k8s.io", False),
    "clusterrolebindings": ("clusterrolebindings.rbac.authorization.k8s.io", False),
    "roles": ("roles.rbac.authorization.k8s.io", True),
    "rolebindings": ("rolebindings.rbac.authorization.k8s.io", True),
    "resourcequotas": ("resourcequotas", True),
    "limitranges": ("limitranges", True),
    "events": ("events", True),
    "nodemetrics": ("nodes.metrics.k8s.io", False),
    "podmetrics": ("pods.metrics.k8s.io", True),
}

# Not a LIST: the API server's own count of requests to deprecated APIs (/metrics).
DEPRECATED_REQUESTS = "deprecatedrequests"
# Every object: of the manifests, whatever its kind (static), or of every resource
# above but events and metrics (live).
ALL = "all"
_NOT_IN_ALL = frozenset({"events", "nodemetrics", "podmetrics"})

KIND_TO_RESOURCE = {
    "Node": "nodes",
    "Namespace": "namespaces",
    "Pod": "pods",
    "Service": "services",
    "EndpointSlice": "endpointslices",
    "ConfigMap": "configmaps",
    "Secret": "secrets",
    "ServiceAccount": "serviceaccounts",
    "Deployment": "deployments",
    "StatefulSet": "statefulsets",
    "DaemonSet": "daemonsets",
    "ReplicaSet": "replicasets",
    "Job": "jobs",
    "CronJob": "cronjobs",
    "HorizontalPodAutoscaler": "hpas",
    "PodDisruptionBudget": "pdbs",
    "Ingress": "ingresses",
    "IngressClass": "ingressclasses",
    "NetworkPolicy": "networkpolicies",
    "PersistentVolumeClaim": "pvcs",
    "PersistentVolume": "pvs",
    "StorageClass": "storageclasses",
    "ClusterRole": "clusterroles",
    "ClusterRoleBinding": "clusterrolebindings",
    "Role": "roles",
    "RoleBinding": "rolebindings",
    "ResourceQuota": "resourcequotas",
    "LimitRange": "limitranges",
    "Event": "events",
}

_TEMPLATE_PATHS = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}


@dataclass
class Snapshot:
    """Objects by resource key, and why the missing resources are missing."""

    cluster: str
    static: bool = False
    server_version: str = ""
    data: dict[str, list[Object]] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    namespaces: Sequence[str] | None = None
    # Static mode: id(object) -> (file, line) of the manifest it came from.
    locations: dict[int, tuple[str, int]] = field(default_factory=dict)
    _indexes: dict[str, dict[tuple[str | None, str], Object]] = field(default_factory=dict)
    _pod_specs: list[PodSpecOwner] | None = None

    def has(self, resource: str) -> bool:
        """Whether ``resource`` was read (a resource that could not be is in ``missing``)."""
        return resource in self.data

    def objects(self, resource: str) -> list[Object]:
        """The objects of ``resource`` (empty when it was not read)."""
        return self.data.get(resource, [])

    def index(self, resource: str) -> dict[tuple[str | None, str], Object]:
        """Objects of a resource by (namespace, name)."""
        found = self._indexes.get(resource)
        if found is None:
            found = {}
            for obj in self.objects(resource):
                meta = obj.get("metadata") or {}
                found[(meta.get("namespace") or None, meta.get("name", ""))] = obj
            self._indexes[resource] = found
        return found

    def pod_specs(self) -> list[PodSpecOwner]:
        """Every Pod spec once: workloads' templates, and Pods no listed workload owns."""
        if self._pod_specs is None:
            self._pod_specs = list(_pod_specs(self))
        return self._pod_specs

    @classmethod
    def from_objects(
        cls,
        objects: Iterable[Object],
        name: str = "manifests",
        locations: dict[int, tuple[str, int]] | None = None,
    ) -> Snapshot:
        """A static snapshot of manifests: every known kind under its key, all under
        ``all``; ``locations`` maps ``id(object)`` to the file and line it came from."""
        snapshot = cls(cluster=name, static=True, locations=dict(locations or {}))
        everything: list[Object] = []
        for obj in objects:
            everything.append(obj)
            key = KIND_TO_RESOURCE.get(str(obj.get("kind", "")))
            if key is not None:
                snapshot.data.setdefault(key, []).append(obj)
        for key in KIND_TO_RESOURCE.values():
            snapshot.data.setdefault(key, [])
        snapshot.data[ALL] = everything
        return snapshot


def _pod_specs(snapshot: Snapshot) -> Iterable[PodSpecOwner]:
    from kubeops.inspect.catalog import PodSpecOwner

    present: set[tuple[str, str | None, str]] = set()
    for kind in [*_TEMPLATE_PATHS, "Pod"]:
        key = KIND_TO_RESOURCE[kind]
        for obj in snapshot.objects(key):
            meta = obj.get("metadata") or {}
            present.add((kind, meta.get("namespace") or None, meta.get("name", "")))

    def owned(obj: Object) -> bool:
        meta = obj.get("metadata") or {}
        for ref in meta.get("ownerReferences") or []:
            if (
                ref.get("controller")
                and (
                    ref.get("kind"),
                    meta.get("namespace") or None,
                    ref.get("name"),
                )
                in present
            ):
                return True
        return False

    for kind, path in _TEMPLATE_PATHS.items():
        for obj in snapshot.objects(KIND_TO_RESOURCE[kind]):
            if owned(obj):
                continue
            template: Any = obj
            for step in path:
                template = template.get(step) if isinstance(template, dict) else None
            if isinstance(template, dict):
                yield PodSpecOwner(obj, template.get("spec") or {}, template.get("metadata") or {})
    for pod in snapshot.objects("pods"):
        if not owned(pod):
            yield PodSpecOwner(pod, pod.get("spec") or {}, pod.get("metadata") or {})


async def collect_snapshot(
    client: Client,
    cluster: str,
    resources: Iterable[str],
    namespaces: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Snapshot:
    """List ``resources`` (snapshot keys) concurrently; failures become ``missing`` reasons."""
    snapshot = Snapshot(cluster=cluster, namespaces=namespaces)
    wanted = list(dict.fromkeys(resources))
    # Live, ``all`` is every object of every resource kind (events and metrics aside),
    # so a check over all objects (say, their last-applied apiVersion) runs on clusters too.
    every = ALL in wanted
    if every:
        wanted = [k for k in wanted if k != ALL]
        wanted += [k for k in RESOURCES if k not in wanted and k not in _NOT_IN_ALL]

    async def one(key: str) -> None:
        try:
            if key == DEPRECATED_REQUESTS:
                snapshot.data[key] = await _deprecated_requests(client)
            else:
                snapshot.data[key] = await _list(client, key, namespaces)
        except Exception as err:  # every failure is reported as a reason, never raised
            snapshot.missing[key] = _reason(key, err)
        if progress is not None:
            progress(f"{cluster}: {key} ({len(snapshot.data.get(key, []))})")

    await asyncio.gather(*(one(key) for key in wanted))
    if every:
        snapshot.data[ALL] = [
            obj for key in RESOURCES if key not in _NOT_IN_ALL for obj in snapshot.objects(key)
        ]
    return snapshot


async def _list(client: Client, key: str, namespaces: Sequence[str] | None) -> list[Object]:
    kind, namespaced = RESOURCES[key]
    if namespaced and namespaces:
        pages = [await client.list(kind, ns) for ns in namespaces]
    else:
        pages = [await client.list(kind, all_namespaces=True)]
    items: list[Object] = []
    for page in pages:
        api_version = page.get("apiVersion", "v1")
        item_kind = str(page.get("kind", "")).removesuffix("List")
        for obj in page.get("items") or []:
            # A LIST's items carry no apiVersion/kind; findings name them.
            obj.setdefault("apiVersion", api_version)
            obj.setdefault("kind", item_kind)
            (obj.get("metadata") or {}).pop("managedFields", None)
            items.append(obj)
    return items


async def _deprecated_requests(client: Client) -> list[Object]:
    """The ``apiserver_requested_deprecated_apis`` gauge: deprecated APIs clients still call."""
    response = await client.request("GET", "/metrics", accept="text/plain")
    return parse_deprecated_metric(response.content.decode("utf-8", "replace"))


def parse_deprecated_metric(text: str) -> list[Object]:
    """Turn the metric's samples into pseudo-objects a check can flag."""
    import re

    found: list[Object] = []
    for line in text.splitlines():
        if not line.startswith("apiserver_requested_deprecated_apis{") or "}" not in line:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', line[: line.rindex("}") + 1]))
        group, version = labels.get("group", ""), labels.get("version", "")
        resource = labels.get("resource", "")
        if labels.get("subresource"):
            resource += "/" + labels["subresource"]
        api_version = f"{group}/{version}" if group else version
        found.append(
            {
                "apiVersion": api_version,
                "kind": "APIResource",
                "metadata": {"name": f"{resource}.{api_version}"},
                "removedRelease": labels.get("removed_release", ""),
            }
        )
    return found


def _reason(key: str, err: BaseException) -> str:
    from kubeops.api.mapper import UnknownKind
    from kubeops.errors import Forbidden, NotFound

    what = RESOURCES[key][0] if key in RESOURCES else key
    if isinstance(err, Forbidden):
        return f"forbidden to list {what}: {err}"
    if isinstance(err, UnknownKind | NotFound):
        if key in ("nodemetrics", "podmetrics"):
            return "the metrics API (metrics.k8s.io) is not served by this cluster"
        return f"the API for {what} is not served by this cluster"
    return f"could not list {what}: {err}"
