"""The event sources of ``kubeops respond`` and the registry the rules loader reads.

Each source is built from the triggers that name it, so it watches only what
some rule needs.  :data:`SOURCES` maps a source name to its :class:`SourceType`:
the class the daemon runs (None for ``http`` and ``alert``, whose events arrive
through the daemon's receiver, and for ``kafka``, whose consumer the daemon builds
from the ``bus:`` settings), ``validate(trigger)`` returning problems as
phrases naming the field, and ``matches(trigger, event)``, the source's own test
of whether an event answers a trigger (names, kind, scope and the params that
shape its events); the trigger's CEL condition is the engine's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from kubeops.respond import event as _event
from kubeops.respond.event import Event
from kubeops.respond.model import Trigger
from kubeops.respond.sources import derived, events, kafka, posted, resources, schedule, usage

__all__ = ["SOURCES", "SourceType", "matches", "validate"]


class SourceType(NamedTuple):
    """One source: what runs it, and its pure trigger checks."""

    cls: type[Any] | None
    """Built as ``cls(client, triggers, since=..., factory=..., **settings)``; None: the receiver's."""
    validate: Callable[[Trigger], list[str]]
    matches: Callable[[Trigger, Event], bool]


SOURCES: dict[str, SourceType] = {
    _event.RESOURCE: SourceType(resources.ResourceSource, resources.validate, resources.matches),
    _event.KUBERNETES_EVENT: SourceType(
        events.KubernetesEventSource, events.validate, events.matches
    ),
    _event.DERIVED: SourceType(derived.DerivedSource, derived.validate, derived.matches),
    _event.USAGE: SourceType(usage.UsageSource, usage.validate, usage.matches),
    _event.SCHEDULE: SourceType(schedule.ScheduleSource, schedule.validate, schedule.matches),
    _event.HTTP: SourceType(None, posted.validate_http, posted.matches_http),
    _event.ALERT: SourceType(None, posted.validate_alert, posted.matches_alert),
    _event.KAFKA: SourceType(None, kafka.validate, kafka.matches),
}


def validate(trigger: Trigger) -> list[str]:
    """Problems with ``trigger`` (an unknown source is one), each a phrase naming the field."""
    source = SOURCES.get(trigger.source)
    if source is None:
        known = ", ".join(sorted(SOURCES))
        return [f"source: unknown source {trigger.source!r} (one of {known})"]
    return source.validate(trigger)


def matches(trigger: Trigger, event: Event) -> bool:
    """Whether ``event`` answers ``trigger`` (its CEL condition aside)."""
    source = SOURCES.get(trigger.source)
    return source is not None and event.source == trigger.source and source.matches(trigger, event)
