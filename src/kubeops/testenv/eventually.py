"""Waiting in tests for something to become true, with one deadline and one failure message.

A test against a real cluster cannot know when a controller, a watch or a restarted
API server catches up; it polls a condition until it holds.  :func:`eventually`
(blocking) and :func:`async_eventually` (inside an event loop, so the tasks being
waited for keep running) are the one way the suite does that: a deadline, a poll
interval, and on timeout an ``AssertionError`` naming what was awaited with the last
value or exception seen -- never a fixed sleep standing for "long enough".
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar, cast

T = TypeVar("T")

DEFAULT_TIMEOUT = 30.0
DEFAULT_INTERVAL = 0.1


class _Polling:
    """What both forms keep between attempts: the deadline, the count, the last outcome."""

    def __init__(self, message: str, timeout: float, interval: float) -> None:
        self.message, self.timeout, self.interval = message, timeout, interval
        self.deadline = time.monotonic() + timeout
        self.attempts = 0

    def remaining(self) -> float:
        """Seconds left before the deadline (never negative)."""
        return max(self.deadline - time.monotonic(), 0.0)

    def not_yet(self, value: object = None, error: BaseException | None = None) -> float:
        """Record a failed attempt: the pause before the next one, or, when time is up,
        the ``AssertionError`` naming what was awaited and the last value or error."""
        if time.monotonic() >= self.deadline:
            last = f"last error: {error!r}" if error is not None else f"last value: {value!r}"
            raise AssertionError(
                f"timed out after {self.timeout:g}s waiting for {self.message} "
                f"({self.attempts} attempt(s); {last})"
            ) from error
        return min(self.interval, self.remaining())


def eventually(
    condition: Callable[[], T],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    interval: float = DEFAULT_INTERVAL,
    message: str = "the condition",
    ignore: tuple[type[Exception], ...] = (Exception,),
) -> T:
    """Call ``condition`` until it returns something truthy, and return that value.

    A falsy result, or an exception of a type in ``ignore`` (by default any
    ``Exception``: an ``assert`` inside the condition, a connection refused while
    a server restarts), means "not yet": the call is repeated every ``interval``
    seconds.  Any other exception propagates at once.  After ``timeout`` seconds
    it raises ``AssertionError`` saying ``message`` and the last value or exception
    seen (the exception chained as the cause).  The condition always runs at least
    once.  Blocking: from a coroutine use :func:`async_eventually` instead.
    """
    polling = _Polling(message, timeout, interval)
    while True:
        polling.attempts += 1
        try:
            result = condition()
        except ignore as err:
            pause = polling.not_yet(error=err)
        else:
            if result:
                return result
            pause = polling.not_yet(value=result)
        time.sleep(pause)


async def async_eventually(
    condition: Callable[[], Awaitable[T]] | Callable[[], T],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    interval: float = DEFAULT_INTERVAL,
    message: str = "the condition",
    ignore: tuple[type[Exception], ...] = (Exception,),
) -> T:
    """:func:`eventually` for coroutines: ``condition`` may be a plain function or an
    async one, and the waits between attempts let the event loop run.

    An awaitable result is awaited within what is left of the deadline, so a call
    that hangs counts as a failed attempt (a ``TimeoutError``, always "not yet")
    instead of outliving ``timeout``.
    """
    not_yet: tuple[type[Exception], ...] = (TimeoutError, *ignore)
    polling = _Polling(message, timeout, interval)
    while True:
        polling.attempts += 1
        try:
            result = condition()
            if inspect.isawaitable(result):
                result = await asyncio.wait_for(result, max(polling.remaining(), interval))
        except not_yet as err:
            pause = polling.not_yet(error=err)
        else:
            if result:
                return cast(T, result)
            pause = polling.not_yet(value=result)
        await asyncio.sleep(pause)
