"""A work queue that can add an item later, as client-go's delaying queue.

Controllers retry failures after a backoff and requeue objects for periodic
checks; the waiting happens here, not in a worker, so no worker is tied up
sleeping.  Waiting items sit in a heap ordered by ready time and a single timer
task sleeps until the earliest one is due; no task runs while nothing waits.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import TypeVar

from kubeops import telemetry
from kubeops.workqueue.metrics import MetricsProvider
from kubeops.workqueue.queue import DEFAULT_UNFINISHED_WORK_UPDATE_PERIOD, WorkQueue

T = TypeVar("T", bound=Hashable)


class DelayingQueue(WorkQueue[T]):
    """A :class:`WorkQueue` with :meth:`add_after`.

    An item waiting for its time is not in the queue yet: it does not count in
    ``len()`` or depth, and a plain :meth:`add` meanwhile adds it at once (the
    timed add still happens later, and is deduplicated as any add is).
    Shutting down drops every waiting item and stops the timer.
    """

    def __init__(
        self,
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
        # Heap of (ready time, add order, item).  An item moved earlier leaves its old
        # entry behind; ``_waiting`` names each item's live entry so stale ones are skipped.
        self._heap: list[tuple[float, int, T]] = []
        self._waiting: dict[T, tuple[float, int, T]] = {}
        self._waiting_contexts: dict[T, object] = {}  # tracing on only
        self._order = itertools.count()
        self._timer: asyncio.Task[None] | None = None
        self._timer_due = 0.0

    @property
    def waiting(self) -> int:
        """How many items are waiting for their time to be added."""
        return len(self._waiting)

    def add_after(self, item: T, delay: float) -> None:
        """Add ``item`` after ``delay`` seconds; at once if ``delay <= 0``.

        Ignored after shutdown.  If the item is already waiting, the earlier of
        the two ready times is kept.  Must be called from the running event
        loop (the timer is a task on it).
        """
        if self.shutting_down:
            return
        if self._metrics is not None:
            self._metrics.retry()
        context = telemetry.capture()
        if delay <= 0:
            self._add(item, context)
            return
        loop = asyncio.get_running_loop()
        self._bind_loop(loop)
        ready = self._clock() + delay
        current = self._waiting.get(item)
        if current is not None and current[0] <= ready:
            return
        entry = (ready, next(self._order), item)
        self._waiting[item] = entry
        if context is not None:
            self._waiting_contexts.setdefault(item, context)
        heapq.heappush(self._heap, entry)
        self._arm_timer(loop)

    def add_after_threadsafe(self, item: T, delay: float) -> None:
        """:meth:`add_after` from another thread; the delay counts from when the loop runs it."""
        self._require_loop("add_after_threadsafe").call_soon_threadsafe(self.add_after, item, delay)

    def _begin_shutdown(self) -> None:
        super()._begin_shutdown()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._heap.clear()
        self._waiting.clear()
        self._waiting_contexts.clear()

    def _arm_timer(self, loop: asyncio.AbstractEventLoop) -> None:
        due = self._heap[0][0]
        if self._timer is not None:
            if self._timer_due <= due:
                return
            # Something is due before the timer would wake: start a timer for it instead.
            self._timer.cancel()
        self._timer_due = due
        self._timer = loop.create_task(self._add_when_ready(), name=f"workqueue {self.name} timer")

    async def _add_when_ready(self) -> None:
        try:
            while True:
                now = self._clock()
                self._add_ready(now)
                self._drop_stale_head()
                if not self._heap:
                    return
                self._timer_due = self._heap[0][0]
                await self._sleep(self._timer_due - now)
        finally:
            if self._timer is asyncio.current_task():
                self._timer = None

    def _drop_stale_head(self) -> None:
        while self._heap and self._waiting.get(self._heap[0][2]) is not self._heap[0]:
            heapq.heappop(self._heap)

    def _add_ready(self, now: float) -> None:
        while self._heap and self._heap[0][0] <= now:
            entry = heapq.heappop(self._heap)
            item = entry[2]
            if self._waiting.get(item) is entry:
                del self._waiting[item]
                context = self._waiting_contexts.pop(item, None) if self._waiting_contexts else None
                self._add(item, context)
