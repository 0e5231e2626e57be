"""Ending what testenv started when the interpreter exits or is sent SIGTERM.

Environments and PostgreSQL servers register themselves while they run; at exit
(or on a SIGTERM, turned into a normal exit so context managers, fixtures and
``atexit`` run) each one still registered is ended, so no control plane or
database outlives the process that started it.
"""

from __future__ import annotations

import atexit
import signal
import threading
import weakref
from collections.abc import Callable
from types import FrameType
from typing import Any, Generic, TypeVar

T = TypeVar("T")

_registries: list[LiveSet[Any]] = []
_hooks_lock = threading.Lock()
_hooks_installed = False


class LiveSet(Generic[T]):
    """The running objects of one kind, each ended with ``end`` at interpreter exit."""

    def __init__(self, end: Callable[[T], None]) -> None:
        self._members: weakref.WeakSet[Any] = weakref.WeakSet()
        self._end = end
        _registries.append(self)

    def add(self, member: T) -> None:
        """Track ``member`` until it is discarded; installs the exit hooks on first use."""
        self._members.add(member)
        _install_exit_hooks()

    def discard(self, member: T) -> None:
        """Stop tracking ``member`` (it ended by itself)."""
        self._members.discard(member)

    def __contains__(self, member: object) -> bool:
        return member in self._members

    def end_all(self) -> None:
        """End every member still tracked."""
        for member in list(self._members):
            self._end(member)


def _end_everything() -> None:
    for registry in _registries:
        registry.end_all()


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    # Turn SIGTERM into a normal exit so context managers, fixtures and atexit run.
    raise SystemExit(128 + signum)


def _install_exit_hooks() -> None:
    global _hooks_installed
    with _hooks_lock:
        if _hooks_installed:
            return
        atexit.register(_end_everything)
        if threading.current_thread() is threading.main_thread() and (
            signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
        ):
            signal.signal(signal.SIGTERM, _on_sigterm)
        _hooks_installed = True
