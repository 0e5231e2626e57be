"""The work queue deduplicates, never hands one item to two workers, and shuts down cleanly."""

from __future__ import annotations

import asyncio
import random
import threading
from collections import Counter

import pytest

from kubeops.workqueue import QueueShutDown, WorkQueue

from .conftest import settle


async def test_an_item_added_again_while_waiting_is_queued_once() -> None:
    queue: WorkQueue[str] = WorkQueue()
    for key in ["a", "b", "a", "a", "b"]:
        queue.add(key)
    assert len(queue) == 2
    assert [await queue.get(), await queue.get()] == ["a", "b"]
    assert len(queue) == 0


async def test_items_are_handed_out_in_the_order_they_were_added() -> None:
    queue: WorkQueue[int] = WorkQueue()
    for key in [3, 1, 4, 5, 9, 2, 6]:
        queue.add(key)
    assert [await queue.get() for _ in range(7)] == [3, 1, 4, 5, 9, 2, 6]


async def test_get_waits_until_an_item_is_added() -> None:
    queue: WorkQueue[str] = WorkQueue()
    getter = asyncio.create_task(queue.get())
    await settle()
    assert not getter.done()
    queue.add("a")
    assert await asyncio.wait_for(getter, 1) == "a"
    assert queue.processing == {"a"}


async def test_waiting_getters_are_served_in_the_order_they_arrived() -> None:
    queue: WorkQueue[str] = WorkQueue()
    getters = [asyncio.create_task(queue.get()) for _ in range(3)]
    await settle()
    for key in ["x", "y", "z"]:
        queue.add(key)
    assert await asyncio.gather(*getters) == ["x", "y", "z"]


async def test_an_item_added_while_being_processed_runs_once_more_after_done() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    assert await queue.get() == "a"
    for _ in range(3):
        queue.add("a")
    assert len(queue) == 0, "not handed out again while being processed"
    getter = asyncio.create_task(queue.get())
    await settle()
    assert not getter.done()
    queue.done("a")
    assert await asyncio.wait_for(getter, 1) == "a"
    queue.done("a")
    assert len(queue) == 0
    assert queue.processing == frozenset()


async def test_an_item_not_added_during_processing_is_not_requeued_by_done() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    queue.done(await queue.get())
    assert len(queue) == 0


async def test_done_for_an_item_not_being_processed_is_refused() -> None:
    queue: WorkQueue[str] = WorkQueue(name="pods")
    queue.add("a")
    with pytest.raises(ValueError, match=r"'pods'.*done\('a'\).*not being processed"):
        queue.done("a")
    assert len(queue) == 1


async def test_no_item_is_processed_by_two_of_many_concurrent_workers() -> None:
    queue: WorkQueue[int] = WorkQueue()
    rng = random.Random(7)
    active: set[int] = set()
    overlaps: list[int] = []
    most_at_once = 0
    runs: Counter[int] = Counter()

    async def worker() -> None:
        nonlocal most_at_once
        async for key in queue:
            if key in active:
                overlaps.append(key)
            active.add(key)
            most_at_once = max(most_at_once, len(active))
            runs[key] += 1
            await asyncio.sleep(rng.choice([0, 0, 0.001]))
            active.discard(key)
            queue.done(key)

    async def producer() -> None:
        for _ in range(400):
            queue.add(rng.randrange(6))
            await asyncio.sleep(0)

    workers = [asyncio.create_task(worker()) for _ in range(8)]
    await producer()
    await queue.shutdown_with_drain()
    await asyncio.wait_for(asyncio.gather(*workers), 2)
    assert overlaps == []
    assert most_at_once > 1, "the workers really ran concurrently"
    assert set(runs) == set(range(6))


async def test_a_cancelled_getter_passes_its_wake_up_to_the_next_getter() -> None:
    queue: WorkQueue[str] = WorkQueue()
    first = asyncio.create_task(queue.get())
    second = asyncio.create_task(queue.get())
    await settle()
    queue.add("a")  # wakes the first getter ...
    first.cancel()  # ... which is cancelled before it can take the item
    assert await asyncio.wait_for(second, 1) == "a"
    assert first.cancelled()


async def test_shutdown_unblocks_every_waiting_getter() -> None:
    queue: WorkQueue[str] = WorkQueue()
    getters = [asyncio.create_task(queue.get()) for _ in range(3)]
    await settle()
    queue.shutdown()
    results = await asyncio.wait_for(asyncio.gather(*getters, return_exceptions=True), 1)
    assert all(isinstance(result, QueueShutDown) for result in results)
    assert queue.shutting_down


async def test_after_shutdown_adds_are_ignored_and_queued_items_still_drain() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    queue.add("b")
    queue.shutdown()
    queue.add("c")
    assert [await queue.get(), await queue.get()] == ["a", "b"]
    with pytest.raises(QueueShutDown):
        await queue.get()


async def test_async_iteration_ends_at_shutdown() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    seen = []

    async def worker() -> None:
        async for key in queue:
            seen.append(key)
            queue.done(key)

    task = asyncio.create_task(worker())
    await settle()
    queue.shutdown()
    await asyncio.wait_for(task, 1)
    assert seen == ["a"]


async def test_shutdown_with_drain_waits_for_items_being_processed() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    queue.add("b")
    a, b = await queue.get(), await queue.get()
    drain = asyncio.create_task(queue.shutdown_with_drain())
    await settle()
    assert queue.shutting_down
    assert not drain.done()
    queue.done(a)
    await settle()
    assert not drain.done()
    queue.done(b)
    await asyncio.wait_for(drain, 1)


async def test_shutdown_with_drain_returns_at_once_when_nothing_is_processing() -> None:
    queue: WorkQueue[str] = WorkQueue()
    await asyncio.wait_for(queue.shutdown_with_drain(), 1)
    assert queue.shutting_down


async def test_shutdown_with_drain_does_not_wait_for_queued_items_not_yet_started() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    queue.add("b")
    a = await queue.get()
    drain = asyncio.create_task(queue.shutdown_with_drain())
    await settle()
    queue.done(a)
    await asyncio.wait_for(drain, 1)
    assert len(queue) == 1, "b was never started and is left queued"
    assert await queue.get() == "b", "getters still drain it after the drain returned"


async def test_shutdown_ends_a_drain_that_is_waiting() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    await queue.get()
    drain = asyncio.create_task(queue.shutdown_with_drain())
    await settle()
    assert not drain.done()
    queue.shutdown()
    await asyncio.wait_for(drain, 1)
    assert queue.processing == {"a"}


async def test_add_threadsafe_adds_from_another_thread() -> None:
    queue: WorkQueue[str] = WorkQueue()
    getter = asyncio.create_task(queue.get())
    thread = threading.Thread(target=queue.add_threadsafe, args=("from-thread",))
    thread.start()
    assert await asyncio.wait_for(getter, 1) == "from-thread"
    thread.join()


def test_add_threadsafe_needs_the_queue_to_know_its_loop() -> None:
    queue: WorkQueue[str] = WorkQueue(name="pods")
    with pytest.raises(RuntimeError, match=r"'pods'.*event loop"):
        queue.add_threadsafe("a")
