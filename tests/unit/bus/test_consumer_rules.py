"""The consumer's documented example, without a broker: the ``server_down`` message
any producer sends, decoded as KafkaSource decodes it, answers the ``source: kafka``
rule of the module doc -- by name, topic and CEL condition on the payload."""

from __future__ import annotations

import textwrap
from pathlib import Path

import orjson

from kubeops.bus import consumer
from kubeops.bus.cloudevents import from_message
from kubeops.cel import compile
from kubeops.respond.engine import trigger_matches
from kubeops.respond.event import Event
from kubeops.respond.rules import load_rules


def documented_rules(tmp_path: Path) -> str:
    doc = consumer.__doc__ or ""
    start = doc.index("    bus:\n")
    end = doc.index("\nkubeops' own events")
    path = tmp_path / "rules.yaml"
    path.write_text(textwrap.dedent(doc[start:end]))
    return str(path)


def read(payload: dict[str, str], topic: str = "monitoring.events") -> Event:
    value = orjson.dumps({"name": "server_down", "payload": payload})
    return from_message(value, topic=topic, partition=0, offset=7, key=None)


def test_the_documented_server_down_rule_answers_any_producers_message(tmp_path: Path) -> None:
    ruleset = load_rules([documented_rules(tmp_path)])
    assert ruleset.bus is not None
    assert ruleset.bus.consume is not None
    assert ruleset.bus.consume.topics == ("monitoring.events",)
    trigger = ruleset.rule("failover-db").trigger
    condition = compile(trigger.condition)

    def answers(event: Event) -> bool:
        return trigger_matches(trigger, event) and condition.matches(event.as_activation())

    down = read({"host": "db-1"})
    assert dict(down.payload) == {"host": "db-1"}
    assert answers(down)
    assert not answers(read({"host": "web-1"}))  # the condition
    assert not answers(read({"host": "db-1"}, topic="other.events"))  # params.topics
