"""Data sets, created once per scenario by the harness with kubeops' own client at high
concurrency (set-up is not measured, only timed and reported)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from kubeops.api import Client
from kubeops.config import load_config
from kubeops.transport.errors import AlreadyExists

CONCURRENCY = 64
PAYLOAD = "x" * 1000  # ~1 KiB ConfigMaps, as the issue asks


def client(kubeconfig: Path) -> Client:
    return Client(load_config(kubeconfig), qps=-1)


async def bounded(count: int, make: Callable[[int], Awaitable[Any]]) -> None:
    """``make(i)`` for every i below ``count``, CONCURRENCY of them at a time."""
    indices = iter(range(count))

    async def worker() -> None:
        for i in indices:
            await make(i)

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


async def namespace(c: Client, name: str) -> None:
    """A namespace with its default ServiceAccount (no controller-manager may be there to add it)."""
    for body in (
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "default", "namespace": name},
        },
    ):
        with contextlib.suppress(AlreadyExists):
            await c.create(body)


async def configmaps(
    kubeconfig: Path, ns: str, count: int, prefix: str, labels: dict[str, str] | None = None
) -> float:
    """``count`` ConfigMaps ``<prefix><i>`` of ~1 KiB in a new namespace; returns seconds taken."""
    start = time.perf_counter()
    async with client(kubeconfig) as c:
        await namespace(c, ns)

        async def make(i: int) -> None:
            body = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"{prefix}{i}", "labels": labels or {}},
                "data": {"payload": PAYLOAD, "ts": "0"},
            }
            await c.create(body, ns)

        await bounded(count, make)
    return time.perf_counter() - start


async def namespaces(kubeconfig: Path, names: list[str]) -> None:
    async with client(kubeconfig) as c:
        await asyncio.gather(*(namespace(c, n) for n in names))


def pod(name: str, node: str, index: int) -> dict[str, Any]:
    """A Pod shaped like a Deployment's, bound to a kwok node (the scheduler is skipped)."""
    app = f"app-{index % 50}"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "labels": {"app": app, "pod-template-hash": "5d4b8c7f9", "tier": "backend"},
            "annotations": {"bench.kubeops.dev/index": str(index)},
        },
        "spec": {
            "nodeName": node,
            "containers": [
                {
                    "name": "app",
                    "image": f"registry.example/{app}:1.2.3",
                    "ports": [{"containerPort": 8080, "name": "http"}],
                    "env": [{"name": "APP", "value": app}, {"name": "LOG_LEVEL", "value": "info"}],
                    "resources": {
                        "requests": {"cpu": "10m", "memory": "16Mi"},
                        "limits": {"cpu": "100m", "memory": "64Mi"},
                    },
                    "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
                }
            ],
            "tolerations": [
                {"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}
            ],
        },
    }


async def pods(kubeconfig: Path, first: int, count: int, per_namespace: int, nodes: int) -> float:
    """Pods ``first .. first+count-1``, ``per_namespace`` to a namespace ``bench-pods-<k>``,
    round-robin over ``nodes`` kwok nodes; returns seconds taken."""
    start = time.perf_counter()
    async with client(kubeconfig) as c:
        wanted = sorted({(first + i) // per_namespace for i in range(count)})
        await asyncio.gather(*(namespace(c, f"bench-pods-{k}") for k in wanted))

        async def make(i: int) -> None:
            index = first + i
            body = pod(f"pod-{index}", f"kwok-node-{index % nodes}", index)
            await c.create(body, f"bench-pods-{index // per_namespace}")

        await bounded(count, make)
    return time.perf_counter() - start


NOT_RUNNING = {
    "fieldSelector": "status.phase!=Running",
    "resourceVersion": "0",
    "includeObject": "None",
}
ROWS = "application/json;as=Table;v=v1;g=meta.k8s.io"


async def wait_running(
    kubeconfig: Path,
    expected: int,
    timeout: float,
    progress: Callable[[str], None] | None = None,
) -> float:
    """Wait until ``expected`` Pods exist and none is outside phase Running (kwok has written
    every status).  Asks only for the Pods not yet Running, from the watch cache, as table
    rows without objects: at 100,000 Pods, listing whole Pods every second would compete
    with kwok for the same two cores."""
    start = time.perf_counter()
    last_report = start
    async with client(kubeconfig) as c:
        while True:
            waiting = await c.request("GET", "/api/v1/pods", params=NOT_RUNNING, accept=ROWS)
            left = len(waiting.json().get("rows") or [])
            if left == 0:
                page = (await c.request("GET", "/api/v1/pods", params={"limit": "1"})).json()
                total = len(page["items"]) + int(page["metadata"].get("remainingItemCount", 0))
                if total >= expected:
                    return time.perf_counter() - start
                left = expected - total
            now = time.perf_counter()
            if now - start > timeout:
                raise TimeoutError(
                    f"{left:,} of {expected:,} Pods not Running after {timeout:.0f}s"
                )
            if progress is not None and now - last_report >= 10:
                progress(f"  {left:,} of {expected:,} Pods not Running yet ({now - start:.0f}s)")
                last_report = now
            # Each poll lists what is left: poll less often while much is (kwok does ~200/s).
            await asyncio.sleep(min(10.0, max(1.0, left / 500)))


async def fresh_namespace(kubeconfig: Path, name: str) -> None:
    async with client(kubeconfig) as c:
        await namespace(c, name)
