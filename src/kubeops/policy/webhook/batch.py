"""A review's policies run one after another on one worker thread, in a form the event
loop can watch: which policy is running and since when, what is decided so far, and
which policies have not started -- so the loop can move those to another thread when
one policy is slow, and stop waiting at the deadline.

One pool job per review (not one per policy) is what keeps a set of thirty cheap CEL
policies cheap: a thread hop costs more than most policies do.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from kubeops.policy.model import Policy
from kubeops.policy.webhook.answer import Found


class Batch:
    """Policies evaluated in order by :meth:`run` (in a worker thread)."""

    def __init__(self, policies: Sequence[Policy]) -> None:
        self.policies = list(policies)
        self._found: list[Found] = []
        self._next = 0
        self._current: Policy | None = None
        self._since = 0.0
        self._cut = False
        self._closed = False
        self._lock = threading.Lock()

    def run(self, decide: Callable[[Policy], list[Found]]) -> None:
        """Decide each policy in turn until none is left or :meth:`cut` was called."""
        found: list[Found] = []
        while True:
            with self._lock:  # one lock a policy: keep what was decided, take the next
                if found and not self._closed:
                    self._found.extend(found)
                if self._cut or self._next >= len(self.policies):
                    self._current = None
                    return
                policy = self.policies[self._next]
                self._next += 1
                self._current, self._since = policy, time.monotonic()
            found = decide(policy)

    def running(self) -> tuple[Policy | None, float]:
        """The policy being decided and since when (``time.monotonic()``), or None."""
        with self._lock:
            return self._current, self._since

    def cut(self) -> list[Policy]:
        """Start no more policies here; those not started (for another thread)."""
        with self._lock:
            self._cut = True
            rest = self.policies[self._next :]
            self._next = len(self.policies)
            return rest

    def close(self) -> tuple[list[Found], Policy | None, list[Policy]]:
        """Stop: what was decided, the policy still running (None if none) and those
        never started; anything decided later is dropped."""
        with self._lock:
            self._cut = self._closed = True
            rest = self.policies[self._next :]
            self._next = len(self.policies)
            return list(self._found), self._current, rest
