"""The push controller's Prometheus metrics, on the registry its daemon serves.

Names and labels are the contract's: operations by outcome, objects by state,
whether each target is up, each target's queue depth, and how long a source
change takes to reach a target (source event seen -> target write done).
"""

from __future__ import annotations

import contextlib

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["PROPAGATION_BUCKETS", "SyncMetrics"]

PROPAGATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class SyncMetrics:
    """The ``kubeops_sync_*`` metrics, registered on ``registry`` (a fresh one when None)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.operations = Counter(
            "kubeops_sync_operations_total",
            "Operations the sync carried out (or failed to), by policy, target, action and result.",
            ["policy", "target", "action", "result"],
            registry=self.registry,
        )
        self.objects = Gauge(
            "kubeops_sync_objects",
            "Objects per policy and target, by their last evaluated state.",
            ["policy", "target", "state"],
            registry=self.registry,
        )
        self.target_up = Gauge(
            "kubeops_sync_target_up",
            "1 while the target is reachable, 0 while its queue is paused.",
            ["target"],
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "kubeops_sync_queue_depth",
            "Keys waiting in the target's work queue.",
            ["target"],
            registry=self.registry,
        )
        self.propagation = Histogram(
            "kubeops_sync_propagation_seconds",
            "From a source change seen to the target's write done.",
            ["target"],
            buckets=PROPAGATION_BUCKETS,
            registry=self.registry,
        )

    def operation(self, policy: str, target: str, action: str, result: str) -> None:
        """Count one operation; ``result`` is ``success`` or ``error``."""
        self.operations.labels(policy, target, action, result).inc()

    def set_objects(self, policy: str, target: str, counts: dict[str, int]) -> None:
        """Set the per-state object counts of one (policy, target)."""
        for state, count in counts.items():
            self.objects.labels(policy, target, state).set(count)

    def forget_policy(self, policy: str, targets: list[str], states: list[str]) -> None:
        """Drop a deleted policy's object gauges."""
        for target in targets:
            for state in states:
                with contextlib.suppress(KeyError):
                    self.objects.remove(policy, target, state)

    def set_up(self, target: str, up: bool) -> None:
        """Record whether the target is reachable."""
        self.target_up.labels(target).set(1 if up else 0)

    def set_depth(self, target: str, depth: int) -> None:
        """Record the target's queue depth."""
        self.queue_depth.labels(target).set(depth)

    def propagated(self, target: str, seconds: float) -> None:
        """Observe one source change's propagation to ``target``."""
        self.propagation.labels(target).observe(seconds)
