"""Work queue metrics behind a small provider interface, with an in-process provider.

A queue whose depth only grows, or whose longest-running processor only ages,
is the usual sign of a stuck controller.  The queue reports the same seven
metrics as client-go's workqueue; where they go is up to a
:class:`MetricsProvider`, so a Prometheus adapter can be plugged in later
without the queue (or kubeops) depending on a metrics library.
:class:`InMemoryMetricsProvider` keeps plain numbers for tests, health reports
and anyone without a metrics backend.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

T = TypeVar("T", bound=Hashable)


class CounterMetric(Protocol):
    """A count that only goes up."""

    def inc(self) -> None:
        """Add one."""


class GaugeMetric(Protocol):
    """A value that goes up and down by one."""

    def inc(self) -> None:
        """Add one."""

    def dec(self) -> None:
        """Subtract one."""


class SettableGaugeMetric(Protocol):
    """A value set as a whole."""

    def set(self, value: float) -> None:
        """Make ``value`` the current value."""


class HistogramMetric(Protocol):
    """A distribution of observed values (durations in seconds)."""

    def observe(self, value: float) -> None:
        """Record one observation."""


class MetricsProvider(Protocol):
    """Makes one queue's metrics; ``name`` is the queue's name (a label, for Prometheus).

    Durations are in seconds.  The metrics, as in client-go:

    - depth: items waiting to be processed (including ones re-added while processing);
    - adds: items accepted by ``add`` (duplicates of a waiting item are not counted);
    - latency: seconds an item waited between ``add`` and ``get``;
    - work duration: seconds between ``get`` and ``done``;
    - unfinished work seconds: summed age of all items being processed now;
    - longest running processor seconds: age of the oldest item being processed now;
    - retries: ``add_after`` calls, which ``add_rate_limited`` makes.
    """

    def new_depth_metric(self, name: str) -> GaugeMetric:
        """The depth gauge of the queue ``name``."""

    def new_adds_metric(self, name: str) -> CounterMetric:
        """The adds counter of the queue ``name``."""

    def new_latency_metric(self, name: str) -> HistogramMetric:
        """The queue latency histogram of the queue ``name``."""

    def new_work_duration_metric(self, name: str) -> HistogramMetric:
        """The work duration histogram of the queue ``name``."""

    def new_unfinished_work_seconds_metric(self, name: str) -> SettableGaugeMetric:
        """The unfinished work seconds gauge of the queue ``name``."""

    def new_longest_running_processor_seconds_metric(self, name: str) -> SettableGaugeMetric:
        """The longest running processor gauge of the queue ``name``."""

    def new_retries_metric(self, name: str) -> CounterMetric:
        """The retries counter of the queue ``name``."""


# -- the in-process provider --------------------------------------------------


@dataclass
class Counter:
    """An in-memory :class:`CounterMetric`."""

    value: int = 0

    def inc(self) -> None:
        """Add one."""
        self.value += 1


@dataclass
class Gauge:
    """An in-memory gauge, settable or moved by one."""

    value: float = 0.0

    def inc(self) -> None:
        """Add one."""
        self.value += 1

    def dec(self) -> None:
        """Subtract one."""
        self.value -= 1

    def set(self, value: float) -> None:
        """Make ``value`` the current value."""
        self.value = value


@dataclass
class Summary:
    """Count, sum and extremes of observations: enough for rates and means without buckets."""

    count: int = 0
    total: float = 0.0
    min: float = math.inf
    max: float = -math.inf

    def observe(self, value: float) -> None:
        """Record one observation."""
        self.count += 1
        self.total += value
        self.min = min(self.min, value)
        self.max = max(self.max, value)

    @property
    def mean(self) -> float:
        """The mean observation (0 before the first)."""
        return self.total / self.count if self.count else 0.0


@dataclass
class InMemoryQueueMetrics:
    """One queue's metrics, as plain numbers."""

    depth: Gauge = field(default_factory=Gauge)
    adds: Counter = field(default_factory=Counter)
    latency: Summary = field(default_factory=Summary)
    work_duration: Summary = field(default_factory=Summary)
    unfinished_work_seconds: Gauge = field(default_factory=Gauge)
    longest_running_processor_seconds: Gauge = field(default_factory=Gauge)
    retries: Counter = field(default_factory=Counter)


class InMemoryMetricsProvider:
    """Keeps every queue's metrics in memory, by queue name; queues sharing a name share them."""

    def __init__(self) -> None:
        self.queues: dict[str, InMemoryQueueMetrics] = {}

    def queue(self, name: str) -> InMemoryQueueMetrics:
        """The metrics of the queue called ``name`` (created empty if unknown)."""
        return self.queues.setdefault(name, InMemoryQueueMetrics())

    def new_depth_metric(self, name: str) -> Gauge:
        """The depth gauge of the queue ``name``."""
        return self.queue(name).depth

    def new_adds_metric(self, name: str) -> Counter:
        """The adds counter of the queue ``name``."""
        return self.queue(name).adds

    def new_latency_metric(self, name: str) -> Summary:
        """The queue latency summary of the queue ``name``."""
        return self.queue(name).latency

    def new_work_duration_metric(self, name: str) -> Summary:
        """The work duration summary of the queue ``name``."""
        return self.queue(name).work_duration

    def new_unfinished_work_seconds_metric(self, name: str) -> Gauge:
        """The unfinished work seconds gauge of the queue ``name``."""
        return self.queue(name).unfinished_work_seconds

    def new_longest_running_processor_seconds_metric(self, name: str) -> Gauge:
        """The longest running processor gauge of the queue ``name``."""
        return self.queue(name).longest_running_processor_seconds

    def new_retries_metric(self, name: str) -> Counter:
        """The retries counter of the queue ``name``."""
        return self.queue(name).retries


# -- what a queue records -----------------------------------------------------


class QueueMetrics(Generic[T]):
    """Turns a queue's add/get/done events into the provider's metrics; internal to the queue."""

    def __init__(self, name: str, provider: MetricsProvider, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._depth = provider.new_depth_metric(name)
        self._adds = provider.new_adds_metric(name)
        self._latency = provider.new_latency_metric(name)
        self._work_duration = provider.new_work_duration_metric(name)
        self._unfinished = provider.new_unfinished_work_seconds_metric(name)
        self._longest = provider.new_longest_running_processor_seconds_metric(name)
        self._retries = provider.new_retries_metric(name)
        self._added_at: dict[T, float] = {}
        self._started_at: dict[T, float] = {}

    def add(self, item: T) -> None:
        """``item`` was accepted: one more waiting, its wait starts now."""
        self._adds.inc()
        self._depth.inc()
        self._added_at.setdefault(item, self._clock())

    def get(self, item: T) -> None:
        """``item`` was handed to a worker: one fewer waiting, its wait ends, its work starts."""
        now = self._clock()
        self._depth.dec()
        self._started_at[item] = now
        added = self._added_at.pop(item, None)
        if added is not None:
            self._latency.observe(now - added)

    def done(self, item: T) -> None:
        """``item``'s work ended."""
        started = self._started_at.pop(item, None)
        if started is not None:
            self._work_duration.observe(self._clock() - started)

    def retry(self) -> None:
        """An item was scheduled to be retried."""
        self._retries.inc()

    def update_unfinished_work(self) -> None:
        """Recompute the ages of the items being processed now."""
        now = self._clock()
        ages = [now - started for started in self._started_at.values()]
        self._unfinished.set(sum(ages))
        self._longest.set(max(ages, default=0.0))
