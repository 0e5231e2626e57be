"""How long a failed item waits before its next try, as client-go's workqueue rate limiters.

A controller that retries a failing object at once spins; one that retries
every object slowly falls behind.  The limiters here back off per item
(exponentially, or fast then slow) and overall (a token bucket), and
:class:`MaxOfRateLimiter` combines them; :func:`default_controller_rate_limiter`
is the combination client-go gives every controller.

They compute delays and never sleep: the rate-limiting queue turns a delay into
``add_after``.  Not thread-safe: use them from the queue's event loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Generic, Protocol, TypeVar

T = TypeVar("T", bound=Hashable)
T_contra = TypeVar("T_contra", bound=Hashable, contravariant=True)

# client-go's DefaultTypedControllerRateLimiter: 5ms..1000s per item, 10 qps / burst 100 overall.
DEFAULT_BASE_DELAY = 0.005
DEFAULT_MAX_DELAY = 1000.0
# Named apart from the client's DEFAULT_QPS: this bucket paces retried work items, not requests.
DEFAULT_ITEM_QPS = 10.0
DEFAULT_ITEM_BURST = 100


class RateLimiter(Protocol[T_contra]):
    """Decides each retry's delay and remembers failures per item until told to forget."""

    def when(self, item: T_contra) -> float:
        """Record a failure of ``item`` and return the seconds to wait before retrying it."""
        ...

    def forget(self, item: T_contra) -> None:
        """Stop tracking ``item`` (it succeeded, or will not be retried); the next delay starts over."""
        ...

    def num_requeues(self, item: T_contra) -> int:
        """How many failures of ``item`` are being tracked."""
        ...


class ItemExponentialFailureRateLimiter(Generic[T]):
    """``base_delay * 2**n`` seconds after an item's n-th earlier failure, at most ``max_delay``."""

    def __init__(
        self, base_delay: float = DEFAULT_BASE_DELAY, max_delay: float = DEFAULT_MAX_DELAY
    ) -> None:
        if base_delay < 0 or max_delay < 0:
            raise ValueError(
                f"exponential rate limiter: delays must not be negative (base {base_delay}s, max {max_delay}s)"
            )
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._failures: dict[T, int] = {}

    def when(self, item: T) -> float:
        """Record a failure of ``item``; ``base_delay * 2**n`` after n earlier ones, at most
        ``max_delay``."""
        earlier = self._failures.get(item, 0)
        self._failures[item] = earlier + 1
        try:
            delay = self.base_delay * 2.0**earlier
        except OverflowError:
            return self.max_delay
        return min(delay, self.max_delay)

    def forget(self, item: T) -> None:
        """Forget ``item``'s failures; its next delay is ``base_delay``."""
        self._failures.pop(item, None)

    def num_requeues(self, item: T) -> int:
        """How many failures of ``item`` are tracked."""
        return self._failures.get(item, 0)


class ItemFastSlowRateLimiter(Generic[T]):
    """``fast_delay`` for an item's first ``max_fast_attempts`` tries, ``slow_delay`` after that."""

    def __init__(self, fast_delay: float, slow_delay: float, max_fast_attempts: int) -> None:
        if fast_delay < 0 or slow_delay < 0 or max_fast_attempts < 0:
            raise ValueError(
                "fast-slow rate limiter: delays and attempts must not be negative "
                f"(fast {fast_delay}s, slow {slow_delay}s, {max_fast_attempts} fast attempts)"
            )
        self.fast_delay = fast_delay
        self.slow_delay = slow_delay
        self.max_fast_attempts = max_fast_attempts
        self._attempts: dict[T, int] = {}

    def when(self, item: T) -> float:
        """Record an attempt of ``item``; ``fast_delay`` for the first ones, then ``slow_delay``."""
        attempts = self._attempts.get(item, 0) + 1
        self._attempts[item] = attempts
        return self.fast_delay if attempts <= self.max_fast_attempts else self.slow_delay

    def forget(self, item: T) -> None:
        """Forget ``item``'s attempts; it starts fast again."""
        self._attempts.pop(item, None)

    def num_requeues(self, item: T) -> int:
        """How many attempts of ``item`` are tracked."""
        return self._attempts.get(item, 0)


class BucketRateLimiter:
    """A token bucket shared by all items: ``burst`` retries at once, then ``qps`` per second.

    Each call reserves a token and returns how long until that token exists
    (0 while the bucket has tokens), like ``rate.Limiter.Reserve`` that
    client-go uses; it tracks no items, so ``num_requeues`` is always 0 and
    ``forget`` does nothing.  The bucket starts full.  ``clock`` returns
    monotonic seconds.
    """

    def __init__(
        self,
        qps: float = DEFAULT_ITEM_QPS,
        burst: int = DEFAULT_ITEM_BURST,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if qps <= 0 or burst < 1:
            raise ValueError(
                f"bucket rate limiter: qps must be positive and burst at least 1 (qps {qps}, burst {burst})"
            )
        self.qps = float(qps)
        self.burst = burst
        self._clock = clock
        # Below zero once delays have been handed out for tokens that do not exist yet.
        self._tokens = float(burst)
        self._updated = clock()

    def when(self, item: object) -> float:
        """Reserve a token; the seconds until it exists."""
        now = self._clock()
        elapsed = now - self._updated
        if elapsed > 0:
            self._tokens = min(float(self.burst), self._tokens + elapsed * self.qps)
            self._updated = now
        self._tokens -= 1
        return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    def forget(self, item: object) -> None:
        """Nothing to forget: the bucket is shared, not per item."""
        pass

    def num_requeues(self, item: object) -> int:
        """Always 0: the bucket does not track items."""
        return 0


class MaxOfRateLimiter(Generic[T]):
    """The longest delay of several limiters; every one of them records each failure."""

    def __init__(self, *limiters: RateLimiter[T]) -> None:
        if not limiters:
            raise ValueError("max-of rate limiter: at least one limiter is needed")
        self.limiters = limiters

    def when(self, item: T) -> float:
        """Record the failure in every limiter; the longest of their delays."""
        # Every limiter is asked, not just until one is large: each must count the failure.
        return max([limiter.when(item) for limiter in self.limiters])

    def forget(self, item: T) -> None:
        """Forget ``item`` in every limiter."""
        for limiter in self.limiters:
            limiter.forget(item)

    def num_requeues(self, item: T) -> int:
        """The most failures of ``item`` any limiter tracks."""
        return max(limiter.num_requeues(item) for limiter in self.limiters)


def default_controller_rate_limiter(
    *, clock: Callable[[], float] = time.monotonic
) -> MaxOfRateLimiter[Hashable]:
    """client-go's default for controllers: per-item exponential 5ms..1000s, max'ed with a 10 qps / burst 100 bucket.

    The per-item limiter makes one failing object back off; the bucket caps the
    retry rate of all objects together, e.g. when every object fails at once.
    """
    return MaxOfRateLimiter[Hashable](
        ItemExponentialFailureRateLimiter[Hashable](DEFAULT_BASE_DELAY, DEFAULT_MAX_DELAY),
        BucketRateLimiter(DEFAULT_ITEM_QPS, DEFAULT_ITEM_BURST, clock=clock),
    )
