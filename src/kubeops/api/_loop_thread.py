"""The hand-off between blocking callers and the event loop thread a ``SyncClient`` owns.

``asyncio.run_coroutine_threadsafe`` costs ~50 µs of CPU a call (a concurrent
``Future`` and its condition variable, a chained asyncio future, a done callback one
loop pass later, a self-pipe write per call), and with 32 threads creating objects
that CPU is taken from the API server sharing the machine.  Here a call is a lock
the caller sleeps on and the loop releases as the coroutine returns, and calls
submitted while the loop has not yet picked up the previous ones share its wake-up.
"""

from __future__ import annotations

import _thread
import asyncio
import contextvars
import threading
from collections import deque
from collections.abc import Coroutine
from typing import Any, Generic, TypeVar

T = TypeVar("T")

# How long Ctrl-C waits for the interrupted call to unwind before going on without it:
# long enough for a request to be torn down, short enough not to look hung.
CANCEL_GRACE = 5.0


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


async def _drive(call: _Call[Any]) -> None:
    coro, call.coro = call.coro, None
    assert coro is not None
    try:
        call.result = await coro
    except BaseException as err:  # whatever it is, the caller re-raises it
        call.error = err
    finally:
        call.done.release()


class LoopThread:
    """An event loop running forever on a daemon thread, and :meth:`run` to call into it."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.thread.start()
        self._inbox: deque[_Call[Any]] = deque()
        self._wake_pending = False

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop; block until it returns and give back its result or raise
        its exception.  An exception while waiting (Ctrl-C) cancels the coroutine."""
        if self.loop.is_closed():
            coro.close()
            raise RuntimeError("the SyncClient is closed")
        call = _Call(coro)
        try:  # Ctrl-C may strike at any point in here: _interrupt sorts out where it did
            self._inbox.append(call)
            if not self._wake_pending:
                # Set before the drain is scheduled and cleared by the drain before it takes
                # the inbox: a call appended while it is set is taken by that drain.
                try:
                    self._wake_pending = True
                    self.loop.call_soon_threadsafe(self._drain)
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
        self.loop.close()

    def _drain(self) -> None:
        self._wake_pending = False
        inbox, create_task = self._inbox, self.loop.create_task
        while inbox:
            call = inbox.popleft()
            if call.cancelled:
                _give_up(call)
            else:
                call.task = create_task(_drive(call), context=call.context)

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
