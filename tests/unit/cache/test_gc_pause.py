"""The collector pause an informer's fill holds: thresholds put back, never left off."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest

from kubeops.cache.gc_pause import FillPause, collector_paused
from kubeops.testenv import async_eventually


@pytest.fixture(autouse=True)
def thresholds() -> Iterator[tuple[int, int, int]]:
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield (700, 10, 10)
    gc.set_threshold(*saved)


def test_a_pause_stops_automatic_collection_and_puts_the_thresholds_back() -> None:
    pause = FillPause()
    pause.start()
    assert gc.get_threshold()[0] == 0
    assert gc.isenabled()
    assert collector_paused()
    pause.end()
    assert gc.get_threshold() == (700, 10, 10)
    assert not collector_paused()
    pause.end()  # idempotent
    assert gc.get_threshold() == (700, 10, 10)


def test_the_collector_resumes_when_the_last_of_several_fills_ends() -> None:
    first, second = FillPause(), FillPause()
    first.start()
    second.start()
    first.start()  # held once, however often started
    first.end()
    assert gc.get_threshold()[0] == 0
    second.end()
    assert gc.get_threshold() == (700, 10, 10)


def test_a_collector_someone_else_turned_off_is_left_to_them() -> None:
    gc.set_threshold(0, 10, 10)
    pause = FillPause()
    pause.start()
    pause.end()
    assert gc.get_threshold() == (0, 10, 10)


def test_thresholds_changed_during_a_pause_are_kept() -> None:
    pause = FillPause()
    pause.start()
    gc.set_threshold(5000, 20, 20)
    pause.end()
    assert gc.get_threshold() == (5000, 20, 20)


async def test_a_pause_ends_by_itself_after_its_limit() -> None:
    pause = FillPause(max_seconds=0.05)
    pause.start()
    assert gc.get_threshold()[0] == 0
    await async_eventually(lambda: not pause.held, message="the pause to expire")
    assert gc.get_threshold() == (700, 10, 10)


async def test_a_cancelled_fill_lets_go_of_the_collector() -> None:
    pause = FillPause()

    async def fill() -> None:
        pause.start()
        try:
            await asyncio.Event().wait()
        finally:
            pause.end()

    task = asyncio.ensure_future(fill())
    await async_eventually(lambda: pause.held, message="the fill to start")
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert gc.get_threshold() == (700, 10, 10)
