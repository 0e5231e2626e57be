"""Python rules by decorator, and replay of a recorded stream of events."""

from __future__ import annotations

import asyncio
import datetime
import textwrap
from pathlib import Path

import pytest

from kubeops.respond.event import Event
from kubeops.respond.outcome import DRY_RUN, FIRED, SUPPRESSED
from kubeops.respond.replay import ReplayError, event_from_json, event_to_json, read_events, replay
from kubeops.respond.rules import RuleError, load_rules

MODULE = '''
from kubeops.respond import GlobalLimits, Safety, Trigger
from kubeops.respond.registry import listener, rule

LIMITS = GlobalLimits(namespace="ops")

@listener("server_down")
async def page(event):
    """Page the database team."""

@rule(trigger=Trigger(source="derived", names=("CrashLoop",)), conditions=["payload.restarts > 3"],
      safety=Safety(cooldown=600))
def on_crash(event):
    pass
'''


def test_a_module_of_decorated_functions_loads_as_rules(tmp_path: Path) -> None:
    path = tmp_path / "ops_rules.py"
    path.write_text(MODULE)
    ruleset = load_rules([path])
    page, crash = ruleset.rules
    assert (page.name, page.trigger.source, page.trigger.names) == ("page", "", ("server_down",))
    assert page.description == "Page the database team."
    assert page.actions[0].kind == "call"
    assert callable(page.functions["page"])
    assert page.origin == f"{path}:7"
    assert crash.safety.cooldown == 600
    assert crash.conditions == ("payload.restarts > 3",)
    assert ruleset.limits.namespace == "ops"
    assert [a.spec.kind for a in ruleset.actions["on_crash"]] == ["call"]


def test_a_decorated_rule_with_bad_cel_or_a_broken_module_is_reported_with_its_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bad_rules.py"
    path.write_text(MODULE.replace("payload.restarts > 3", "payload.restarts >"))
    with pytest.raises(RuleError) as caught:
        load_rules([path])
    assert caught.value.problems[0].startswith(
        f"{path}:11: rule on_crash: conditions[0]: invalid CEL"
    )
    path.write_text("def broken(:\n")
    with pytest.raises(RuleError, match=rf"{path}:1: invalid Python"):
        load_rules([path])
    path.write_text("raise SystemError('no')\n")
    with pytest.raises(RuleError, match=r"importing it failed: SystemError: no"):
        load_rules([path])


def test_an_event_reads_back_as_it_was_written() -> None:
    when = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    event = Event(
        "modified", "resource", when, {"a": [1]}, {"kind": "Pod"}, {"kind": "Pod", "x": 1}, "id1"
    )
    line = event_to_json(event)
    assert "\n" not in line
    assert event_from_json(line) == event
    derived = event_from_json('{"name": "x", "source": "http", "time": "2026-01-02T03:04:05"}')
    assert derived.identity
    assert derived.time.tzinfo is not None
    for bad, field in [
        ("[1]", "JSON object"),
        ('{"source": "http", "time": "x"}', "name"),
        ('{"name": "x", "source": "http", "time": "yesterday"}', "time"),
        ('{"name": "x", "source": "http", "time": "2026-01-01T00:00:00Z", "objet": {}}', "objet"),
    ]:
        with pytest.raises(ValueError, match=field):
            event_from_json(bad)


def test_replay_runs_a_recorded_storm_in_dry_run_with_the_limits_in_event_time(
    tmp_path: Path,
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        textwrap.dedent("""\
        rules:
          - name: restart-web
            trigger: {source: resource, kind: Pod, names: [modified], selector: app=web}
            actions: [restart]
            safety: {cooldown: 5m}
        """)
    )
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web-1", "namespace": "prod", "uid": "u", "labels": {"app": "web"}},
    }
    events = tmp_path / "events.jsonl"
    events.write_text(
        "\n".join(
            event_to_json(
                Event(
                    "modified",
                    "resource",
                    start + datetime.timedelta(minutes=m),
                    {},
                    pod,
                    identity=f"e{m}",
                )
            )
            for m in (0, 1, 2, 6)
        )
        + "\n\n"
    )
    decisions = asyncio.run(replay(load_rules([rules]), events))
    actions = [(d.outcome, d.reason) for d in decisions if d.action]
    # One restart, two in the cooldown, and one after it: counted in the events' own time.
    assert actions == [
        (DRY_RUN, ""),
        (SUPPRESSED, "cooldown"),
        (SUPPRESSED, "cooldown"),
        (DRY_RUN, ""),
    ]
    assert sum(d.outcome == FIRED for d in decisions) == 4
    assert all(d.dry_run for d in decisions)
    assert decisions[-1].time == start + datetime.timedelta(minutes=6)
    events.write_text(event_to_json(Event("x", "http", start)) + "\nnot json\n")
    with pytest.raises(ReplayError, match=rf"{events}:2: not an event: not JSON"):
        list(read_events(events))


GUIDE = """
from kubeops.respond.registry import listener

CALLS = []

@listener("server_down")
async def failover(event):
    CALLS.append((event.source, event.payload["host"]))
    return "switched to the standby"
"""


async def test_a_listener_is_called_for_its_event_from_any_source(tmp_path: Path) -> None:
    from typing import Any

    from kubeops.respond.engine import Engine
    from kubeops.respond.outcome import SUCCEEDED

    path = tmp_path / "guide_rules.py"
    path.write_text(GUIDE)
    ruleset = load_rules([path])
    client: Any = object()  # a call action needs no cluster
    engine = Engine(client, ruleset)
    when = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    http = await engine.handle(Event("server_down", "http", when, {"host": "db-0"}, identity="a"))
    alert = await engine.handle(Event("server_down", "alert", when, {"host": "db-1"}, identity="b"))
    other = await engine.handle(Event("server_up", "http", when, {"host": "db-0"}, identity="c"))
    assert [d.outcome for d in http + alert] == [FIRED, SUCCEEDED, FIRED, SUCCEEDED]
    assert other == []
    module = ruleset.rules[0].functions["failover"].__globals__
    assert module["CALLS"] == [("http", "db-0"), ("alert", "db-1")]
    assert "switched to the standby" in http[1].detail


def test_rules_built_in_code_are_checked_like_yaml_ones() -> None:
    from typing import Any

    from kubeops.respond import Rule, Trigger
    from kubeops.respond.model import ActionSpec
    from kubeops.respond.registry import ruleset_from_rules

    wrong: Any = "added"
    bad = [
        Rule(
            "bad name!",
            Trigger("resource", kind="Pod"),
            (ActionSpec("restart"),),
            origin="ops.py:3",
        ),
        Rule("types", Trigger("resource", names=wrong, kind="Pod"), (wrong,), origin="ops.py:9"),
        Rule(
            "cel",
            Trigger("http", condition="payload.x >"),
            (ActionSpec("restart", {"targt": "owner"}),),
            origin="ops.py:12",
        ),
    ]
    with pytest.raises(RuleError) as caught:
        ruleset_from_rules(bad)
    found = caught.value.problems
    assert found[0].startswith("ops.py:3: rule bad name!: name: must be 1-253 letters")
    assert found[1] == "ops.py:9: rule types: trigger.names: must be a tuple of strings"
    assert found[2] == "ops.py:9: rule types: actions[0]: must be an ActionSpec, not str"
    assert found[3].startswith("ops.py:12: rule cel: trigger.condition: invalid CEL")
    assert found[4].startswith("ops.py:12: rule cel: actions[0].restart.targt: ") or found[
        4
    ].startswith("ops.py:12: rule cel: actions[0].restart")
    assert len(found) == 5, found
