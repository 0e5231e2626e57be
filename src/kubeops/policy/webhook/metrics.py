"""What the webhook counts: reviews by decision, each policy's decisions and errors,
how long reviews take, reviews in flight and when the serving certificate expires."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class WebhookMetrics:
    """The webhook's Prometheus metrics, in ``registry``."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.reviews = Counter(
            "kubeops_policy_webhook_reviews_total",
            "Admission reviews answered, by decision (allowed, denied, failed_open, "
            "failed_closed, invalid)",
            ["decision"],
            registry=self.registry,
        )
        self.decisions = Counter(
            "kubeops_policy_webhook_policy_decisions_total",
            "Violations found per policy, by what they did (deny, warn, audit)",
            ["policy", "decision"],
            registry=self.registry,
        )
        self.errors = Counter(
            "kubeops_policy_webhook_policy_errors_total",
            "Policies that could not decide, by cause (error, timeout, busy)",
            ["policy", "cause"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "kubeops_policy_webhook_review_duration_seconds",
            "Time from a review's arrival to its answer",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "kubeops_policy_webhook_reviews_in_flight",
            "Reviews being evaluated now",
            registry=self.registry,
        )
        self.cert_expiry = Gauge(
            "kubeops_policy_webhook_certificate_expiry_timestamp_seconds",
            "When the serving certificate expires (Unix time)",
            registry=self.registry,
        )
        self.cert_renewals = Counter(
            "kubeops_policy_webhook_certificate_renewals_total",
            "Serving certificates issued and loaded after the first",
            registry=self.registry,
        )
        self.policies = Gauge(
            "kubeops_policy_webhook_policies",
            "Policies loaded",
            registry=self.registry,
        )
