"""The safety limits: each one stops what it should and nothing else, windows slide,
memory stays bounded, and a new leader's limits rebuilt from the ledger hold."""

from __future__ import annotations

import datetime
import random

import pytest

from kubeops.respond.action import Plan
from kubeops.respond.event import Event, ObjectRef, identity_of
from kubeops.respond.ledger import LedgerEntry
from kubeops.respond.limits import Limits
from kubeops.respond.model import ActionSpec, GlobalLimits, Rule, Safety, Trigger, Window
from kubeops.respond.outcome import (
    BLAST_RADIUS,
    COOLDOWN,
    DEDUPLICATED,
    GLOBAL_RATE,
    RULE_RATE,
)

T0 = 1_700_000_000.0


def rule(name: str = "r", **safety: object) -> Rule:
    return Rule(
        name=name,
        trigger=Trigger(source="event"),
        actions=(ActionSpec("restart"),),
        safety=Safety(**safety),  # type: ignore[arg-type]
    )


def pod(name: str, namespace: str = "prod") -> dict[str, object]:
    return {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": name, "namespace": namespace}}


def event(obj_name: str = "web-1", name: str = "BackOff", occurrence: object = 0) -> Event:
    return Event(
        name=name,
        source="event",
        time=datetime.datetime.fromtimestamp(T0, datetime.UTC),
        object=pod(obj_name),
        identity=identity_of(obj_name, name, occurrence),
    )


def plan(target: str | None = None, **kw: object) -> Plan:
    ref = ObjectRef("Pod", target, "prod") if target else None
    return Plan(action="restart", target=ref, summary="", **kw)  # type: ignore[arg-type]


def test_no_safety_settings_let_everything_through() -> None:
    limits = Limits([rule()])
    r = rule()
    for i in range(100):
        assert limits.admit(r, event(occurrence=i), plan(), T0) is None


def test_cooldown_holds_per_rule_and_target_and_expires() -> None:
    r, other = rule(cooldown=60), rule("other", cooldown=60)
    limits = Limits([r, other])
    assert limits.admit(r, event("a", occurrence=1), plan(), T0) is None
    assert limits.check(r, event("a", occurrence=2), plan(), T0 + 59) == COOLDOWN
    # Another object, or another rule on the same object, is not cooled down.
    assert limits.check(r, event("b", occurrence=3), plan(), T0 + 1) is None
    assert limits.check(other, event("a", occurrence=4), plan(), T0 + 1) is None
    # The target is the plan's, when it names one (a Deployment for its Pods' events).
    limits.record(r, event("c", occurrence=5), plan("web"), T0)
    assert limits.check(r, event("d", occurrence=6), plan("web"), T0 + 10) == COOLDOWN
    assert limits.check(r, event("a", occurrence=7), plan(), T0 + 60) is None


def test_the_actions_of_one_event_are_not_limited_by_each_other() -> None:
    r = rule(cooldown=60, dedup_window=60)
    limits = Limits([r])
    e = event("a")
    assert limits.admit(r, e, plan(), T0) is None
    assert limits.admit(r, e, plan(), T0) is None  # its second action, same target
    assert limits.check(r, event("a", occurrence="next"), plan(), T0 + 1) == DEDUPLICATED


def test_dedup_is_per_event_name_and_subject() -> None:
    r = rule(dedup_window=30)
    limits = Limits([r])
    limits.record(r, event("a", "BackOff", 1), plan("deploy"), T0)
    assert limits.check(r, event("a", "BackOff", 2), plan("deploy"), T0 + 29.9) == DEDUPLICATED
    assert limits.check(r, event("a", "Unhealthy", 3), plan("deploy"), T0 + 1) is None
    assert limits.check(r, event("b", "BackOff", 4), plan("deploy"), T0 + 1) is None
    assert limits.check(r, event("a", "BackOff", 5), plan("deploy"), T0 + 30) is None


def test_rule_rate_is_a_sliding_window() -> None:
    r = rule(max_actions=Window(3, 10))
    limits = Limits([r])
    for i, at in enumerate((0, 4, 8)):
        assert limits.admit(r, event(str(i)), plan(), T0 + at) is None
    assert limits.check(r, event("x"), plan(), T0 + 9.99) == RULE_RATE
    # The first action leaves the window at 10 s: one slot, then full again.
    assert limits.admit(r, event("y"), plan(), T0 + 10) is None
    assert limits.check(r, event("z"), plan(), T0 + 11) == RULE_RATE
    assert limits.check(r, event("z"), plan(), T0 + 14) is None


def test_global_rate_counts_every_rule() -> None:
    a, b = rule("a"), rule("b")
    limits = Limits([a, b], GlobalLimits(max_actions=Window(2, 60)))
    assert limits.admit(a, event("1"), plan(), T0) is None
    assert limits.admit(b, event("2"), plan(), T0 + 1) is None
    assert limits.check(a, event("3"), plan(), T0 + 2) == GLOBAL_RATE
    assert limits.check(b, event("3"), plan(), T0 + 61) is None


def test_blast_radius_bounds_a_scale_in_either_direction() -> None:
    r = rule(max_scale_percent=100)
    limits = Limits([r])
    assert limits.check(r, event(), plan(scale_percent=100.0), T0) is None
    assert limits.check(r, event(), plan(scale_percent=150.0), T0) == BLAST_RADIUS
    assert limits.check(r, event(), plan(scale_percent=-100.5), T0) == BLAST_RADIUS
    assert limits.check(r, event(), plan(), T0) is None  # not a scale


def test_blast_radius_counts_distinct_nodes_in_the_window() -> None:
    r = rule(max_drained_nodes=Window(2, 3600))
    limits = Limits([r])
    assert limits.admit(r, event("1"), plan(nodes=("n1",)), T0) is None
    assert limits.admit(r, event("2"), plan(nodes=("n1",)), T0 + 1) is None  # the same Node again
    assert limits.admit(r, event("3"), plan(nodes=("n2",)), T0 + 2) is None
    assert limits.check(r, event("4"), plan(nodes=("n3",)), T0 + 3) == BLAST_RADIUS
    assert limits.check(r, event("4"), plan(nodes=("n2",)), T0 + 3) is None
    assert limits.check(r, event("5"), plan(nodes=("n3", "n4", "n5")), T0 + 3601) == BLAST_RADIUS
    assert limits.check(r, event("5"), plan(nodes=("n3", "n4")), T0 + 3603) is None


def test_the_first_limit_that_applies_is_the_reason() -> None:
    r = rule(cooldown=60, dedup_window=60, max_actions=Window(1, 60), max_scale_percent=10)
    limits = Limits([r], GlobalLimits(max_actions=Window(1, 60)))
    limits.record(r, event("a", occurrence=1), plan(), T0)
    assert limits.check(r, event("a", occurrence=2), plan(scale_percent=50), T0) == DEDUPLICATED
    assert limits.check(r, event("a", "Other", 3), plan(scale_percent=50), T0) == COOLDOWN
    assert limits.check(r, event("b", occurrence=4), plan(scale_percent=50), T0) == BLAST_RADIUS
    assert limits.check(r, event("b", occurrence=4), plan(), T0) == RULE_RATE
    assert limits.check(rule("free"), event("b"), plan(), T0) == GLOBAL_RATE


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_storm_of_5000_events_lets_exactly_the_configured_number_through(seed: int) -> None:
    # Property: over any arrival pattern, the number admitted is exactly what the
    # limits allow -- per window, the rule's count; never more, never fewer.
    rng = random.Random(seed)
    r = rule(max_actions=Window(7, 60))
    limits = Limits([r], GlobalLimits(max_actions=Window(1000, 60)))
    times = sorted(T0 + rng.uniform(0, 50) for _ in range(5000))
    admitted = [
        at
        for i, at in enumerate(times)
        if limits.admit(r, event(f"pod-{rng.randrange(200)}", occurrence=i), plan(), at) is None
    ]
    assert len(admitted) == 7
    # Over several windows: an event is let through exactly when fewer than 7 were in
    # the 60 s before it (the sliding window's definition, checked for every event).
    limits = Limits([r])
    times = sorted(T0 + rng.uniform(0, 300) for _ in range(5000))
    admitted = []
    for i, at in enumerate(times):
        expected = sum(1 for other in admitted if at - other < 60) < 7
        got = limits.admit(r, event(f"pod-{i}", occurrence=i), plan(), at) is None
        assert got == expected, (i, at)
        if got:
            admitted.append(at)
    assert len(admitted) >= 5 * 7


def test_a_storm_with_cooldown_acts_once_per_object() -> None:
    r = rule(cooldown=3600)
    limits = Limits([r])
    allowed = sum(
        limits.admit(r, event(f"pod-{i % 50}", occurrence=i), plan(), T0 + i * 0.01) is None
        for i in range(5000)
    )
    assert allowed == 50


def test_memory_is_bounded_as_time_moves_on() -> None:
    r = rule(cooldown=10, dedup_window=10, max_actions=Window(100_000, 10))
    limits = Limits([r], GlobalLimits(max_actions=Window(100_000, 10)))
    for i in range(20_000):
        limits.admit(r, event(f"pod-{i}", occurrence=i), plan(), T0 + i * 0.1)
    # 10 s of 0.1 s steps is 100 actions; the keys of older objects are gone too.
    assert limits.size() < 5 * (100 + 1024)
    limits.sweep(T0 + 1_000_000)
    assert limits.size() == 0


def test_restore_rebuilds_the_windows_from_the_ledger() -> None:
    r = rule(cooldown=600, max_actions=Window(3, 600), max_drained_nodes=Window(1, 600))
    now = T0 + 100
    claimed = [
        LedgerEntry(
            action_id=f"id{i}",
            rule="r",
            action="drain",
            event_identity=f"e{i}",
            event_name="NodeNotReady",
            subject=ObjectRef("Pod", f"old-{i}", "prod"),
            claimed_at=datetime.datetime.fromtimestamp(T0 + i, datetime.UTC),
            state="succeeded",
            nodes=("n1",) if i == 0 else (),
        )
        for i in range(2)
    ]
    limits = Limits([r])
    assert limits.restore(claimed) == 2
    assert limits.check(r, event("old-0"), plan(), now) == COOLDOWN
    assert limits.check(r, event("new"), plan(nodes=("n2",)), now) == BLAST_RADIUS
    assert limits.admit(r, event("new"), plan(), now) is None
    assert limits.check(r, event("newer"), plan(), now) == RULE_RATE
    assert limits.horizon == 600


def test_a_released_slot_counts_no_more_but_cooldown_holds() -> None:
    # A new leader restored the old leader's actions, then re-sees one of their events:
    # the ledger says already done, and the engine gives the slot back.
    r = rule(cooldown=60, max_actions=Window(2, 600), max_drained_nodes=Window(1, 600))
    limits = Limits([r], GlobalLimits(max_actions=Window(2, 600)))
    done = event("a", occurrence=1)
    assert limits.admit(r, done, plan(nodes=("n1",)), T0) is None
    limits.release(r, done, plan(nodes=("n1",)), T0)
    assert limits.check(r, event("b", occurrence=2), plan(nodes=("n2",)), T0 + 1) is None
    assert limits.admit(r, event("b", occurrence=2), plan(), T0 + 1) is None
    assert limits.admit(r, event("c", occurrence=3), plan(), T0 + 2) is None
    assert limits.check(r, event("d", occurrence=4), plan(), T0 + 3) == RULE_RATE
    assert limits.check(r, event("a", occurrence=5), plan(), T0 + 3) == COOLDOWN
    limits.release(r, event("zz"), plan(), T0 + 99)  # nothing recorded then: no change
    assert limits.check(r, event("d", occurrence=4), plan(), T0 + 3) == RULE_RATE
