"""Usage over a window, pure: is every sample of the last ``seconds`` above a threshold?

The usage source feeds one :class:`Window` per subject (a Pod, a Node, a
Deployment) and resource with samples as the metrics API reports them, each with
the API's own timestamp (polling faster than metrics-server scrapes gives the
same sample twice; it counts once).  A run of samples above the threshold that
has lasted ``seconds`` is a breach; the next window starts there, so usage that
stays high breaches again each ``seconds`` -- the rule's cooldown decides whether
that acts again.  A sample at or below the threshold, or a gap longer than
``max_gap`` with no sample, ends the run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["Breach", "Window", "window_start"]


@dataclass(frozen=True, slots=True)
class Breach:
    """``samples`` samples, every one above the threshold, from ``start`` to ``end``."""

    start: float
    end: float
    mean: float
    samples: int
    lowest: float


def window_start(start: float, seconds: float) -> float:
    """``start`` rounded down to the window grid, so a run seen again maps to one occurrence."""
    if seconds <= 0:
        return start
    return math.floor(start / seconds) * seconds


@dataclass
class Window:
    """Samples of one subject; :meth:`add` says when they breach ``above`` for ``seconds``."""

    above: float
    seconds: float
    max_gap: float = math.inf
    _start: float | None = None
    _last: float | None = None
    _run: list[float] = field(default_factory=list)

    def add(self, time: float, percent: float) -> Breach | None:
        """Take a sample (epoch seconds, percent); the breach it completes, if any."""
        if self._last is not None and time <= self._last:
            return None  # the same sample again, or one older than the last
        gap = self._last is not None and time - self._last > self.max_gap
        self._last = time
        if percent <= self.above or math.isnan(percent) or gap:
            self._start, self._run = None, []
            if percent <= self.above or math.isnan(percent):
                return None
        if self._start is None:
            self._start = time
        self._run.append(percent)
        if time - self._start < self.seconds:
            return None
        breach = Breach(
            self._start, time, sum(self._run) / len(self._run), len(self._run), min(self._run)
        )
        # The next window starts at this sample.
        self._start, self._run = time, [percent]
        return breach

    @property
    def running_since(self) -> float | None:
        """When the current run above the threshold began (None: not above)."""
        return self._start
