"""One target's lane (queue, workers, probe) on its own: a TargetDown pauses it with
every key kept and no per-key backoff, the probe resumes it and the kept keys are
worked off at once, and another lane never waits (no server: the targets are fakes)."""

from __future__ import annotations

import asyncio
from typing import Any

from kubeops.sync import engine
from kubeops.sync.engine import _Lane
from kubeops.sync.metrics import SyncMetrics
from kubeops.sync.model import Member
from kubeops.sync.ownership import ObjectKey
from kubeops.sync.status import StatusBook
from kubeops.sync.target import Changed, TargetDown
from kubeops.testenv import async_eventually


class FakeTarget:
    """A target that is up or down as the test says, recording what it was asked."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.reachable = True
        self.done: list[ObjectKey] = []
        self.probes = 0

    async def start(self, on_change: Changed) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def probe(self) -> bool:
        self.probes += 1
        return self.reachable

    def synced(self) -> bool:
        return True


class FakeController:
    """What a lane asks of the controller: process a key (on the fake target), the book,
    the metrics, health notices and failures."""

    def __init__(self) -> None:
        self.book = StatusBook()
        self.metrics = SyncMetrics()
        self.health: list[str] = []

    async def process(self, lane: _Lane, item: tuple[str, ObjectKey]) -> None:
        target = lane.target
        assert isinstance(target, FakeTarget)
        await asyncio.sleep(0)
        if not target.reachable:
            raise TargetDown(f"{target.name} is down")
        target.done.append(item[1])

    def member_changed_health(self, name: str) -> None:
        self.health.append(name)

    def failed(self, lane: _Lane, item: Any, err: BaseException) -> None:
        raise AssertionError(f"unexpected failure: {err}")


def _key(i: int) -> ObjectKey:
    return ObjectKey("", "ConfigMap", "ns", f"cm-{i}")


async def test_a_down_lane_keeps_its_keys_and_the_other_lane_goes_on(monkeypatch: Any) -> None:
    monkeypatch.setattr(engine, "PROBE_INTERVAL", 0.05)
    controller: Any = FakeController()
    down_target, up_target = FakeTarget("b"), FakeTarget("c")
    down = _Lane(controller, Member("b"), down_target, 4)  # type: ignore[arg-type]
    up = _Lane(controller, Member("c"), up_target, 4)  # type: ignore[arg-type]
    await down.start()
    await up.start()
    try:
        down_target.reachable = False
        for i in range(50):
            down.add(("p", _key(i)), seen=0.0)
            up.add(("p", _key(i)), seen=0.0)
        await async_eventually(lambda: len(up_target.done) == 50, timeout=5)
        await async_eventually(lambda: not down.up.is_set(), timeout=5)
        probes = down_target.probes
        await async_eventually(lambda: down_target.probes >= probes + 3, timeout=5)
        assert down_target.done == []
        assert controller.health == ["b"]
        assert all(down.queue.num_requeues(("p", _key(i))) == 0 for i in range(50))
        registry = controller.metrics.registry
        assert registry.get_sample_value("kubeops_sync_target_up", {"target": "b"}) == 0
        assert registry.get_sample_value("kubeops_sync_target_up", {"target": "c"}) == 1

        # More changes while it is down: queued once each.
        for i in range(50, 60):
            down.add(("p", _key(i)))
        down_target.reachable = True
        await async_eventually(lambda: len(down_target.done) >= 60, timeout=5)
        assert sorted(k.name for k in down_target.done) == sorted(f"cm-{i}" for i in range(60))
        assert down.up.is_set()
        assert controller.health == ["b", "b"]
        assert registry.get_sample_value("kubeops_sync_target_up", {"target": "b"}) == 1
    finally:
        await down.stop()
        await up.stop()
