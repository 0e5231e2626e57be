"""Prometheus metrics for ``kubeops respond``: every decision counted, as it is audited.

All families are named ``kubeops_respond_*`` and register in the
:class:`~prometheus_client.CollectorRegistry` given (the daemon's, served on its
``/metrics``), so two engines in one test process do not collide.  Label values
are bounded by the rule set: rule names, outcome and reason vocabularies
(:mod:`kubeops.respond.outcome`), source names, action kinds -- never an object
name or an event identity.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

ACTION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 10, 30)
"""Event to action: S9's target is a p99 of 1 s, so the buckets are fine around it."""


class RespondMetrics:
    """The metric families of one engine; see the module doc."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.decisions = Counter(
            "kubeops_respond_decisions",
            "Decisions for matched rules, by rule, outcome and suppression reason.",
            ["rule", "outcome", "reason"],
            registry=r,
        )
        self.events = Counter(
            "kubeops_respond_events",
            "Events received, by source and event name (matched by a rule or not).",
            ["source", "name"],
            registry=r,
        )
        self.in_flight = Gauge(
            "kubeops_respond_actions_in_flight", "Actions running now.", registry=r
        )
        self.action_seconds = Histogram(
            "kubeops_respond_action_seconds",
            "Seconds an action took to execute, by action kind.",
            ["action"],
            buckets=ACTION_BUCKETS,
            registry=r,
        )
        self.event_to_action = Histogram(
            "kubeops_respond_event_to_action_seconds",
            "Seconds from the event's time to its action's first request.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.ledger_errors = Counter(
            "kubeops_respond_ledger_errors",
            "Ledger reads and writes that failed (the action was not run).",
            registry=r,
        )
        self.audit_errors = Counter(
            "kubeops_respond_audit_errors",
            "Audit records that could not be written.",
            registry=r,
        )
        self.paused = Gauge(
            "kubeops_respond_paused", "1 while the kill switch pauses every action.", registry=r
        )

    def decision(self, rule: str, outcome: str, reason: str = "") -> None:
        """Count one decision (``reason`` only for suppressed ones)."""
        self.decisions.labels(rule, outcome, reason).inc()

    def event(self, source: str, name: str = "") -> None:
        """Count one event received."""
        self.events.labels(source, name).inc()

    def value(self, name: str, labels: dict[str, str] | None = None) -> float:
        """A sample's current value (0 when absent): for tests and ``/readyz`` detail."""
        found = self.registry.get_sample_value(name, labels or {})
        return float(found) if found is not None else 0.0
