"""Prometheus metrics of publishing to the bus: the spool's size and age, what went out,
what was refused.

The spool's gauges read the spool when scraped (no bookkeeping to drift); the
counters are counted by the publisher.  Everything registers in the registry given
(the daemon's, served on its ``/metrics``), so two publishers in one test process do
not collide.  No labels: one publisher per daemon, one topic.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge

if TYPE_CHECKING:
    from kubeops.bus.spool import Spool


class PublisherMetrics:
    """The publisher's metric families; see the module doc."""

    def __init__(self, spool: Spool, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.spool_bytes = Gauge(
            "kubeops_bus_spool_bytes",
            "Bytes of events waiting in the on-disk spool for the broker.",
            registry=r,
        )
        self.spool_bytes.set_function(lambda: spool.size)
        self.spool_events = Gauge(
            "kubeops_bus_spool_events", "Events waiting in the spool for the broker.", registry=r
        )
        self.spool_events.set_function(lambda: len(spool))
        self.spool_oldest = Gauge(
            "kubeops_bus_spool_oldest_seconds",
            "Age of the oldest event waiting in the spool (0 when it is empty).",
            registry=r,
        )
        self.spool_oldest.set_function(lambda: _age(spool.oldest()))
        self.published = Counter(
            "kubeops_bus_published",
            "Events the broker acknowledged (written to every in-sync replica).",
            registry=r,
        )
        self.dropped = Counter(
            "kubeops_bus_dropped",
            "Events refused because the spool was full (spool.maxBytes).",
            registry=r,
        )
        self.errors = Counter(
            "kubeops_bus_publish_errors",
            "Failed attempts to send a batch of events (they stay spooled and are sent again).",
            registry=r,
        )

    def value(self, name: str) -> float:
        """A sample's current value (0 when absent): for tests and ``/readyz`` detail."""
        found = self.registry.get_sample_value(name)
        return float(found) if found is not None else 0.0


def _age(since: float | None) -> float:
    return max(0.0, time.time() - since) if since is not None else 0.0
