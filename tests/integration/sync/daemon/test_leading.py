"""What one replica does while it leads, without a cluster: a worker built per
leadership, readiness from its caches, its metrics shown only while it leads, and a
worker that stops by itself ending the leadership (pure logic, fast)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prometheus_client import Counter, generate_latest

from kubeops.controller import LeaseSettings
from kubeops.sync.daemon import DaemonError, DaemonOptions, SyncDaemon
from kubeops.sync.model import SYSTEM_NAMESPACE
from kubeops.testenv import async_eventually


class Worker:
    """A worker whose caches sync when told, counting what it did in its registry."""

    def __init__(self, registry: Any, stops_by_itself: bool = False) -> None:
        self.counter = Counter("kubeops_sync_test_work", "work done", registry=registry)
        self.caches = asyncio.Event()
        self.running = asyncio.Event()
        self.stops_by_itself = stops_by_itself
        self.stopped_by: str = ""

    def synced(self) -> bool:
        return self.caches.is_set()

    async def run(self, stop: asyncio.Event) -> None:
        self.running.set()
        self.counter.inc()
        if self.stops_by_itself:
            return
        try:
            await stop.wait()
            self.stopped_by = "stop"
        except asyncio.CancelledError:
            self.stopped_by = "cancel"
            raise


def replica(**build: Any) -> tuple[SyncDaemon, list[Worker]]:
    built: list[Worker] = []

    def make(registry: Any, identity: str) -> Worker:
        built.append(Worker(registry, **build))
        return built[-1]

    options = DaemonOptions(
        role="run", lease=LeaseSettings(name="test", namespace=SYSTEM_NAMESPACE), identity="me"
    )
    daemon = SyncDaemon(options, None, None, make)  # type: ignore[arg-type]
    return daemon, built


def metrics(daemon: SyncDaemon) -> str:
    return generate_latest(daemon.registry).decode()


async def test_a_leader_is_ready_once_its_caches_synced_and_shows_its_metrics() -> None:
    daemon, built = replica()
    assert daemon.ready() == (True, "standing by")
    assert "kubeops_sync_test_work" not in metrics(daemon)
    stopped = asyncio.Event()
    leading = asyncio.create_task(daemon.lead(stopped))
    await running(built)
    assert daemon.ready() == (False, "waiting for the caches to sync")
    built[0].caches.set()
    assert daemon.ready() == (True, "leading")
    assert daemon.status()["leader"] is True
    assert "kubeops_sync_test_work_total 1.0" in metrics(daemon)
    assert "kubeops_sync_leader 1.0" in metrics(daemon)

    stopped.set()  # leadership lost: the elector sets stopped, then cancels
    leading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leading
    assert built[0].stopped_by in ("stop", "cancel")
    assert daemon.ready() == (True, "standing by")
    assert "kubeops_sync_test_work" not in metrics(daemon)
    assert "kubeops_sync_leader 0.0" in metrics(daemon)


async def test_each_leadership_builds_a_fresh_worker_and_registry() -> None:
    daemon, built = replica()
    for _ in range(2):
        stopped = asyncio.Event()
        leading = asyncio.create_task(daemon.lead(stopped))
        await running(built)
        stopped.set()
        await leading
    assert len(built) == 2
    assert daemon.leaderships == 2
    assert built[0].counter is not built[1].counter  # no duplicate registration


async def test_a_worker_that_stops_by_itself_ends_the_leadership() -> None:
    daemon, _ = replica(stops_by_itself=True)
    with pytest.raises(DaemonError, match="the worker stopped by itself"):
        await daemon.lead(asyncio.Event())
    assert daemon.leading is False


async def running(built: list[Worker]) -> None:
    """Wait until the newest worker runs."""
    await async_eventually(
        lambda: bool(built) and built[-1].running.is_set(), timeout=5, message="a worker runs"
    )
    built[-1].running.clear()
