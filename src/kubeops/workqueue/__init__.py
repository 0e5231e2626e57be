"""Work queues for controllers: deduplicating, delaying and rate-limited, as client-go's util/workqueue.

An informer's handlers add object keys; N workers ``await queue.get()`` a key,
reconcile it and call ``queue.done(key)``.  The queue guarantees that a key is
never processed by two workers at once and that a change arriving while its
key is being processed leads to exactly one more run.  Failures are retried
with :meth:`RateLimitingQueue.add_rate_limited` and reset with
:meth:`RateLimitingQueue.forget`.

When tracing is on (:mod:`kubeops.telemetry`), an item carries the trace context
it was added in to its worker (:meth:`WorkQueue.trace_context`), through delays
and retries too, so an event and the reconcile it caused are one trace; when it
is off, nothing is stored per item.

Everything runs on one asyncio event loop; ``add_threadsafe`` accepts items
from other threads.  Clocks are injectable (``clock``, ``sleep``) so tests run
in fake time.
"""

from kubeops.workqueue.delaying import DelayingQueue
from kubeops.workqueue.metrics import (
    CounterMetric,
    GaugeMetric,
    HistogramMetric,
    InMemoryMetricsProvider,
    InMemoryQueueMetrics,
    MetricsProvider,
    SettableGaugeMetric,
)
from kubeops.workqueue.queue import QueueShutDown, WorkQueue
from kubeops.workqueue.rate_limiters import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    ItemFastSlowRateLimiter,
    MaxOfRateLimiter,
    RateLimiter,
    default_controller_rate_limiter,
)
from kubeops.workqueue.rate_limiting import RateLimitingQueue

__all__ = [
    "BucketRateLimiter",
    "CounterMetric",
    "DelayingQueue",
    "GaugeMetric",
    "HistogramMetric",
    "InMemoryMetricsProvider",
    "InMemoryQueueMetrics",
    "ItemExponentialFailureRateLimiter",
    "ItemFastSlowRateLimiter",
    "MaxOfRateLimiter",
    "MetricsProvider",
    "QueueShutDown",
    "RateLimiter",
    "RateLimitingQueue",
    "SettableGaugeMetric",
    "WorkQueue",
    "default_controller_rate_limiter",
]
