"""How every daemon stops: the first SIGINT or SIGTERM asks it to stop gracefully
(finish what is running, release its Lease), a second one kills it at once."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def run_until_signalled(body: Callable[[asyncio.Event], Awaitable[int]]) -> int:
    """Run ``body(stop)`` in a new event loop and return its exit code; ``stop`` is set
    by the first stop signal, after which the default handlers are back."""

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def stopping() -> None:
            stop.set()
            for sig in STOP_SIGNALS:
                loop.remove_signal_handler(sig)

        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, stopping)
        return await body(stop)

    return asyncio.run(main())


async def run_until_stopped(work: Awaitable[None], stop: asyncio.Event) -> None:
    """Run ``work`` until it returns or ``stop`` is set, then cancel it and wait for it; a
    failure of ``work`` itself is raised.  A daemon's body between serving and stopping."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    task.cancel()
    (outcome,) = await asyncio.gather(task, return_exceptions=True)
    if isinstance(outcome, Exception):
        raise outcome
