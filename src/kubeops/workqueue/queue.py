"""The deduplicating work queue controllers pull object keys from, as client-go's.

Informers report that *something* about an object changed; a controller only
needs to know *which* object to reconcile.  The queue therefore holds each item
at most once, and never hands the same item to two workers at a time: an item
added while it is being processed is remembered ("dirty") and queued again when
its worker calls :meth:`WorkQueue.done`, so the latest change is always seen by
exactly one later run.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterable
from typing import Generic, TypeVar

from kubeops import telemetry
from kubeops.workqueue.metrics import MetricsProvider, QueueMetrics

T = TypeVar("T", bound=Hashable)

# client-go's defaultUnfinishedWorkUpdatePeriod.
DEFAULT_UNFINISHED_WORK_UPDATE_PERIOD = 0.5


class QueueShutDown(Exception):
    """Raised by :meth:`WorkQueue.get` once the queue is shut down and empty: the worker should exit."""


class WorkQueue(Generic[T]):
    """A FIFO of hashable items in which an item is never queued twice nor processed concurrently.

    Three sets of state, as in client-go: ``queue`` (waiting, in order),
    ``dirty`` (needs processing: everything queued plus items re-added while
    being processed) and ``processing`` (handed out by :meth:`get`, not yet
    :meth:`done`).

    All methods must be called from the event loop the queue is used on, except
    :meth:`add_threadsafe`.  ``name`` and ``metrics_provider`` together enable
    metrics (neither alone does, as in client-go); ``clock`` and ``sleep``
    (monotonic seconds) drive metrics and delays and can be replaced in tests.
    Call :meth:`shutdown` when done with the queue: it stops the queue's
    background tasks.
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
        self.name = name
        self._clock = clock
        self._sleep = sleep
        self._queue: deque[T] = deque()
        self._dirty: set[T] = set()
        self._processing: set[T] = set()
        # Trace contexts (tracing on only): of queued/dirty items, and of those being processed.
        self._contexts: dict[T, object] = {}
        self._active_contexts: dict[T, object] = {}
        self._shutting_down = False
        self._draining = False
        self._getters: deque[asyncio.Future[None]] = deque()
        self._drainers: list[asyncio.Future[None]] = []
        self._metrics: QueueMetrics[T] | None = None
        if name and metrics_provider is not None:
            self._metrics = QueueMetrics(name, metrics_provider, clock)
        self._update_period = unfinished_work_update_period
        self._updater: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None  # Created outside the loop: bound on first use from inside it.
        if loop is not None:
            self._bind_loop(loop)

    # -- state ---------------------------------------------------------------

    def __len__(self) -> int:
        """Items waiting to be handed out (not those being processed), as client-go's ``Len``."""
        return len(self._queue)

    @property
    def shutting_down(self) -> bool:
        """Whether :meth:`shutdown` was called."""
        return self._shutting_down

    @property
    def processing(self) -> frozenset[T]:
        """Items handed out by :meth:`get` whose :meth:`done` has not been called yet."""
        return frozenset(self._processing)

    # -- adding --------------------------------------------------------------

    def add(self, item: T) -> None:
        """Mark ``item`` as needing processing.

        Ignored after shutdown and when the item is already waiting.  If the
        item is being processed it is queued again when its worker calls
        :meth:`done`, not before.  When tracing, the item carries the current trace
        context to its worker (:meth:`trace_context`); the first add's wins.
        """
        self._add(item, telemetry.capture())

    def _add(self, item: T, context: object | None) -> None:
        if self._shutting_down or item in self._dirty:
            return
        if context is not None:
            self._contexts[item] = context
        if self._metrics is not None:
            self._metrics.add(item)
        self._dirty.add(item)
        if item in self._processing:
            return
        self._queue.append(item)
        self._wake_one_getter()

    def add_threadsafe(self, item: T) -> None:
        """:meth:`add` from another thread (an informer callback, say), via ``call_soon_threadsafe``.

        The item is added when the loop next runs its callbacks, so it is not
        yet in the queue when this returns.  The queue must already be bound to
        its loop (created inside it, or used there once); raises
        ``RuntimeError`` if it is not, or if that loop is closed.
        """
        self._require_loop("add_threadsafe").call_soon_threadsafe(self.add, item)

    # -- processing ----------------------------------------------------------

    async def get(self) -> T:
        """Wait for the next item and mark it as being processed; the caller must call :meth:`done`.

        After shutdown, items still queued are handed out until none are left;
        then (and from then on) :class:`QueueShutDown` is raised.
        """
        loop = asyncio.get_running_loop()
        self._bind_loop(loop)
        while not self._queue:
            if self._shutting_down:
                raise QueueShutDown(f"work queue {self.name!r} is shut down")
            waiter = loop.create_future()
            self._getters.append(waiter)
            try:
                await waiter
            except BaseException:
                waiter.cancel()
                with contextlib.suppress(ValueError):
                    self._getters.remove(waiter)
                # Woken for an item but cancelled before taking it: pass the wake-up on.
                if self._queue and not waiter.cancelled():
                    self._wake_one_getter()
                raise
        item = self._queue.popleft()
        self._processing.add(item)
        self._dirty.discard(item)
        if self._contexts:
            context = self._contexts.pop(item, None)
            if context is not None:
                self._active_contexts[item] = context
        if self._metrics is not None:
            self._metrics.get(item)
        return item

    def done(self, item: T) -> None:
        """Mark ``item`` as processed; if it was added meanwhile, queue it again.

        Raises ``ValueError`` if the item is not being processed: a second
        ``done`` would otherwise let a dirty item be queued twice.
        """
        if item not in self._processing:
            raise ValueError(
                f"work queue {self.name!r}: done({item!r}) called for an item that is not being processed"
            )
        if self._metrics is not None:
            self._metrics.done(item)
        self._processing.discard(item)
        if self._active_contexts:
            self._active_contexts.pop(item, None)
        if item in self._dirty:
            self._queue.append(item)
            self._wake_one_getter()
        if not self._processing:
            self._release_drainers()

    def trace_context(self, item: T) -> object | None:
        """The trace context ``item`` was added in, while it is being processed (None when
        not tracing, or when it was added with no span current): the parent of its work's span."""
        return self._active_contexts.get(item) if self._active_contexts else None

    def __aiter__(self) -> AsyncIterator[T]:
        """``async for item in queue`` yields items until shutdown; call :meth:`done` for each."""
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[T]:
        while True:
            try:
                item = await self.get()
            except QueueShutDown:
                return
            yield item

    # -- shutdown ------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop accepting items; waiting getters drain what is queued, then get :class:`QueueShutDown`.

        Does not wait for items being processed, and releases anyone waiting
        in :meth:`shutdown_with_drain` (client-go's ``ShutDown`` does the same).
        """
        self._draining = False
        self._begin_shutdown()
        self._release_drainers()

    async def shutdown_with_drain(self) -> None:
        """Shut down, then wait until every item being processed is :meth:`done`.

        Only the *processing* set is waited for, as in client-go: items still
        queued but not yet handed out are not.  Workers that keep calling
        :meth:`get` still receive them (each then becomes part of what this
        waits for, if it is taken before the processing set empties); once
        processing is empty this returns, and whatever is still queued stays
        there for later getters or is dropped with the queue.  A concurrent
        :meth:`shutdown` ends the wait early.
        """
        loop = asyncio.get_running_loop()
        self._bind_loop(loop)
        self._draining = True
        self._begin_shutdown()
        while self._processing and self._draining:
            waiter = loop.create_future()
            self._drainers.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._drainers:
                    self._drainers.remove(waiter)

    def _begin_shutdown(self) -> None:
        self._shutting_down = True
        getters, self._getters = self._getters, deque()
        _release(getters)
        if self._updater is not None:
            self._updater.cancel()
            self._updater = None

    # -- internals -----------------------------------------------------------

    def _wake_one_getter(self) -> None:
        while self._getters:
            waiter = self._getters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _release_drainers(self) -> None:
        drainers, self._drainers = self._drainers, []
        _release(drainers)

    def _bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._loop is loop:
            return
        self._loop = loop
        if self._metrics is not None and self._update_period > 0 and not self._shutting_down:
            if self._updater is not None:
                self._updater.cancel()
            self._updater = loop.create_task(
                self._update_unfinished_work(), name=f"workqueue {self.name} metrics"
            )

    def _require_loop(self, operation: str) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError(
                f"work queue {self.name!r}: {operation} needs the queue's event loop; "
                "create the queue inside the running loop or use it there first"
            )
        return self._loop

    async def _update_unfinished_work(self) -> None:
        # A stuck worker changes nothing in the queue, so these gauges are refreshed on a timer.
        assert self._metrics is not None
        while not self._shutting_down:
            self._metrics.update_unfinished_work()
            await self._sleep(self._update_period)


def _release(waiters: Iterable[asyncio.Future[None]]) -> None:
    """Wake every waiter that is still waiting (one cancelled meanwhile is done already)."""
    for waiter in waiters:
        if not waiter.done():
            waiter.set_result(None)
