"""The engine's pure parts: the trigger matcher, conditions, limits, dry run and audit
decisions -- with an in-memory action (what an action does to a cluster is the
actions' and the integration tests' business)."""

from __future__ import annotations

import asyncio
import datetime
import time
from dataclasses import dataclass, field
from typing import Any

from kubeops.respond.action import ActionContext, Plan
from kubeops.respond.engine import Engine, trigger_matches
from kubeops.respond.event import Event, identity_of
from kubeops.respond.model import ActionSpec, GlobalLimits, Rule, Safety, Trigger, Window
from kubeops.respond.outcome import (
    DEDUPLICATED,
    DRY_RUN,
    FAILED,
    FIRED,
    GLOBAL_RATE,
    PAUSED,
    RULE_RATE,
    SUCCEEDED,
    SUPPRESSED,
)
from kubeops.respond.rules import RuleSet

T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def pod(
    name: str = "web-1", ns: str = "prod", labels: dict[str, str] | None = None, **meta: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": ns,
            "uid": f"uid-{name}",
            "labels": labels or {"app": "web"},
            **meta,
        },
        "spec": {"nodeName": "n1"},
    }


def event(
    name: str = "modified",
    source: str = "resource",
    obj: dict[str, Any] | None = None,
    n: int = 0,
    **kw: Any,
) -> Event:
    obj = pod() if obj is None else obj
    return Event(
        name=name,
        source=source,
        time=T0 + datetime.timedelta(seconds=n),
        object=obj,
        identity=identity_of(name, n, str(obj)),
        **kw,
    )


def test_the_matcher_checks_source_names_kind_namespaces_and_selector() -> None:
    base = Trigger(
        source="resource", names=("modified",), kind="Pod", namespaces=("prod",), selector="app=web"
    )
    assert trigger_matches(base, event())
    assert not trigger_matches(base, event(source="derived"))
    assert not trigger_matches(base, event(name="deleted"))
    assert not trigger_matches(base, event(obj={**pod(), "kind": "Service"}))
    assert not trigger_matches(base, event(obj=pod(ns="dev")))
    assert not trigger_matches(base, event(obj=pod(labels={"app": "db"})))
    assert trigger_matches(Trigger(source="resource", kind="pod", api_version="v1"), event())
    assert not trigger_matches(
        Trigger(source="resource", kind="Pod", api_version="apps/v1"), event()
    )
    # A listener's trigger (no source) takes the name from any source.
    anywhere = Trigger(source="", names=("server_down",))
    assert trigger_matches(anywhere, Event("server_down", "http", T0, payload={"host": "db"}))
    assert trigger_matches(anywhere, event(name="server_down", source="alert"))
    assert not trigger_matches(anywhere, event())


@dataclass
class Recorder:
    """An in-memory action: plans a target, counts executions."""

    spec: ActionSpec
    done: list[str] = field(default_factory=list)
    fail: bool = False

    async def plan(self, ctx: ActionContext) -> Plan:
        return Plan(
            action=self.spec.kind, target=ctx.event.subject, summary=f"touch {ctx.event.subject}"
        )

    async def execute(self, ctx: ActionContext, plan: Plan) -> str:
        if self.fail:
            raise RuntimeError("boom\nsecond line")
        self.done.append(ctx.action_id)
        return f"touched {plan.target}"


class Audit:
    def __init__(self) -> None:
        self.records: list[Any] = []

    def record(self, record: Any) -> None:
        self.records.append(record)


def engine_for(
    *rules: Rule, limits: GlobalLimits | None = None, **kw: Any
) -> tuple[Engine, dict[str, Recorder]]:
    actions = {r.name: Recorder(r.actions[0]) for r in rules}
    ruleset = RuleSet(
        rules=rules, limits=limits or GlobalLimits(), actions={n: (a,) for n, a in actions.items()}
    )
    client: Any = object()  # the in-memory action never uses it
    return Engine(client, ruleset, now=lambda e: e.time.timestamp(), **kw), actions


