"""The delaying queue adds items when their time comes, earliest time first, and stops on shutdown."""

from __future__ import annotations

import asyncio

from kubeops.workqueue import DelayingQueue

from .conftest import FakeTime, settle


def delaying(time: FakeTime) -> DelayingQueue[str]:
    return DelayingQueue(clock=time.clock, sleep=time.sleep)


async def drain(queue: DelayingQueue[str]) -> list[str]:
    items = []
    while len(queue):
        item = await queue.get()
        queue.done(item)
        items.append(item)
    return items


async def test_an_item_is_added_only_once_its_delay_has_passed(fake_time: FakeTime) -> None:
    queue = delaying(fake_time)
    queue.add_after("a", 2.0)
    assert (len(queue), queue.waiting) == (0, 1)
    await fake_time.advance(1.5)
    assert len(queue) == 0
    await fake_time.advance(0.5)
    assert (len(queue), queue.waiting) == (1, 0)
    assert await queue.get() == "a"


async def test_a_waiting_getter_receives_the_delayed_item(fake_time: FakeTime) -> None:
    queue = delaying(fake_time)
    getter = asyncio.create_task(queue.get())
    queue.add_after("a", 1.0)
    await fake_time.advance(1.0)
    assert getter.done()
    assert getter.result() == "a"


async def test_items_are_added_in_order_of_their_ready_time(fake_time: FakeTime) -> None:
    queue = delaying(fake_time)
    queue.add_after("c", 3.0)
    queue.add_after("a", 1.0)
    queue.add_after("b", 2.0)
    queue.add_after("b2", 2.0)
    await fake_time.advance(10)
    assert await drain(queue) == ["a", "b", "b2", "c"]


async def test_a_waiting_item_keeps_the_earlier_time_when_added_later(fake_time: FakeTime) -> None:
    queue = delaying(fake_time)
    queue.add_after("a", 5.0)
    queue.add_after("a", 10.0)
    assert queue.waiting == 1
    await fake_time.advance(5.0)
    assert await drain(queue) == ["a"]
    await fake_time.advance(10.0)
    assert len(queue) == 0, "the later time was dropped, not kept as a second add"


async def test_a_waiting_item_moves_to_the_earlier_time_when_added_sooner(
    fake_time: FakeTime,
) -> None:
    queue = delaying(fake_time)
    queue.add_after("a", 10.0)
    queue.add_after("a", 2.0)
    await fake_time.advance(2.0)
    assert await drain(queue) == ["a"]
    await fake_time.advance(10.0)
    assert len(queue) == 0, "the superseded time adds nothing"
    assert fake_time.sleepers == 0


async def test_a_zero_or_negative_delay_adds_at_once(fake_time: FakeTime) -> None:
    queue = delaying(fake_time)
    queue.add_after("a", 0)
    queue.add_after("b", -1.0)
    assert len(queue) == 2
    assert queue.waiting == 0


async def test_no_timer_sleeps_while_nothing_waits(fake_time: FakeTime) -> None:
    queue = delaying(fake_time)
    assert fake_time.sleepers == 0
    queue.add_after("a", 1.0)
    queue.add_after("b", 3.0)
    await settle()
    assert fake_time.sleepers == 1, "one timer for all waiting items"
    await fake_time.advance(3.0)
    assert fake_time.sleepers == 0


async def test_shutdown_drops_waiting_items_and_stops_the_timer(fake_time: FakeTime) -> None:
    queue = delaying(fake_time)
    queue.add_after("a", 1.0)
    await settle()
    queue.shutdown()
    await settle()
    assert queue.waiting == 0
    assert fake_time.sleepers == 0
    await fake_time.advance(5.0)
    assert len(queue) == 0


async def test_add_after_is_ignored_after_shutdown(fake_time: FakeTime) -> None:
    queue = delaying(fake_time)
    queue.shutdown()
    queue.add_after("a", 1.0)
    queue.add_after("b", 0)
    assert (len(queue), queue.waiting) == (0, 0)


async def test_a_real_delay_elapses_on_the_event_loop() -> None:
    queue: DelayingQueue[str] = DelayingQueue()
    loop = asyncio.get_running_loop()
    start = loop.time()
    queue.add_after("a", 0.02)
    assert await asyncio.wait_for(queue.get(), 1) == "a"
    assert loop.time() - start >= 0.015
    queue.shutdown()
