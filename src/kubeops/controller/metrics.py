"""Prometheus metrics for controllers, their work queues and leader election.

Names follow client-go and controller-runtime (``workqueue_depth``,
``workqueue_adds_total``, ``controller_runtime_reconcile_total``, ...) so existing
dashboards and alerts work unchanged.  Everything registers in one
:class:`prometheus_client.CollectorRegistry` (the global one by default);
:func:`serve` exposes it over HTTP for Prometheus to scrape.
"""

from __future__ import annotations

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    start_http_server,
)

from kubeops.controller.reconciler import Controller, Request

_QUEUE_BUCKETS = tuple(10.0**e for e in range(-8, 4))  # 10 ns .. 1000 s, as client-go
_RECONCILE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class PrometheusMetrics:
    """The metric families; one instance per registry."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        queue = ["name"]
        self.depth = Gauge(
            "workqueue_depth", "Current depth of the work queue.", queue, registry=registry
        )
        self.adds = Counter(
            "workqueue_adds", "Items added to the work queue.", queue, registry=registry
        )
        self.latency = Histogram(
            "workqueue_queue_duration_seconds",
            "Seconds an item waits in the queue before being processed.",
            queue,
            buckets=_QUEUE_BUCKETS,
            registry=registry,
        )
        self.work_duration = Histogram(
            "workqueue_work_duration_seconds",
            "Seconds processing an item takes.",
            queue,
            buckets=_QUEUE_BUCKETS,
            registry=registry,
        )
        self.unfinished = Gauge(
            "workqueue_unfinished_work_seconds",
            "Seconds of work in progress not yet observed by work_duration.",
            queue,
            registry=registry,
        )
        self.longest = Gauge(
            "workqueue_longest_running_processor_seconds",
            "Seconds the longest-running item has been processed.",
            queue,
            registry=registry,
        )
        self.retries = Counter(
            "workqueue_retries", "Items re-added with a delay.", queue, registry=registry
        )
        controller = ["controller"]
        self.reconciles = Counter(
            "controller_runtime_reconcile",
            "Reconciles by result (success, error, requeue_after).",
            [*controller, "result"],
            registry=registry,
        )
        self.reconcile_errors = Counter(
            "controller_runtime_reconcile_errors",
            "Reconciles that failed.",
            controller,
            registry=registry,
        )
        self.reconcile_time = Histogram(
            "controller_runtime_reconcile_time_seconds",
            "Seconds per reconcile.",
            controller,
            buckets=_RECONCILE_BUCKETS,
            registry=registry,
        )
        self.active_workers = Gauge(
            "controller_runtime_active_workers",
            "Workers reconciling right now.",
            controller,
            registry=registry,
        )
        self.max_workers = Gauge(
            "controller_runtime_max_concurrent_reconciles",
            "Configured workers.",
            controller,
            registry=registry,
        )
        self.leader = Gauge(
            "leader_election_master_status",
            "1 while this process holds the lease, else 0.",
            ["name"],
            registry=registry,
        )

    # The work queue's MetricsProvider interface.
    def new_depth_metric(self, name: str) -> Gauge:
        """The queue-depth gauge of queue ``name``."""
        return self.depth.labels(name)

    def new_adds_metric(self, name: str) -> Counter:
        """The adds counter of queue ``name``."""
        return self.adds.labels(name)

    def new_latency_metric(self, name: str) -> Histogram:
        """The queue-wait histogram of queue ``name``."""
        return self.latency.labels(name)

    def new_work_duration_metric(self, name: str) -> Histogram:
        """The processing-time histogram of queue ``name``."""
        return self.work_duration.labels(name)

    def new_unfinished_work_seconds_metric(self, name: str) -> Gauge:
        """The in-flight work gauge (seconds) of queue ``name``."""
        return self.unfinished.labels(name)

    def new_longest_running_processor_seconds_metric(self, name: str) -> Gauge:
        """The longest-running processor gauge of queue ``name``."""
        return self.longest.labels(name)

    def new_retries_metric(self, name: str) -> Counter:
        """The retries counter of queue ``name``."""
        return self.retries.labels(name)

    def instrument(self, controller: Controller) -> None:
        """Count ``controller``'s reconciles, errors, durations and workers."""
        name = controller.name
        self.max_workers.labels(name).set(controller.workers)
        active = self.active_workers.labels(name)
        previous = controller.on_reconciled

        def observe(request: Request, seconds: float, error: BaseException | None) -> None:
            self.reconcile_time.labels(name).observe(seconds)
            if error is not None:
                self.reconcile_errors.labels(name).inc()
                self.reconciles.labels(name, "error").inc()
            else:
                self.reconciles.labels(name, "success").inc()
            active.set(controller.stats.active_workers)
            if previous is not None:
                previous(request, seconds, error)

        controller.on_reconciled = observe


def serve(port: int, address: str = "127.0.0.1", registry: CollectorRegistry = REGISTRY) -> None:
    """Expose ``/metrics`` on ``address:port`` from a background thread, unauthenticated.

    Loopback by default: metrics name objects and namespaces, so a port reachable from
    other hosts belongs behind :class:`kubeops.controller.serving.SecurePort`, which
    authenticates scrapers (bearer token or TokenReview + SubjectAccessReview).
    """
    start_http_server(port, address, registry=registry)
