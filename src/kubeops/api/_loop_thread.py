"""The hand-off between blocking callers and the event loop thread a ``SyncClient`` owns.

``asyncio.run_coroutine_threadsafe`` costs ~50 µs of CPU a call (a concurrent
``Future`` and its condition variable, a chained asyncio future, a done callback one
loop pass later, a self-pipe write per call), and with 32 threads creating objects
that CPU is taken from the API server sharing the machine.  Here a call is a lock
the caller sleeps on, and the loop meets its callers at one place, its ``select``:

* a caller wakes the loop (a self-pipe write) only while the loop sleeps there;
  a busy loop takes the calls submitted meanwhile at its next ``select``;
* finished calls' callers are woken when the loop is about to sleep, or once a
  finished call has waited 1 ms for a busy loop: each woken caller needs the GIL,
  which a running loop thread lets go at every socket and TLS call, so callers woken
  while it works take turns with it (measured: docs/benchmarks.md, S4's hand-off).

Both rely on the GIL ordering a flag and a deque between threads.
"""

from __future__ import annotations

import _thread
import asyncio
import contextvars
import selectors
import threading
import time
from collections import deque
from collections.abc import Coroutine
from typing import Any, Generic, TypeVar

T = TypeVar("T")

# How long Ctrl-C waits for the interrupted call to unwind before going on without it:
# long enough for a request to be torn down, short enough not to look hung.
CANCEL_GRACE = 5.0

# How long a finished call waits for a busy loop to reach an idle ``select`` before
# its caller is woken anyway.
WAKE_LATEST = 0.001


class _Call(Generic[T]):
    """One blocking call: its coroutine, the lock its caller sleeps on, its outcome."""

    __slots__ = ("cancelled", "context", "coro", "done", "error", "result", "task")

    def __init__(self, coro: Coroutine[Any, Any, T]) -> None:
        self.coro: Coroutine[Any, Any, T] | None = coro
        self.context = contextvars.copy_context()  # the caller's, as a task would have it
        self.done = _thread.allocate_lock()
        self.done.acquire()
        self.result: T | None = None
        self.error: BaseException | None = None
        self.task: asyncio.Task[None] | None = None
        self.cancelled = False

    def outcome(self) -> T:
        error, self.error, self.coro = self.error, None, None
        if error is not None:
            try:
                raise error
            finally:
                del error  # no cycle through this frame
        return self.result  # type: ignore[return-value]


def _nothing() -> None:
    """What a caller schedules to wake a sleeping loop: the wake-up is the point."""


class _Selector(selectors.DefaultSelector):
    """The loop's selector, where the loop takes new calls and wakes finished callers."""

    def __init__(self, owner: LoopThread) -> None:
        super().__init__()
        self._owner = owner

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        owner = self._owner
        # First: a call run() appends from here on finds the flag set and wakes the select
        # below; one appended before is in the inbox, and the select does not wait.
        owner._sleeping = True
        try:
            if owner._inbox:
                timeout = 0
            finished = owner._finished
            if finished and (
                timeout != 0 or time.monotonic() - owner._finished_since > WAKE_LATEST
            ):
                while finished:
                    finished.popleft().done.release()
            return super().select(timeout)
        finally:
            owner._sleeping = False
            owner._wake_pending = False
            if owner._inbox:
                owner._drain()


class LoopThread:
    """An event loop running forever on a daemon thread, and :meth:`run` to call into it."""

    def __init__(self, name: str) -> None:
        self._inbox: deque[_Call[Any]] = deque()
        self._finished: deque[_Call[Any]] = deque()  # returned, their callers not yet woken
        self._finished_since = 0.0  # when the oldest of them returned
        self._sleeping = False  # the loop is in (or about to enter) its select
        self._wake_pending = False  # a caller has woken the select; it has not returned yet
        self.loop: asyncio.AbstractEventLoop = asyncio.SelectorEventLoop(_Selector(self))
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop; block until it returns and give back its result or raise
        its exception.  An exception while waiting (Ctrl-C) cancels the coroutine."""
        if self.loop.is_closed():
            coro.close()
            raise RuntimeError("the SyncClient is closed")
        call = _Call(coro)
        try:  # Ctrl-C may strike at any point in here: _interrupt sorts out where it did
            self._inbox.append(call)
            if self._sleeping and not self._wake_pending:
                # Set before the wake-up is scheduled and cleared when the select returns,
                # before it takes the inbox: a call appended while it is set is taken then.
                try:
                    self._wake_pending = True
                    self.loop.call_soon_threadsafe(_nothing)
                except BaseException:
                    self._wake_pending = False
                    raise
            call.done.acquire()
        except BaseException:
            self._interrupt(call)
            raise
        return call.outcome()

    def stop(self) -> None:
        """Stop the loop, wait for its thread and close it."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        while self._finished:  # returned in the loop's last pass
            self._finished.popleft().done.release()
        self.loop.close()

    async def _drive(self, call: _Call[Any]) -> None:
        coro, call.coro = call.coro, None
        assert coro is not None
        try:
            call.result = await coro
        except BaseException as err:  # whatever it is, the caller re-raises it
            call.error = err
        finally:
            if not self._finished:
                self._finished_since = time.monotonic()
            self._finished.append(call)

    def _drain(self) -> None:
        inbox, create_task, drive = self._inbox, self.loop.create_task, self._drive
        while inbox:
            call = inbox.popleft()
            if call.cancelled:
                _give_up(call)
            else:
                call.task = create_task(drive(call), context=call.context)

    def _interrupt(self, call: _Call[Any]) -> None:
        """The caller stopped waiting: cancel the call wherever it is, on the loop thread
        (which alone knows), and give it a moment to unwind so that a stream it was
        reading can be closed after it."""
        try:
            self.loop.call_soon_threadsafe(self._cancel, call)
        except RuntimeError:  # the loop is closed: nothing will ever run the call
            if call.coro is not None:
                call.coro.close()
            return
        if call.done.acquire(timeout=CANCEL_GRACE):
            call.error = None

    def _cancel(self, call: _Call[Any]) -> None:
        call.cancelled = True
        if call.task is not None:
            call.task.cancel()
        elif call in self._inbox:
            self._drain()
        else:  # interrupted before it was submitted
            _give_up(call)


def _give_up(call: _Call[Any]) -> None:
    if call.coro is not None:
        call.coro.close()
    call.error = asyncio.CancelledError()
    call.done.release()
