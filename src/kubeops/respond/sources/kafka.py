"""Triggers on messages read from Kafka (``source: kafka``): their validation and matching.

The events come from :class:`kubeops.bus.consumer.KafkaSource`: any producer's
message, named by its CloudEvent ``type`` or its JSON ``name``, payload as sent,
and ``origin`` saying which topic it was read from.  ``params.topics`` narrows a
trigger to messages read from those topics (default: every topic the bus consumes);
payload fields are matched with the trigger's CEL condition.
"""

from __future__ import annotations

import re

from kubeops.respond.event import KAFKA, Event
from kubeops.respond.model import Trigger
from kubeops.respond.rules import did_you_mean
from kubeops.respond.sources.posted import _names, _objectless

__all__ = ["PARAMS", "matches", "topic_problem", "validate"]

PARAMS = ("topics",)

_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")


def topic_problem(name: object) -> str:
    """Why ``name`` cannot be a Kafka topic (Kafka's own rule), or ``""`` when it can."""
    if not isinstance(name, str) or not name:
        return "is not a topic name"
    if name in (".", ".."):
        return "cannot be '.' or '..'"
    if not _TOPIC.fullmatch(name):
        if len(name) > 249:
            return "is longer than 249 characters"
        return "may hold only letters, digits, '.', '_' and '-'"
    return ""


def validate(trigger: Trigger) -> list[str]:
    """Problems with a kafka trigger, each a phrase naming the field."""
    params = trigger.params
    problems = _names(trigger) + _objectless(trigger, "a kafka")
    problems += [
        f"params.{key}: unknown for a kafka trigger{did_you_mean(str(key), PARAMS)}; "
        f"known: {', '.join(PARAMS)}"
        for key in sorted(set(params) - set(PARAMS), key=str)
    ]
    topics = params.get("topics")
    if topics is not None:
        if isinstance(topics, str) or not isinstance(topics, list | tuple) or not topics:
            problems.append("params.topics: must be a non-empty list of topic names")
        else:
            for topic in topics:
                cause = topic_problem(topic)
                if cause:
                    problems.append(f"params.topics: {topic!r} {cause}")
    return problems


def matches(trigger: Trigger, event: Event) -> bool:
    """Whether a message answers ``trigger``: by name (any if none given) and topic."""
    if event.source != KAFKA or (trigger.names and event.name not in trigger.names):
        return False
    topics = trigger.params.get("topics")
    return not topics or event.origin.get("topic") in topics
