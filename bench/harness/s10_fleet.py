"""S10's clusters as the harness sees them: the source's Deployments (made, then changed one
at a time) and a watch on every target recording when each revision arrived.

Every Deployment carries a revision number in its pod template's annotations; the
harness alone writes the source, so it knows the revision each target must show.
A target is converged when every Deployment is there at its expected revision; a
change has propagated when every target shows its revision (or a later one).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from harness import dataset
from kubeops.api import Client, RetryPolicy
from kubeops.config import load_config
from kubeops.testenv import async_eventually
from kubeops.transport.breaker import CircuitBreaker

NAMESPACE = "bench-s10"
REVISION = "bench.kubeops.io/revision"
RECONNECT = 0.1  # a target's watch, once broken, is tried again this often


def name(index: int) -> str:
    return f"s10-{index:04d}"


def deployment(index: int, revision: int) -> dict[str, Any]:
    """A Deployment as teams write them (~1.6 KiB): labels, probes, resources, env."""
    app = name(index)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": app,
            "namespace": NAMESPACE,
            "labels": {"app": app, "tier": ("web", "api", "worker")[index % 3], "env": "prod"},
            "annotations": {"team": f"team-{index % 12}"},
        },
        "spec": {
            "replicas": 2 + index % 3,
            "selector": {"matchLabels": {"app": app}},
            "template": {
                "metadata": {"labels": {"app": app}, "annotations": {REVISION: str(revision)}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": f"registry.example.com/s10/app:1.{index % 7}.0",
                            "ports": [{"name": "http", "containerPort": 8080}],
                            "env": [
                                {"name": f"SETTING_{k}", "value": f"value-{index}-{k}"}
                                for k in range(8)
                            ],
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "128Mi"},
                                "limits": {"cpu": "500m", "memory": "256Mi"},
                            },
                            "readinessProbe": {
                                "httpGet": {"path": "/healthz", "port": "http"},
                                "periodSeconds": 10,
                            },
                        }
                    ]
                },
            },
        },
    }


def client(kubeconfig: Path | str) -> Client:
    """A client that never gives up on a target that is down: no retries, no circuit breaker
    (a breaker's cool-down would be counted against the contender's catch-up)."""
    config = load_config(kubeconfig)
    return Client(
        config,
        qps=-1,
        retry=RetryPolicy(max_retries=0),
        breaker=CircuitBreaker(config.server, failure_threshold=10**9),
    )


async def make_source(kubeconfig: Path, count: int) -> dict[str, int]:
    """The source's Deployments at revision 0; returns the revision of each by name."""
    async with dataset.client(kubeconfig) as c:
        await dataset.namespace(c, NAMESPACE)
        existing = {
            d["metadata"]["name"] for d in (await c.list("deployments", NAMESPACE))["items"]
        }
        await dataset.bounded(
            count,
            lambda i: _noop() if name(i) in existing else c.create(deployment(i, 0), NAMESPACE),
        )
        # Revisions of Deployments left by an earlier size are read back, not assumed.
        revisions = {name(i): 0 for i in range(count)}
        for d in (await c.list("deployments", NAMESPACE))["items"]:
            if d["metadata"]["name"] in revisions:
                revisions[d["metadata"]["name"]] = revision_of(d) or 0
    return revisions


async def _noop() -> None:
    return None


async def change(c: Client, name_: str, revision: int) -> None:
    """One change on the source: a new revision of one Deployment's pod template."""
    patch = {"spec": {"template": {"metadata": {"annotations": {REVISION: str(revision)}}}}}
    await c.patch("deployments", name_, patch, NAMESPACE)


async def clean(kubeconfigs: list[Path]) -> None:
    """Every target without Deployments in the namespace (which stays: no controller-manager
    is there to finish a namespace's deletion), ready for the next contender."""

    async def one(kubeconfig: Path) -> None:
        async with dataset.client(kubeconfig) as c:
            await dataset.namespace(c, NAMESPACE)
            await c.delete_collection("deployments", NAMESPACE)

    await asyncio.gather(*(one(k) for k in kubeconfigs))


def revision_of(obj: dict[str, Any]) -> int | None:
    annotations = (
        obj.get("spec", {}).get("template", {}).get("metadata", {}).get("annotations") or {}
    )
    try:
        return int(annotations[REVISION])
    except (KeyError, TypeError, ValueError):
        return None


class TargetView:
    """One target's Deployments as a watch shows them, and when each revision arrived.

    ``arm(expected)`` starts a convergence count: ``converged_at`` is the monotonic
    time of the event after which every expected Deployment is at its revision.
    """

    def __init__(self, name_: str, kubeconfig: Path) -> None:
        self.name = name_
        self.kubeconfig = kubeconfig
        self.revisions: dict[str, int] = {}
        self.arrivals: dict[str, list[tuple[float, int]]] = {}
        self.synced = asyncio.Event()
        self.expected: dict[str, int] = {}
        self.matching = 0
        self.converged_at: float | None = None
        self.reconnects = 0

    def arm(self, expected: dict[str, int]) -> None:
        self.expected = dict(expected)
        self.matching = sum(1 for n, r in self.expected.items() if self.revisions.get(n) == r)
        self.converged_at = time.monotonic() if self.matching == len(self.expected) else None

    def stale(self) -> int:
        """Expected Deployments not (yet) at their revision."""
        return len(self.expected) - self.matching

    def _set(self, name_: str, revision: int | None, now: float) -> None:
        before = self.revisions.get(name_)
        if revision is None:
            self.revisions.pop(name_, None)
        else:
            self.revisions[name_] = revision
            self.arrivals.setdefault(name_, []).append((now, revision))
        want = self.expected.get(name_)
        if want is None or before == revision:
            return
        if revision == want:
            self.matching += 1
        elif before == want:
            self.matching -= 1
        if self.converged_at is None and self.matching == len(self.expected):
            self.converged_at = now

    def _replace(self, items: list[dict[str, Any]], now: float) -> None:
        listed = {d["metadata"]["name"]: revision_of(d) for d in items}
        for gone in set(self.revisions) - set(listed):
            self._set(gone, None, now)
        for name_, revision in listed.items():
            self._set(name_, revision, now)

    async def run(self) -> None:
        """List, then watch from the list; on any failure list again (after RECONNECT)."""
        async with client(self.kubeconfig) as c:
            while True:
                try:
                    listing = await c.list("deployments", NAMESPACE)
                    self._replace(listing["items"], time.monotonic())
                    self.synced.set()
                    version = str(listing["metadata"]["resourceVersion"])
                    async for event in c.watch("deployments", NAMESPACE, resource_version=version):
                        now = time.monotonic()
                        if event.type == "BOOKMARK":
                            continue
                        name_ = event.object["metadata"]["name"]
                        deleted = event.type == "DELETED"
                        self._set(name_, None if deleted else revision_of(event.object), now)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    self.reconnects += 1
                    await asyncio.sleep(RECONNECT)

    def first_at(self, name_: str, revision: int) -> float | None:
        """When this target first showed ``revision`` (or a later one) of ``name_``."""
        for at, seen in self.arrivals.get(name_, ()):
            if seen >= revision:
                return at
        return None


@contextlib.asynccontextmanager
async def watching(views: list[TargetView]) -> AsyncIterator[list[TargetView]]:
    """The views' watches running (each listed once) for the block's duration."""
    tasks = [asyncio.create_task(v.run()) for v in views]
    try:
        await async_eventually(
            lambda: all(v.synced.is_set() for v in views),
            timeout=120,
            message="every target's watch listed once",
        )
        yield views
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
