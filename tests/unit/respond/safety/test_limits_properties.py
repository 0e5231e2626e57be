"""Properties of the limits over any arrival pattern (Hypothesis): no window ever holds
more actions or Nodes than allowed, and limits rebuilt from the ledger decide
exactly as the limits that were there -- what makes a leader change safe."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from hypothesis import example, given, settings
from hypothesis import strategies as st

from kubeops.respond.action import Plan
from kubeops.respond.event import Event, ObjectRef, identity_of
from kubeops.respond.ledger import LedgerEntry
from kubeops.respond.limits import Limits
from kubeops.respond.model import ActionSpec, GlobalLimits, Rule, Safety, Trigger, Window

T0 = 1_700_000_000


@dataclass(frozen=True)
class Step:
    after: int
    """Seconds after the previous step (whole seconds: ties at window edges happen)."""
    rule: int
    obj: int
    name: int
    nodes: tuple[str, ...]
    scale: float | None


windows = st.none() | st.builds(Window, st.integers(1, 4), st.sampled_from([5.0, 10.0, 30.0, 60.0]))
safeties = st.builds(
    Safety,
    cooldown=st.sampled_from([0.0, 5.0, 20.0]),
    max_actions=windows,
    dedup_window=st.sampled_from([0.0, 5.0, 15.0]),
    max_scale_percent=st.none() | st.just(50.0),
    max_drained_nodes=windows,
)
steps = st.lists(
    st.builds(
        Step,
        after=st.integers(0, 12),
        rule=st.integers(0, 1),
        obj=st.integers(0, 3),
        name=st.integers(0, 1),
        nodes=st.sampled_from([(), ("n1",), ("n2",), ("n1", "n3"), ("n4",)]),
        scale=st.none() | st.sampled_from([10.0, 80.0, -60.0]),
    ),
    min_size=1,
    max_size=80,
)


def rules_of(safety: list[Safety]) -> list[Rule]:
    return [
        Rule(f"rule-{i}", Trigger("event"), (ActionSpec("drain"),), safety=s)
        for i, s in enumerate(safety)
    ]


def arrivals(history: list[Step]) -> list[tuple[int, Step, Event, Plan]]:
    out, now = [], T0
    for i, step in enumerate(history):
        now += step.after
        event = Event(
            name=f"name-{step.name}",
            source="event",
            time=datetime.datetime.fromtimestamp(now, datetime.UTC),
            object={"kind": "Pod", "metadata": {"name": f"pod-{step.obj}", "namespace": "ns"}},
            identity=identity_of(i),
        )
        plan = Plan(
            "drain",
            ObjectRef("Pod", f"pod-{step.obj}", "ns"),
            "",
            scale_percent=step.scale,
            nodes=step.nodes,
        )
        out.append((now, step, event, plan))
    return out


@settings(max_examples=200, deadline=None)
@given(st.lists(safeties, min_size=2, max_size=2), windows, steps)
def test_no_window_ever_holds_more_than_allowed(
    safety: list[Safety], global_window: Window | None, history: list[Step]
) -> None:
    rules = rules_of(safety)
    limits = Limits(rules, GlobalLimits(max_actions=global_window))
    admitted: list[tuple[int, int, tuple[str, ...]]] = []
    for now, step, event, plan in arrivals(history):
        if limits.admit(rules[step.rule], event, plan, now) is None:
            admitted.append((now, step.rule, plan.nodes))
            s = safety[step.rule]
            if s.max_scale_percent is not None and plan.scale_percent is not None:
                assert abs(plan.scale_percent) <= s.max_scale_percent
    for now, rule, _ in admitted:
        window = safety[rule].max_actions
        if window is not None:
            inside = [a for a in admitted if a[1] == rule and now - window.seconds < a[0] <= now]
            assert len(inside) <= window.count
        drained = safety[rule].max_drained_nodes
        if drained is not None:
            nodes = {
                n
                for a in admitted
                if a[1] == rule and now - drained.seconds < a[0] <= now
                for n in a[2]
            }
            assert len(nodes) <= drained.count
        if global_window is not None:
            inside = [a for a in admitted if now - global_window.seconds < a[0] <= now]
            assert len(inside) <= global_window.count


@settings(max_examples=200, deadline=None)
@given(
    st.lists(safeties, min_size=2, max_size=2),
    windows,
    steps,
    st.floats(0, 1),
)
@example(  # a drain before the leader change bounds the Nodes after it
    [Safety(max_drained_nodes=Window(1, 60.0))] * 2,
    None,
    [Step(0, 0, 0, 0, ("n1",), None), Step(5, 0, 1, 0, ("n2",), None)],
    0.5,
)
def test_limits_rebuilt_from_the_ledger_decide_as_the_old_leader_would_have(
    safety: list[Safety], global_window: Window | None, history: list[Step], split: float
) -> None:
    rules = rules_of(safety)
    limits = GlobalLimits(max_actions=global_window)
    old = Limits(rules, limits)
    timeline = arrivals(history)
    cut = int(len(timeline) * split)
    ledger: list[LedgerEntry] = []
    for now, step, event, plan in timeline[:cut]:
        if old.admit(rules[step.rule], event, plan, now) is None:
            entry = LedgerEntry.for_action(
                rules[step.rule].name, 0, "drain", event, target=plan.target, nodes=plan.nodes
            )
            claimed = datetime.datetime.fromtimestamp(now, datetime.UTC)
            ledger.append(
                LedgerEntry(**{**_fields(entry), "claimed_at": claimed, "state": "succeeded"})
            )
    new = Limits(rules, limits)
    new.restore(reversed(ledger))  # the ledger lists in any order
    for now, step, event, plan in timeline[cut:]:
        rule = rules[step.rule]
        assert new.admit(rule, event, plan, now) == old.admit(rule, event, plan, now)


def _fields(entry: LedgerEntry) -> dict[str, object]:
    return {name: getattr(entry, name) for name in entry.__slots__}  # type: ignore[attr-defined]
