"""A delaying work queue whose retries are spaced by a rate limiter, as client-go's.

This is the queue a controller uses: on failure ``add_rate_limited(key)``
retries after the limiter's delay, on success ``forget(key)`` resets the
item's backoff.  Forgetting is separate from :meth:`~WorkQueue.done` because
only the controller knows whether processing succeeded.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import TypeVar

from kubeops.workqueue.delaying import DelayingQueue
from kubeops.workqueue.metrics import MetricsProvider
from kubeops.workqueue.queue import DEFAULT_UNFINISHED_WORK_UPDATE_PERIOD
from kubeops.workqueue.rate_limiters import RateLimiter, default_controller_rate_limiter

T = TypeVar("T", bound=Hashable)


class RateLimitingQueue(DelayingQueue[T]):
    """A :class:`DelayingQueue` with :meth:`add_rate_limited`, :meth:`forget` and :meth:`num_requeues`.

    ``rate_limiter`` defaults to :func:`default_controller_rate_limiter` (on
    this queue's ``clock``); a limiter is per queue, so do not share one.
    """

    def __init__(
        self,
        rate_limiter: RateLimiter[T] | None = None,
        *,
        name: str = "",
        metrics_provider: MetricsProvider | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        unfinished_work_update_period: float = DEFAULT_UNFINISHED_WORK_UPDATE_PERIOD,
    ) -> None:
        super().__init__(
            name=name,
            metrics_provider=metrics_provider,
            clock=clock,
            sleep=sleep,
            unfinished_work_update_period=unfinished_work_update_period,
        )
        self.rate_limiter: RateLimiter[T] = (
            rate_limiter
            if rate_limiter is not None
            else default_controller_rate_limiter(clock=clock)
        )

    def add_rate_limited(self, item: T) -> None:
        """Add ``item`` once the rate limiter says so; the limiter counts this as a failure.

        Ignored after shutdown (and then the limiter is not consulted, so no
        failure is recorded for an item that will not be retried).
        """
        if self.shutting_down:
            return
        self.add_after(item, self.rate_limiter.when(item))

    def forget(self, item: T) -> None:
        """Reset ``item``'s failures in the limiter; call it when processing succeeded."""
        self.rate_limiter.forget(item)

    def num_requeues(self, item: T) -> int:
        """The failures of ``item`` the limiter is tracking."""
        return self.rate_limiter.num_requeues(item)
