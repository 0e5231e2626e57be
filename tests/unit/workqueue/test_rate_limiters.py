"""The rate limiters back off per item and overall with client-go's numbers."""

from __future__ import annotations

import pytest

from kubeops.workqueue import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    ItemFastSlowRateLimiter,
    MaxOfRateLimiter,
    default_controller_rate_limiter,
)

from .conftest import FakeTime


def test_exponential_delay_doubles_per_failure_from_the_base() -> None:
    limiter = ItemExponentialFailureRateLimiter[str](0.005, 1000.0)
    delays = [limiter.when("a") for _ in range(5)]
    assert delays == pytest.approx([0.005, 0.01, 0.02, 0.04, 0.08])
    assert limiter.num_requeues("a") == 5


def test_exponential_delay_is_capped() -> None:
    limiter = ItemExponentialFailureRateLimiter[str](1.0, 10.0)
    assert [limiter.when("a") for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_exponential_delay_stays_at_the_cap_after_very_many_failures() -> None:
    limiter = ItemExponentialFailureRateLimiter[str]()
    for _ in range(2000):
        delay = limiter.when("a")
    assert delay == 1000.0
    assert limiter.num_requeues("a") == 2000


def test_exponential_failures_are_counted_per_item() -> None:
    limiter = ItemExponentialFailureRateLimiter[str](1.0, 100.0)
    limiter.when("a")
    limiter.when("a")
    assert limiter.when("b") == 1.0
    assert (limiter.num_requeues("a"), limiter.num_requeues("b")) == (2, 1)


def test_forget_restarts_an_items_backoff_at_the_base() -> None:
    limiter = ItemExponentialFailureRateLimiter[str](1.0, 100.0)
    for _ in range(3):
        limiter.when("a")
    limiter.forget("a")
    assert limiter.num_requeues("a") == 0
    assert limiter.when("a") == 1.0
    limiter.forget("never-seen")


def test_exponential_defaults_are_client_go_s_5ms_and_1000s() -> None:
    limiter = ItemExponentialFailureRateLimiter[str]()
    assert (limiter.base_delay, limiter.max_delay) == (0.005, 1000.0)


def test_negative_delays_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        ItemExponentialFailureRateLimiter[str](-1.0, 1.0)
    with pytest.raises(ValueError, match="negative"):
        ItemFastSlowRateLimiter[str](1.0, -1.0, 3)


def test_fast_slow_uses_the_fast_delay_for_the_first_attempts_only() -> None:
    limiter = ItemFastSlowRateLimiter[str](0.1, 10.0, 3)
    assert [limiter.when("a") for _ in range(5)] == [0.1, 0.1, 0.1, 10.0, 10.0]
    assert limiter.num_requeues("a") == 5
    limiter.forget("a")
    assert limiter.when("a") == 0.1


def test_bucket_lets_a_burst_through_then_spaces_retries_at_the_rate(
    fake_time: FakeTime,
) -> None:
    limiter = BucketRateLimiter(qps=4.0, burst=3, clock=fake_time.clock)
    assert [limiter.when(i) for i in range(3)] == [0.0, 0.0, 0.0]
    assert [limiter.when(i) for i in range(3, 6)] == [0.25, 0.5, 0.75]


def test_bucket_refills_with_time_up_to_the_burst(fake_time: FakeTime) -> None:
    limiter = BucketRateLimiter(qps=4.0, burst=2, clock=fake_time.clock)
    for i in range(4):
        limiter.when(i)  # two tokens used, two reserved ahead
    fake_time.now += 0.5  # pays back the two reserved tokens
    assert limiter.when("x") == 0.25
    fake_time.now += 3600
    assert [limiter.when(i) for i in range(3)] == [0.0, 0.0, 0.25]


def test_bucket_tracks_no_items() -> None:
    limiter = BucketRateLimiter()
    limiter.when("a")
    limiter.forget("a")
    assert limiter.num_requeues("a") == 0


def test_bucket_defaults_are_client_go_s_controller_10_qps_burst_100(fake_time: FakeTime) -> None:
    limiter = BucketRateLimiter(clock=fake_time.clock)
    assert (limiter.qps, limiter.burst) == (10.0, 100)
    assert all(limiter.when(i) == 0.0 for i in range(100))
    assert limiter.when(100) == pytest.approx(0.1)


def test_bucket_refuses_a_rate_or_burst_it_cannot_serve() -> None:
    with pytest.raises(ValueError, match="qps"):
        BucketRateLimiter(qps=0)
    with pytest.raises(ValueError, match="burst"):
        BucketRateLimiter(burst=0)


def test_max_of_takes_the_longest_delay_and_every_limiter_counts_the_failure() -> None:
    slow = ItemFastSlowRateLimiter[str](0.0, 7.0, 1)
    exponential = ItemExponentialFailureRateLimiter[str](1.0, 100.0)
    limiter = MaxOfRateLimiter(slow, exponential)
    assert [limiter.when("a") for _ in range(5)] == [1.0, 7.0, 7.0, 8.0, 16.0]
    assert (slow.num_requeues("a"), exponential.num_requeues("a")) == (5, 5)


def test_max_of_reports_the_largest_requeue_count_and_forgets_everywhere() -> None:
    first = ItemFastSlowRateLimiter[str](0.0, 0.0, 1)
    second = ItemExponentialFailureRateLimiter[str]()
    limiter = MaxOfRateLimiter(first, second)
    first.when("a")
    limiter.when("a")
    assert limiter.num_requeues("a") == 2
    limiter.forget("a")
    assert (first.num_requeues("a"), second.num_requeues("a")) == (0, 0)


def test_max_of_needs_a_limiter() -> None:
    with pytest.raises(ValueError, match="at least one"):
        MaxOfRateLimiter[str]()


def test_default_controller_limiter_is_exponential_5ms_to_1000s_maxed_with_a_10_qps_burst_100_bucket(
    fake_time: FakeTime,
) -> None:
    limiter = default_controller_rate_limiter(clock=fake_time.clock)
    exponential, bucket = limiter.limiters
    assert isinstance(exponential, ItemExponentialFailureRateLimiter)
    assert (exponential.base_delay, exponential.max_delay) == (0.005, 1000.0)
    assert isinstance(bucket, BucketRateLimiter)
    assert (bucket.qps, bucket.burst) == (10.0, 100)

    # Within the burst the per-item backoff decides ...
    assert [limiter.when("a") for _ in range(3)] == pytest.approx([0.005, 0.01, 0.02])
    assert all(limiter.when(i) == 0.005 for i in range(97))
    # ... once the burst is spent, the shared bucket does.
    assert limiter.when("b") == pytest.approx(0.1)
    assert limiter.when("c") == pytest.approx(0.2)
    assert limiter.num_requeues("a") == 3
    limiter.forget("a")
    assert limiter.num_requeues("a") == 0
