"""Python's cyclic garbage collector held off while an informer fills its cache.

A first list (or a watch-list's initial events) allocates a tree per object and
the informer's records of it (a delta and its list per object): no cycles, so a
collection in the middle can free nothing, yet the allocations trigger dozens of
young collections and a few middle ones, each walking every object alive --
measured, 50-70 ms of a 10,000-object sync (docs/benchmarks.md, issue 16).

The pause sets the collector's first threshold to 0 (no automatic collection)
and puts the thresholds back when the last fill holding it ends; it never calls
``gc.disable()``, so ``gc.isenabled()`` and code that pauses the collector its
own way are unaffected.  Each :class:`FillPause` ends at most once, on success,
failure or cancellation, and at the latest ``max_seconds`` after it started
(a fill waiting on a slow server does not keep the collector off for long).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
from collections.abc import Iterator

__all__ = ["MAX_PAUSE_SECONDS", "FillPause", "collector_paused", "paused"]

MAX_PAUSE_SECONDS = 30.0
"""The longest a fill holds the collector off, whatever happens to it."""

_lock = threading.Lock()
_holders = 0
_saved: tuple[int, int, int] | None = None  # the thresholds to put back; None: not paused by us


def _acquire() -> None:
    global _holders, _saved
    with _lock:
        _holders += 1
        if _holders == 1:
            thresholds = gc.get_threshold()
            if thresholds[0] == 0:
                _saved = None  # already off (someone else's setting): leave it to them
            else:
                _saved = thresholds
                gc.set_threshold(0, thresholds[1], thresholds[2])


def _release() -> None:
    global _holders, _saved
    with _lock:
        _holders -= 1
        if _holders == 0 and _saved is not None:
            if gc.get_threshold()[0] == 0:  # not changed by someone else meanwhile
                gc.set_threshold(*_saved)
            _saved = None


def collector_paused() -> bool:
    """Whether a fill holds the collector off now."""
    with _lock:
        return _holders > 0 and _saved is not None


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """The collector held off for a bulk decode that creates no cycles (a compact
    store's list): synchronous, so it ends with the block."""
    _acquire()
    try:
        yield
    finally:
        _release()


class FillPause:
    """One fill's hold on the collector: :meth:`start`, then :meth:`end` (idempotent).

    Started in a running event loop, the pause also ends by itself ``max_seconds``
    later, whatever happens to the fill.
    """

    def __init__(self, max_seconds: float = MAX_PAUSE_SECONDS) -> None:
        self.max_seconds = max_seconds
        self._held = False
        self._timer: asyncio.TimerHandle | None = None
        self._lock = threading.Lock()

    @property
    def held(self) -> bool:
        """Whether this pause holds the collector off now."""
        return self._held

    def start(self) -> None:
        """Hold the collector off (a no-op while already held)."""
        with self._lock:
            if self._held:
                return
            self._held = True
        _acquire()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._timer = loop.call_later(self.max_seconds, self.end)

    def end(self) -> None:
        """Let the collector run again once no other fill holds it (a no-op if not held)."""
        with self._lock:
            if not self._held:
                return
            self._held = False
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        _release()
