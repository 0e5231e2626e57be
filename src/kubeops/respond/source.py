"""The contract between the engine and an event source.

A source is built from the triggers of every rule that names it (so it watches
only what some rule needs), validates their ``params`` when the rules load, and
then runs until cancelled, handing each event to ``emit``.  ``ready`` is set once
its initial state is known (informers synced, receiver listening), which is what
``/readyz`` reports.  A source rebuilds what it needs from the cluster when it
starts; nothing that matters lives only in its memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

from kubeops.respond.event import Event

Emit = Callable[[Event], Awaitable[None]]


class Source(Protocol):
    """A running producer of events; see the module doc."""

    name: str
    ready: asyncio.Event

    async def run(self, emit: Emit) -> None:
        """Produce events until cancelled."""
        ...