def rule(name: str = "r", **kw: Any) -> Rule:
    return Rule(
        name=name,
        trigger=Trigger(source="resource", kind="Pod"),
        actions=(ActionSpec("touch"),),
        **kw,
    )


async def test_a_matching_event_fires_then_runs_each_action_once() -> None:
    engine, actions = engine_for(rule())
    decisions = await engine.handle(event())
    assert [(d.outcome, d.action) for d in decisions] == [(FIRED, ""), (SUCCEEDED, "touch")]
    assert decisions[1].action_id == identity_of("r", 0, event().identity)
    assert decisions[1].detail == "touched pod/prod/web-1"
    assert actions["r"].done == [decisions[1].action_id]
    assert await engine.handle(event(source="derived")) == []


async def test_conditions_filter_and_an_evaluation_error_is_a_failed_decision() -> None:
    holds = rule("holds", conditions=("object.metadata.labels['app'] == 'web'",))
    fails = rule("fails", conditions=("object.metadata.labels['app'] == 'db'",))
    broken = rule("broken", conditions=("object.spec.missing == 1",))
    trig = Rule(
        name="trig",
        trigger=Trigger(source="resource", condition="object.spec.nodeName == 'n2'"),
        actions=(ActionSpec("touch"),),
    )
    engine, actions = engine_for(holds, fails, broken, trig)
    decisions = await engine.handle(event())
    outcomes = [(d.rule, d.outcome) for d in decisions]
    assert outcomes == [("holds", FIRED), ("holds", SUCCEEDED), ("broken", FAILED)]
    assert "condition: " in decisions[2].detail
    assert "missing" in decisions[2].detail
    assert actions["fails"].done == []
    assert actions["broken"].done == []


async def test_limits_suppress_and_name_the_reason() -> None:
    capped = rule("capped", safety=Safety(max_actions=Window(2, 60)))
    engine, actions = engine_for(capped, limits=GlobalLimits(max_actions=Window(100, 60)))
    outcomes = []
    for n in range(5):
        decisions = await engine.handle(event(obj=pod(f"p{n}"), n=n))
        outcomes.append((decisions[1].outcome, decisions[1].reason))
    assert outcomes == [(SUCCEEDED, "")] * 2 + [(SUPPRESSED, RULE_RATE)] * 3
    assert len(actions["capped"].done) == 2
    dedup = rule("dedup", safety=Safety(dedup_window=30))
    engine, actions = engine_for(dedup, limits=GlobalLimits(max_actions=Window(1, 3600)))
    first = await engine.handle(event(n=0))
    again = await engine.handle(event(n=5))
    other = await engine.handle(event(obj=pod("p9"), n=6))
    assert (first[1].outcome, again[1].reason, other[1].reason) == (
        SUCCEEDED,
        DEDUPLICATED,
        GLOBAL_RATE,
    )


async def test_dry_run_plans_audits_and_changes_nothing() -> None:
    audit = Audit()
    engine, actions = engine_for(rule(), rule("dry", safety=Safety(dry_run=True)), audit=audit)
    decisions = await engine.handle(event())
    assert [(d.rule, d.outcome, d.dry_run) for d in decisions] == [
        ("r", FIRED, False),
        ("r", SUCCEEDED, False),
        ("dry", FIRED, True),
        ("dry", DRY_RUN, True),
    ]
    assert actions["dry"].done == []
    assert [r.outcome for r in audit.records] == [FIRED, SUCCEEDED, FIRED, DRY_RUN]
    engine, actions = engine_for(rule(), dry_run=True)
    assert [d.outcome for d in await engine.handle(event())] == [FIRED, DRY_RUN]
    assert actions["r"].done == []


async def test_the_pause_annotation_and_the_kill_switch_suppress_as_paused() -> None:
    class Switch:
        paused = False

    switch = Switch()
    engine, actions = engine_for(rule(), kill_switch=switch)
    paused_pod = pod(annotations={"respond.kubeops.io/paused": "true"})
    assert (await engine.handle(event(obj=paused_pod)))[1].reason == PAUSED
    switch.paused = True
    assert (await engine.handle(event(n=1)))[1].reason == PAUSED
    assert actions["r"].done == []


