"""A circuit breaker per cluster, so an unreachable cluster fails fast.

Without it every request to a dead cluster waits for a connect timeout and then
for its retries; a multi-cluster sync or an inspection of twenty clusters then
stalls on the one that is down.  After ``failure_threshold`` consecutive
failures the breaker opens and requests fail at once with :class:`CircuitOpen`;
after ``cooldown`` seconds one probe request is let through, and its outcome
closes the breaker or opens it again.

Only failures that say the server is not working count: connection-level
failures and 5xx responses.  A 4xx is a working server saying no (NotFound,
Forbidden, Conflict...): the caller reports it with :meth:`record_success`.
The caller decides; the breaker only counts.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable

from kubeops.transport.errors import CircuitOpen

DEFAULT_FAILURE_THRESHOLD = 5
DEFAULT_COOLDOWN = 10.0


class BreakerState(enum.StrEnum):
    """Closed (requests flow), open (they fail at once) or half-open (one probe is let through)."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitBreaker:
    """Counts consecutive failures of requests to ``server`` and fails fast when it is down.

    closed --N failures--> open --cooldown--> half-open: one probe goes through;
    its success closes the breaker, its failure opens it for another cooldown.
    A probe that never reports (its task was cancelled) is replaced by a new
    one after a further cooldown.  ``clock`` gives monotonic seconds.
    Not thread-safe: use one breaker per event loop.
    """

    def __init__(
        self,
        server: str,
        *,
        failure_threshold: int = DEFAULT_FAILURE_THRESHOLD,
        cooldown: float = DEFAULT_COOLDOWN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError(f"failure_threshold must be at least 1, not {failure_threshold}")
        if cooldown < 0:
            raise ValueError(f"cooldown must not be negative, not {cooldown}")
        self.server = server
        self.failure_threshold = failure_threshold
        self.cooldown = cooldown
        self._clock = clock
        self._failures = 0
        self._last_cause = ""
        self._opened_at: float | None = None
        self._probe_started: float | None = None

    @property
    def state(self) -> BreakerState:
        """HALF_OPEN once the cooldown has passed, whether or not the probe has started."""
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._probe_started is not None or self._clock() >= self._opened_at + self.cooldown:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    @property
    def failures(self) -> int:
        """Consecutive failures so far."""
        return self._failures

    @property
    def last_cause(self) -> str:
        """Why the last counted failure failed, for the CircuitOpen message."""
        return self._last_cause

    def before_request(self) -> None:
        """Let a request through, or raise :class:`CircuitOpen` saying when to come back."""
        if self._opened_at is None:
            return
        now = self._clock()
        if self._probe_started is not None:
            if now < self._probe_started + self.cooldown:
                raise self._open_error(self._probe_started + self.cooldown - now, probing=True)
        elif now < self._opened_at + self.cooldown:
            raise self._open_error(self._opened_at + self.cooldown - now)
        self._probe_started = now

    def record_success(self) -> None:
        """The server answered (any 2xx, 3xx or 4xx): close the breaker."""
        self._failures = 0
        self._opened_at = None
        self._probe_started = None

    def record_failure(self, cause: str) -> None:
        """No answer, or a 5xx: count it, and open (again) once the threshold is reached."""
        self._failures += 1
        self._last_cause = cause
        probing = self._probe_started is not None
        if probing or (self._opened_at is None and self._failures >= self.failure_threshold):
            self._opened_at = self._clock()
            self._probe_started = None

    def _open_error(self, retry_in: float, *, probing: bool = False) -> CircuitOpen:
        return CircuitOpen(
            self.server,
            self._last_cause,
            failures=self._failures,
            retry_in=retry_in,
            probing=probing,
        )
