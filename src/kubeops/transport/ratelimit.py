"""Client-side rate limiting of requests to one cluster, as client-go's token bucket.

A client that lists in a hot loop can starve the API server's other clients;
client-go therefore throttles every client to ``QPS`` requests per second with
bursts of up to ``Burst``.  kubeops uses kubectl's defaults (client-go's 5/10 throttle real automation).
Watches are long-running and are not throttled (the caller skips them).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

# kubectl's defaults since 1.27: client-go's own rest.Config defaults (5 QPS, burst
# 10) throttle any real automation.  One meaning everywhere: Client(), Transport()
# and TokenBucket() all start from these, and 0 means "the default", as in client-go.
DEFAULT_QPS = 50.0
DEFAULT_BURST = 300


class TokenBucket:
    """Tokens refill at ``qps`` per second up to ``burst``; each request takes one.

    The bucket starts full.  As in client-go, ``qps == 0`` and ``burst == 0``
    mean the defaults (50 and 300, kubectl's) and a negative ``qps`` disables limiting.

    A waiter reserves its token when it arrives and sleeps exactly until that
    token exists, so waiters are served in arrival order and each wakes once:
    no thundering herd of waiters competing for every new token.  ``clock``
    (monotonic seconds) and ``sleep`` can be replaced to make tests exact.
    Not thread-safe: use one bucket per event loop.
    """

    def __init__(
        self,
        qps: float = DEFAULT_QPS,
        burst: int = DEFAULT_BURST,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if burst < 0:
            raise ValueError(f"burst must be 0 (the default, {DEFAULT_BURST}) or more, not {burst}")
        self.qps = DEFAULT_QPS if qps == 0 else float(qps)
        self.burst = DEFAULT_BURST if burst == 0 else burst
        self._clock = clock
        self._sleep = sleep
        # Below zero once waiters have reserved tokens that do not exist yet.
        self._tokens = float(self.burst)
        self._updated = clock()

    @property
    def disabled(self) -> bool:
        """Whether rate limiting is off (a negative ``qps``)."""
        return self.qps < 0

    @property
    def tokens(self) -> float:
        """Tokens available now; negative when that many waiters are queued."""
        self._refill()
        return self._tokens

    def _refill(self) -> None:
        now = self._clock()
        elapsed = now - self._updated
        if elapsed > 0:
            self._tokens = min(float(self.burst), self._tokens + elapsed * self.qps)
        self._updated = now

    def try_acquire(self) -> bool:
        """Take a token if one is free now; never jumps ahead of queued waiters."""
        if self.disabled:
            return True
        self._refill()
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    async def acquire(self) -> float:
        """Wait for a token; return the seconds waited (0.0 when one was free)."""
        if self.disabled:
            return 0.0
        self._refill()
        self._tokens -= 1
        if self._tokens >= 0:
            return 0.0
        start = self._clock()
        delay = -self._tokens / self.qps
        try:
            await self._sleep(delay)
        except BaseException:
            # Give the reserved token back so a cancelled request does not cost a slot.
            self._refill()
            self._tokens = min(float(self.burst), self._tokens + 1)
            raise
        return max(0.0, self._clock() - start)
