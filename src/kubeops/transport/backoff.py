"""When a failed request is sent again, and after how long.

client-go retries (up to 10 times) only what the server asked it to retry: a
429 or 5xx carrying ``Retry-After``, plus a GET whose connection broke.  kubeops
follows it and deliberately goes further, because overloaded clusters and the
load balancers in front of them often answer without ``Retry-After``:

* a 429 without ``Retry-After`` is retried for every method: the server refused
  the request before doing anything;
* a 503 or 504 without ``Retry-After`` is retried for idempotent methods only,
  since a proxy may send them after it forwarded the request;
* a connection that broke after the request was sent is retried for idempotent
  methods (client-go: GET only); one that failed before anything was sent
  (refused, DNS, TLS handshake) is retried for every method.

The wait is ``max(Retry-After, backoff)`` with exponential backoff and jitter,
so a fleet of clients does not come back in lockstep.
"""

from __future__ import annotations

import math
import random as _random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Literal

# client-go's maximum number of retries (rest.Request.maxRetries).
DEFAULT_MAX_RETRIES = 10

# Safe methods plus PUT and DELETE, idempotent by RFC 9110 section 9.2.2.  In
# Kubernetes a replayed PUT that carried a resourceVersion answers 409 Conflict
# and a replayed DELETE answers 404 NotFound: the outcomes a concurrent writer
# causes, which callers handle anyway, and never a duplicated effect.  POST is
# never replayed (a generateName create would make a second object), nor PATCH
# (a JSON patch "add" to a list would apply twice).
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

Jitter = Literal["full", "equal", "none"]


@dataclass(frozen=True)
class Backoff:
    """Exponential delays: ``min(cap, base * factor**attempt)``, then jittered.

    ``attempt`` counts retries already made: 0 for the first retry.  ``full``
    jitter draws uniformly from ``[0, d]``, which spreads clients best; ``equal``
    (the default) draws from ``[d/2, d]``, so every retry still waits at least
    half the delay and an overloaded server gets real relief.  Defaults: 0.5 s
    doubling to a 10 s cap, so ten retries give up after about a minute at most.
    """

    base: float = 0.5
    factor: float = 2.0
    cap: float = 10.0
    jitter: Jitter = "equal"
    random: Callable[[], float] = field(default=_random.random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.base < 0 or self.cap < 0:
            raise ValueError(f"backoff base and cap must not be negative: {self.base}, {self.cap}")
        if self.factor < 1:
            raise ValueError(f"backoff factor must be at least 1, not {self.factor}")
        if self.jitter not in ("full", "equal", "none"):
            raise ValueError(f"backoff jitter must be full, equal or none, not {self.jitter!r}")

    def ceiling(self, attempt: int) -> float:
        """The delay before jitter."""
        try:
            delay = self.base * self.factor ** max(0, attempt)
        except OverflowError:
            return self.cap
        return min(self.cap, delay)

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        ceiling = self.ceiling(attempt)
        if self.jitter == "full":
            return ceiling * self.random()
        if self.jitter == "equal":
            return ceiling / 2 + ceiling / 2 * self.random()
        return ceiling


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: whole seconds or an HTTP-date; else None.

    A date in the past means 0.  ``now`` (Unix seconds) defaults to the current time.
    """
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        # A number no float holds is as unusable as any other garbage (and int() refuses 4,300 digits).
        return float(int(value)) if len(value) <= 300 else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        # RFC 9110 dates are always GMT; "-0000" parses without a zone.
        when = when.replace(tzinfo=UTC)
    seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, float(math.ceil(seconds)))


@dataclass(frozen=True)
class RetryPolicy:
    """Decides whether a failed request is sent again, and how long to wait first."""

    max_retries: int = DEFAULT_MAX_RETRIES
    backoff: Backoff = field(default_factory=Backoff)

    def decide(
        self,
        attempt: int,
        *,
        method: str,
        status: int | None,
        retry_after: float | None,
        connection_error: bool,
        sent: bool = True,
    ) -> float | None:
        """The seconds to wait before retrying, or None to give up and report the error.

        ``attempt`` counts retries already made (0 after the first try failed).
        ``connection_error`` means no HTTP answer came back; ``sent=False`` says
        the failure came before the request was written (connection refused,
        DNS, TLS), so the server cannot have acted on it.  After the wait the
        caller consults the rate limiter again, as client-go does.
        """
        if attempt >= self.max_retries:
            return None
        idempotent = method.upper() in IDEMPOTENT_METHODS
        if connection_error:
            retry = idempotent or not sent
        elif status is None:
            retry = False
        elif (status == 429 or status >= 500) and retry_after is not None:
            retry = True  # client-go: the server asked for it, whatever the method
        elif status == 429:
            retry = True
        elif status in (503, 504):
            retry = idempotent
        else:
            retry = False
        if not retry:
            return None
        return max(retry_after or 0.0, self.backoff.delay(attempt))
