"""The queue reports client-go's seven metrics to its provider, with exact values in fake time."""

from __future__ import annotations

import math

from kubeops.workqueue import InMemoryMetricsProvider, RateLimitingQueue, WorkQueue
from kubeops.workqueue.rate_limiters import ItemExponentialFailureRateLimiter

from .conftest import FakeTime, settle


async def test_metrics_after_a_scripted_sequence(fake_time: FakeTime) -> None:
    provider = InMemoryMetricsProvider()
    queue: RateLimitingQueue[str] = RateLimitingQueue(
        ItemExponentialFailureRateLimiter[str](1.0, 60.0),
        name="pods",
        metrics_provider=provider,
        clock=fake_time.clock,
        sleep=fake_time.sleep,
    )
    metrics = provider.queue("pods")

    queue.add("a")
    queue.add("b")
    queue.add("a")  # already waiting: not counted
    assert (metrics.adds.value, metrics.depth.value) == (2, 2)

    await fake_time.advance(1)
    assert await queue.get() == "a"  # waited 1s
    assert metrics.depth.value == 1

    await fake_time.advance(2)
    queue.add("a")  # re-added while processing: counts as waiting
    assert (metrics.adds.value, metrics.depth.value) == (3, 2)

    await fake_time.advance(1)
    queue.done("a")  # worked 3s
    assert await queue.get() == "b"  # waited 4s
    assert await queue.get() == "a"  # waited 1s since its re-add
    assert metrics.depth.value == 0

    await fake_time.advance(2)
    assert metrics.unfinished_work_seconds.value == 4.0  # a and b, 2s each
    assert metrics.longest_running_processor_seconds.value == 2.0

    queue.done("a")  # worked 2s
    queue.add_rate_limited("b")  # a retry, 1s later
    queue.done("b")  # worked 2s
    await fake_time.advance(1)
    assert metrics.retries.value == 1
    assert (metrics.adds.value, metrics.depth.value) == (4, 1)

    assert (metrics.latency.count, metrics.latency.total) == (3, 6.0)
    assert (metrics.latency.min, metrics.latency.max) == (1.0, 4.0)
    assert (metrics.work_duration.count, metrics.work_duration.total) == (3, 7.0)
    assert metrics.work_duration.mean == 7.0 / 3
    assert metrics.unfinished_work_seconds.value == 0.0
    assert metrics.longest_running_processor_seconds.value == 0.0

    queue.shutdown()
    await settle()
    assert fake_time.sleepers == 0, "the metrics updater stops with the queue"


async def test_unfinished_work_is_refreshed_while_a_worker_is_stuck(fake_time: FakeTime) -> None:
    provider = InMemoryMetricsProvider()
    queue: WorkQueue[str] = WorkQueue(
        name="stuck", metrics_provider=provider, clock=fake_time.clock, sleep=fake_time.sleep
    )
    queue.add("a")
    await queue.get()
    for seconds in [0.5, 10.0, 60.0]:
        await fake_time.advance(seconds)
    metrics = provider.queue("stuck")
    assert metrics.longest_running_processor_seconds.value == 70.5
    queue.shutdown()


async def test_a_queue_without_a_name_records_no_metrics(fake_time: FakeTime) -> None:
    provider = InMemoryMetricsProvider()
    queue: WorkQueue[str] = WorkQueue(
        metrics_provider=provider, clock=fake_time.clock, sleep=fake_time.sleep
    )
    queue.add("a")
    queue.done(await queue.get())
    assert provider.queues == {}
    assert fake_time.sleepers == 0


def test_an_empty_summary_has_no_extremes_and_a_zero_mean() -> None:
    summary = InMemoryMetricsProvider().queue("q").latency
    assert (summary.count, summary.mean) == (0, 0.0)
    assert (summary.min, summary.max) == (math.inf, -math.inf)