async def test_a_failing_action_is_a_failed_decision_on_one_line() -> None:
    engine, actions = engine_for(rule())
    actions["r"].fail = True
    decisions = await engine.handle(event())
    assert (decisions[1].outcome, decisions[1].detail) == (FAILED, "boom\\nsecond line")


async def test_submit_keeps_one_objects_events_in_order_and_runs_others_side_by_side() -> None:
    order: list[tuple[str, int]] = []
    running = 0
    most = 0

    class Slow(Recorder):
        async def execute(self, ctx: ActionContext, plan: Plan) -> str:
            nonlocal running, most
            running += 1
            most = max(most, running)
            await asyncio.sleep(0.01)
            order.append((str(ctx.event.subject), int(ctx.event.payload["n"])))
            running -= 1
            return "ok"

    slow = rule()
    ruleset = RuleSet(rules=(slow,), actions={"r": (Slow(slow.actions[0]),)})
    client: Any = object()
    engine = Engine(client, ruleset, concurrency=4)
    for n in range(5):
        for name in ("a", "b", "c", "d"):
            await engine.submit(
                Event("modified", "resource", T0, {"n": n}, pod(name), identity=f"{name}{n}")
            )
    await engine.drain()
    for name in ("a", "b", "c", "d"):
        assert [n for who, n in order if who == f"pod/prod/{name}"] == [0, 1, 2, 3, 4]
    assert most == 4


def test_engine_overhead_per_event_and_per_action() -> None:
    """Not a gate: the engine's own cost, printed for the report (pytest -s)."""
    misses = [rule(f"miss{i}") for i in range(20)]
    misses = [
        Rule(
            name=r.name, trigger=Trigger(source="derived", names=("CrashLoop",)), actions=r.actions
        )
        for r in misses
    ]
    engine, _ = engine_for(*misses)
    events = [event(n=n) for n in range(20_000)]

    async def run(e: Engine, items: list[Event]) -> float:
        await e.handle(items[0])  # imports and caches out of the measurement
        started = time.perf_counter()
        for item in items:
            await e.handle(item)
        return (time.perf_counter() - started) / len(items)

    no_match = asyncio.run(run(engine, events))
    plain = rule("plain")
    engine, _ = engine_for(plain)
    items = [event(obj=pod(f"p{n}"), n=n) for n in range(5_000)]
    one_action = asyncio.run(run(engine, items))
    cond = rule("cond", conditions=("object.metadata.labels['app'] == 'web'",))
    engine, _ = engine_for(cond)
    with_cel = asyncio.run(run(engine, items))
    print(
        f"\nengine overhead: {no_match * 1e6:.1f} us/event (20 rules, none matching); "
        f"{one_action * 1e6:.1f} us/event firing one rule with one in-memory action; "
        f"{with_cel * 1e6:.1f} us with a CEL condition too"
    )
    assert no_match > 0
    assert one_action > 0


def test_kubernetes_events_are_ordered_by_the_object_they_are_about() -> None:
    from kubeops.respond.engine import _order_key

    def k8s_event(uid: str, about: str) -> Event:
        obj = {"kind": "Event", "metadata": {"uid": uid, "namespace": "prod"},
               "involvedObject": {"kind": "Pod", "name": about, "namespace": "prod", "uid": f"pod-{about}"}}  # fmt: skip
        return Event("BackOff", "event", T0, object=obj)

    assert _order_key(k8s_event("e1", "web-1")) == _order_key(k8s_event("e2", "web-1"))
    assert _order_key(k8s_event("e1", "web-1")) != _order_key(k8s_event("e3", "web-2"))
    assert _order_key(event()) == "uid:uid-web-1"
    assert _order_key(Event("server_down", "http", T0)) == "name:http/server_down"
