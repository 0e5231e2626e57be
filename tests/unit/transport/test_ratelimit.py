"""The token bucket lets a burst through, then holds a steady rate, fairly."""

from __future__ import annotations

import asyncio

import pytest

from kubeops.transport.ratelimit import DEFAULT_BURST, DEFAULT_QPS, TokenBucket

from .conftest import FakeTime

# Rates whose intervals are exact in binary floating point, so the fake clock is exact too.
QPS = 4.0
INTERVAL = 1 / QPS


def bucket(time: FakeTime, qps: float = QPS, burst: int = 2) -> TokenBucket:
    return TokenBucket(qps, burst, clock=time.clock, sleep=time.sleep)


def test_defaults_are_kubectl_s_qps_50_and_burst_300() -> None:
    limiter = TokenBucket()
    assert (limiter.qps, limiter.burst) == (50.0, 300)
    assert (DEFAULT_QPS, DEFAULT_BURST) == (50.0, 300)


def test_zero_qps_and_burst_mean_the_defaults_as_in_rest_config() -> None:
    limiter = TokenBucket(0, 0)
    assert (limiter.qps, limiter.burst) == (DEFAULT_QPS, DEFAULT_BURST)


def test_a_negative_burst_is_refused() -> None:
    with pytest.raises(ValueError, match="burst"):
        TokenBucket(5, -1)


async def test_a_full_bucket_lets_a_burst_through_without_waiting(auto_time: FakeTime) -> None:
    limiter = TokenBucket(clock=auto_time.clock, sleep=auto_time.sleep)
    waits = [await limiter.acquire() for _ in range(DEFAULT_BURST)]
    assert waits == [0.0] * DEFAULT_BURST
    assert auto_time.sleeps == []
    assert await limiter.acquire() == pytest.approx(1 / DEFAULT_QPS)


async def test_after_the_burst_requests_go_at_the_steady_rate(auto_time: FakeTime) -> None:
    limiter = bucket(auto_time, burst=2)
    waits = [await limiter.acquire() for _ in range(2 + 20)]
    assert waits[:2] == [0.0, 0.0]
    assert waits[2:] == [INTERVAL] * 20
    assert auto_time.now == 20 * INTERVAL


async def test_idle_time_refills_the_bucket_up_to_the_burst_only(auto_time: FakeTime) -> None:
    limiter = bucket(auto_time, burst=3)
    for _ in range(3):
        assert limiter.try_acquire()
    assert not limiter.try_acquire()
    auto_time.now += 3600
    assert [limiter.try_acquire() for _ in range(4)] == [True, True, True, False]


async def test_try_acquire_takes_a_free_token_or_says_no_without_waiting(
    fake_time: FakeTime,
) -> None:
    limiter = bucket(fake_time, burst=1)
    assert limiter.try_acquire()
    assert not limiter.try_acquire()
    fake_time.now += INTERVAL
    assert limiter.try_acquire()
    assert fake_time.sleeps == []


async def test_a_negative_qps_disables_limiting(fake_time: FakeTime) -> None:
    limiter = TokenBucket(-1, 1, clock=fake_time.clock, sleep=fake_time.sleep)
    assert limiter.disabled
    assert [await limiter.acquire() for _ in range(1000)] == [0.0] * 1000
    assert all(limiter.try_acquire() for _ in range(1000))
    assert fake_time.sleeps == []


async def test_concurrent_waiters_are_served_in_arrival_order_and_wake_once(
    fake_time: FakeTime,
) -> None:
    limiter = bucket(fake_time, burst=1)
    served: list[tuple[int, float]] = []

    async def request(i: int) -> None:
        await limiter.acquire()
        served.append((i, fake_time.now))

    tasks = [asyncio.create_task(request(i)) for i in range(6)]
    await fake_time.settle()
    assert served == [(0, 0.0)]
    for step in range(1, 6):
        await fake_time.advance(INTERVAL)
        # One token a tick: exactly one more waiter goes, the next in line.
        assert served[-1] == (step, step * INTERVAL)
        assert len(served) == step + 1
    await asyncio.gather(*tasks)
    # Each waiter slept once, straight to its own slot: no herd woken for every token.
    assert fake_time.sleeps == [step * INTERVAL for step in range(1, 6)]


async def test_try_acquire_does_not_take_a_token_a_waiter_has_reserved(
    fake_time: FakeTime,
) -> None:
    limiter = bucket(fake_time, burst=1)
    await limiter.acquire()
    waiter = asyncio.create_task(limiter.acquire())
    await fake_time.settle()
    await fake_time.advance(INTERVAL / 2)
    assert not limiter.try_acquire()
    await fake_time.advance(INTERVAL / 2)
    assert await waiter == INTERVAL
    assert not limiter.try_acquire()


async def test_a_cancelled_waiter_gives_its_token_back(fake_time: FakeTime) -> None:
    limiter = bucket(fake_time, burst=1)
    await limiter.acquire()
    waiter = asyncio.create_task(limiter.acquire())
    await fake_time.settle()
    assert limiter.tokens == -1
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert limiter.tokens == 0
    fake_time.now += INTERVAL
    assert limiter.try_acquire()


async def test_acquire_returns_the_seconds_it_waited(fake_time: FakeTime) -> None:
    limiter = bucket(fake_time, burst=1)
    assert await limiter.acquire() == 0.0
    third = asyncio.gather(limiter.acquire(), limiter.acquire())
    await fake_time.advance(1.0)
    assert await third == [INTERVAL, 2 * INTERVAL]
