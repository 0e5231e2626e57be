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
