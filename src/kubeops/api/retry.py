"""Read-modify-write steps that survive a concurrent writer, as client-go's ``util/retry``.

A write that carries the ``resourceVersion`` it read is refused with 409 Conflict
when someone else wrote in between.  Then the only correct move is to read again
and decide again: :func:`retry_on_conflict` runs the whole step once more, a
bounded number of times, with a short jittered backoff so that two writers racing
for one object do not keep colliding.  Any other error, and the last Conflict,
reach the caller unchanged.

::

    async def step() -> Object:
        deployment = await client.get("deploy", "web")
        deployment["spec"]["replicas"] += 1          # decided on what was just read
        return await client.replace(deployment)       # carries its resourceVersion

    await retry_on_conflict(step)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from kubeops.errors import Conflict
from kubeops.transport.backoff import Backoff

__all__ = ["CONFLICT_ATTEMPTS", "CONFLICT_BACKOFF", "retry_on_conflict"]

T = TypeVar("T")

# client-go's retry.DefaultRetry makes 5 attempts; its 10 ms steps are tuned for
# in-cluster latency, a little more suits a client across a network.
CONFLICT_ATTEMPTS = 5
CONFLICT_BACKOFF = Backoff(base=0.05, factor=2.0, cap=1.0, jitter="equal")


async def retry_on_conflict(
    step: Callable[[], Awaitable[T]],
    *,
    attempts: int = CONFLICT_ATTEMPTS,
    backoff: Backoff = CONFLICT_BACKOFF,
) -> T:
    """Run ``step`` (read, decide, write) again each time its write loses a race (409
    Conflict), up to ``attempts`` runs in all, waiting ``backoff`` between them; the
    last Conflict is raised as it came."""
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, not {attempts}")
    for attempt in range(attempts):
        try:
            return await step()
        except Conflict:
            if attempt + 1 == attempts:
                raise
        await asyncio.sleep(backoff.delay(attempt))
    raise AssertionError("unreachable")
