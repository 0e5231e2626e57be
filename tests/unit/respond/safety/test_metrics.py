"""The respond metrics: named as documented, counted per label, kept per registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from kubeops.respond.metrics import RespondMetrics


def test_decisions_and_events_are_counted_by_their_labels() -> None:
    metrics = RespondMetrics()
    metrics.decision("scale-on-cpu", "suppressed", "cooldown")
    metrics.decision("scale-on-cpu", "suppressed", "cooldown")
    metrics.decision("scale-on-cpu", "succeeded")
    metrics.event("usage", "UsageHigh")
    labels = {"rule": "scale-on-cpu", "outcome": "suppressed", "reason": "cooldown"}
    assert metrics.value("kubeops_respond_decisions_total", labels) == 2
    assert (
        metrics.value("kubeops_respond_events_total", {"source": "usage", "name": "UsageHigh"}) == 1
    )
    assert metrics.value("kubeops_respond_decisions_total", {**labels, "reason": "paused"}) == 0


def test_every_family_is_exposed_under_its_documented_name() -> None:
    registry = CollectorRegistry()
    metrics = RespondMetrics(registry)
    metrics.in_flight.inc()
    metrics.action_seconds.labels("scale").observe(0.2)
    metrics.event_to_action.observe(0.3)
    metrics.ledger_errors.inc()
    metrics.audit_errors.inc()
    metrics.paused.set(1)
    text = generate_latest(registry).decode()
    for name in (
        "kubeops_respond_decisions_total",
        "kubeops_respond_events_total",
        "kubeops_respond_actions_in_flight 1.0",
        'kubeops_respond_action_seconds_count{action="scale"} 1.0',
        'kubeops_respond_event_to_action_seconds_bucket{le="0.5"} 1.0',
        "kubeops_respond_ledger_errors_total 1.0",
        "kubeops_respond_audit_errors_total 1.0",
        "kubeops_respond_paused 1.0",
    ):
        assert name in text, name


def test_two_engines_in_one_process_do_not_collide() -> None:
    first, second = RespondMetrics(), RespondMetrics()
    first.decision("r", "fired")
    assert (
        second.value(
            "kubeops_respond_decisions_total", {"rule": "r", "outcome": "fired", "reason": ""}
        )
        == 0
    )
