"""An API-only cluster of the sources' own: their tests write object status freely
(no controller or kwok overwrites it) and restart or compact the API server
without disturbing the session cluster other tests share."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio

from kubeops.api import Client
from kubeops.config import load_config
from kubeops.respond.event import Event
from kubeops.testenv import Cluster, Environment
from kubeops.transport.breaker import CircuitBreaker


@pytest.fixture(scope="session")
def sources_env() -> Iterator[Environment]:
    with Environment(["sources"], api_only=True) as env:
        yield env


@pytest.fixture(scope="session")
def sources_cluster(sources_env: Environment) -> Cluster:
    return sources_env.cluster()


@pytest.fixture
def namespace(request: pytest.FixtureRequest, sources_cluster: Cluster) -> Iterator[str]:
    stem = re.sub(r"[^a-z0-9-]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    name = f"{stem}-{uuid.uuid4().hex[:6]}"
    sources_cluster.admin.create(
        "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    )
    sources_cluster.admin.create(
        f"/api/v1/namespaces/{name}/serviceaccounts",
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}},
        exist_ok=True,
    )
    yield name
    sources_cluster.admin.delete(f"/api/v1/namespaces/{name}")


@pytest_asyncio.fixture
async def client(sources_cluster: Cluster, namespace: str) -> AsyncIterator[Client]:
    """A client whose breaker lets a probe through a second after a restart (not ten)."""
    config = load_config(sources_cluster.kubeconfig, namespace=namespace)
    async with Client(config, breaker=CircuitBreaker(config.server, cooldown=1.0)) as opened:
        yield opened


class Emitted:
    """Collects what a source emits; ``run`` starts the source as a task."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.task: asyncio.Task[None] | None = None

    async def __call__(self, event: Event) -> None:
        self.events.append(event)

    def named(self, name: str, object_name: str | None = None) -> list[Event]:
        return [
            e
            for e in self.events
            if e.name == name
            and (
                object_name is None
                or (e.object or {}).get("metadata", {}).get("name") == object_name
            )
        ]

    def about(self, object_name: str) -> list[Event]:
        return [
            e
            for e in self.events
            if (e.object or {}).get("metadata", {}).get("name") == object_name
        ]

    async def run(self, source: Any) -> None:
        self.task = asyncio.create_task(source.run(self))
        waiter = asyncio.create_task(source.ready.wait())
        done, _ = await asyncio.wait({self.task, waiter}, timeout=60, return_when="FIRST_COMPLETED")
        if self.task in done:
            waiter.cancel()
            self.task.result()  # raises what the source raised
        assert waiter in done, "the source did not become ready in 60 s"

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


@pytest_asyncio.fixture
async def emitted() -> AsyncIterator[Emitted]:
    collector = Emitted()
    yield collector
    await collector.stop()
