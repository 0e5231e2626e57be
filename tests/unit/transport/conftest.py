"""A fake monotonic clock and sleep, so rate-limit and breaker tests are exact and instant."""

from __future__ import annotations

import asyncio
import heapq
import itertools

import pytest


class FakeTime:
    """Time moves only when a test advances it; sleepers wake in the order of their deadlines.

    With ``auto=True`` a sleep advances the clock itself, for tests with one task.
    """

    def __init__(self, *, auto: bool = False) -> None:
        self.now = 0.0
        self.auto = auto
        self.sleeps: list[float] = []
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        if self.auto:
            self.now += delay
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + delay, next(self._seq), future))
        await future

    async def settle(self) -> None:
        """Let every runnable task run until it blocks again."""
        for _ in range(20):
            await asyncio.sleep(0)

    async def advance(self, seconds: float) -> None:
        target = self.now + seconds
        await self.settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            when, _, future = heapq.heappop(self._sleepers)
            self.now = max(self.now, when)
            if not future.done():
                future.set_result(None)
            await self.settle()
        self.now = target
        await self.settle()


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def auto_time() -> FakeTime:
    return FakeTime(auto=True)
