"""The rate-limiting queue retries an item after its limiter's delay until it is forgotten."""

from __future__ import annotations

from kubeops.workqueue import (
    ItemExponentialFailureRateLimiter,
    MaxOfRateLimiter,
    RateLimitingQueue,
)

from .conftest import FakeTime


def limited(time: FakeTime) -> RateLimitingQueue[str]:
    limiter = ItemExponentialFailureRateLimiter[str](1.0, 60.0)
    return RateLimitingQueue(limiter, clock=time.clock, sleep=time.sleep)


async def test_add_rate_limited_adds_after_the_limiters_growing_delay(fake_time: FakeTime) -> None:
    queue = limited(fake_time)
    for expected_delay in [1.0, 2.0, 4.0]:
        queue.add_rate_limited("a")
        await fake_time.advance(expected_delay - 0.5)
        assert len(queue) == 0
        await fake_time.advance(0.5)
        assert len(queue) == 1
        queue.done(await queue.get())
    assert queue.num_requeues("a") == 3


async def test_forget_restarts_the_items_backoff(fake_time: FakeTime) -> None:
    queue = limited(fake_time)
    for delay in [1.0, 2.0, 4.0]:
        queue.add_rate_limited("a")
        await fake_time.advance(delay)
        queue.done(await queue.get())
    queue.forget("a")
    assert queue.num_requeues("a") == 0
    queue.add_rate_limited("a")
    await fake_time.advance(1.0)
    assert len(queue) == 1, "back to the 1s base delay, not 8s"


async def test_add_rate_limited_after_shutdown_records_no_failure(fake_time: FakeTime) -> None:
    queue = limited(fake_time)
    queue.shutdown()
    queue.add_rate_limited("a")
    assert queue.num_requeues("a") == 0
    assert queue.waiting == 0


async def test_the_default_limiter_is_client_go_s_controller_limiter(fake_time: FakeTime) -> None:
    queue: RateLimitingQueue[str] = RateLimitingQueue(clock=fake_time.clock, sleep=fake_time.sleep)
    assert isinstance(queue.rate_limiter, MaxOfRateLimiter)
    queue.add_rate_limited("a")
    await fake_time.advance(0.0049)
    assert len(queue) == 0
    await fake_time.advance(0.0002)
    assert len(queue) == 1
