"""Create, read, patch, server-side apply and delete on every kind automation commonly touches."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kubeops.api import Client
from kubeops.config import load_config
from kubeops.errors import NotFound
from kubeops.testenv import Cluster, async_eventually

POD_TEMPLATE: dict[str, Any] = {
    "metadata": {"labels": {"app": "k"}},
    "spec": {"containers": [{"name": "c", "image": "busybox"}]},
}
SELECTOR = {"matchLabels": {"app": "k"}}

KINDS: dict[str, dict[str, Any]] = {
    "v1/ConfigMap": {"data": {"a": "b"}},
    "v1/Secret": {"stringData": {"password": "s3cret"}},
    "v1/Service": {"spec": {"selector": {"app": "k"}, "ports": [{"port": 80}]}},
    "v1/ServiceAccount": {},
    "v1/Pod": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}},
    "v1/PersistentVolumeClaim": {
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    },
    "apps/v1/Deployment": {"spec": {"selector": SELECTOR, "template": POD_TEMPLATE}},
    "apps/v1/StatefulSet": {
        "spec": {"selector": SELECTOR, "serviceName": "k", "template": POD_TEMPLATE}
    },
    "apps/v1/DaemonSet": {"spec": {"selector": SELECTOR, "template": POD_TEMPLATE}},
    "batch/v1/Job": {
        "spec": {"template": {"spec": {**POD_TEMPLATE["spec"], "restartPolicy": "Never"}}}
    },
    "batch/v1/CronJob": {
        "spec": {
            "schedule": "*/5 * * * *",
            "jobTemplate": {
                "spec": {"template": {"spec": {**POD_TEMPLATE["spec"], "restartPolicy": "Never"}}}
            },
        }
    },
    "networking.k8s.io/v1/Ingress": {
        "spec": {"defaultBackend": {"service": {"name": "k", "port": {"number": 80}}}}
    },
    "networking.k8s.io/v1/NetworkPolicy": {"spec": {"podSelector": {}}},
    "policy/v1/PodDisruptionBudget": {"spec": {"minAvailable": 1, "selector": SELECTOR}},
    "autoscaling/v2/HorizontalPodAutoscaler": {
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "k"},
            "maxReplicas": 3,
        }
    },
    "rbac.authorization.k8s.io/v1/Role": {
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]
    },
    "rbac.authorization.k8s.io/v1/RoleBinding": {
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "k"},
        "subjects": [{"kind": "ServiceAccount", "name": "k"}],
    },
    "coordination.k8s.io/v1/Lease": {"spec": {"holderIdentity": "me"}},
}


@pytest.mark.parametrize("kind", list(KINDS))
async def test_kind_round_trip(client: Client, kind: str) -> None:
    api_version, _, kind_name = kind.rpartition("/")
    obj = {"apiVersion": api_version, "kind": kind_name, "metadata": {"name": "k"}, **KINDS[kind]}
    created = await client.create(obj)
    assert created["metadata"]["uid"]
    fetched = await client.get(kind, "k")
    assert fetched["metadata"]["uid"] == created["metadata"]["uid"]
    patched = await client.patch(kind, "k", {"metadata": {"labels": {"patched": "yes"}}})
    assert patched["metadata"]["labels"]["patched"] == "yes"
    applied = await client.apply(
        {
            "apiVersion": api_version,
            "kind": kind_name,
            "metadata": {"name": "k", "annotations": {"by": "ssa"}},
        },
        field_manager="kinds-test",
    )
    assert applied["metadata"]["annotations"]["by"] == "ssa"
    listed = await client.list(kind)
    assert [o["metadata"]["name"] for o in listed["items"] if o["metadata"]["name"] == "k"] == ["k"]
    await client.delete(kind, "k", grace_period_seconds=0)

    async def deleted() -> bool:
        try:
            await client.get(kind, "k")
        except NotFound:
            return True
        return False

    await async_eventually(deleted, timeout=10, message=f"{kind} k to be deleted")


async def test_pagination_over_thousands_of_objects(
    kube_cluster: Cluster, kube_namespace: str
) -> None:
    config = load_config(kube_cluster.kubeconfig, namespace=kube_namespace)
    async with Client(config, qps=-1) as client:  # no client-side limit for the bulk load
        await _bulk_list(client)


async def _bulk_list(client: Client) -> None:
    gate = asyncio.Semaphore(32)

    async def make(i: int) -> None:
        async with gate:
            await client.create(
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"bulk-{i:04d}"}}
            )

    await asyncio.gather(*(make(i) for i in range(2500)))
    listed = await client.list("configmaps", page_size=300)
    names = sorted(
        o["metadata"]["name"] for o in listed["items"] if o["metadata"]["name"].startswith("bulk-")
    )
    assert names == [f"bulk-{i:04d}" for i in range(2500)]
    count = 0
    async for obj in client.iterate("configmaps", page_size=1000):
        count += obj["metadata"]["name"].startswith("bulk-")
    assert count == 2500
