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
    def inc(self) -> None: ...


class GaugeMetric(Protocol):
    def inc(self) -> None: ...

    def dec(self) -> None: ...


class SettableGaugeMetric(Protocol):
    def set(self, value: float) -> None: ...


class HistogramMetric(Protocol):
    def observe(self, value: float) -> None: ...


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

    def new_depth_metric(self, name: str) -> GaugeMetric: ...

    def new_adds_metric(self, name: str) -> CounterMetric: ...

    def new_latency_metric(self, name: str) -> HistogramMetric: ...

    def new_work_duration_metric(self, name: str) -> HistogramMetric: ...

    def new_unfinished_work_seconds_metric(self, name: str) -> SettableGaugeMetric: ...

    def new_longest_running_processor_seconds_metric(self, name: str) -> SettableGaugeMetric: ...

    def new_retries_metric(self, name: str) -> CounterMetric: ...


# -- the in-process provider --------------------------------------------------


@dataclass
class Counter:
    value: int = 0

    def inc(self) -> None:
        self.value += 1


@dataclass
class Gauge:
    value: float = 0.0

    def inc(self) -> None:
        self.value += 1

    def dec(self) -> None:
        self.value -= 1

    def set(self, value: float) -> None:
        self.value = value


@dataclass
class Summary:
    """Count, sum and extremes of observations: enough for rates and means without buckets."""

    count: int = 0
    total: float = 0.0
    min: float = math.inf
    max: float = -math.inf

    def observe(self, value: float) -> None:
        self.count += 1
        self.total += value
        self.min = min(self.min, value)
        self.max = max(self.max, value)

    @property
    def mean(self) -> float:
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
        return self.queue(name).depth

    def new_adds_metric(self, name: str) -> Counter:
        return self.queue(name).adds

    def new_latency_metric(self, name: str) -> Summary:
        return self.queue(name).latency

    def new_work_duration_metric(self, name: str) -> Summary:
        return self.queue(name).work_duration

    def new_unfinished_work_seconds_metric(self, name: str) -> Gauge:
        return self.queue(name).unfinished_work_seconds

    def new_longest_running_processor_seconds_metric(self, name: str) -> Gauge:
        return self.queue(name).longest_running_processor_seconds

    def new_retries_metric(self, name: str) -> Counter:
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
        self._adds.inc()
        self._depth.inc()
        self._added_at.setdefault(item, self._clock())

    def get(self, item: T) -> None:
        now = self._clock()
        self._depth.dec()
        self._started_at[item] = now
        added = self._added_at.pop(item, None)
        if added is not None:
            self._latency.observe(now - added)

    def done(self, item: T) -> None:
        started = self._started_at.pop(item, None)
        if started is not None:
            self._work_duration.observe(self._clock() - started)

    def retry(self) -> None:
        self._retries.inc()

    def update_unfinished_work(self) -> None:
        now = self._clock()
        ages = [now - started for started in self._started_at.values()]
        self._unfinished.set(sum(ages))
        self._longest.set(max(ages, default=0.0))
