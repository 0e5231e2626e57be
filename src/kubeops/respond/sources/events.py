"""Kubernetes Events: an Event recorded or repeated whose reason, type and involved
object a trigger names.

Core ``v1`` Events are watched, which include those written through
``events.k8s.io/v1`` (one storage, two views).  The server narrows each watch with
a field selector built from the trigger (reason, type, involved kind and name), so
a storm of other Events costs nothing here.  An Event's identity is its uid and
its count (``series.count`` for the newer API): a repeat of an Event -- same
object, count raised -- is a new occurrence; the same count seen again after a
reconnect is not.  On start only Events that happened at or after ``since``
fire.  The emitted event's ``object`` is the Event, its ``payload`` holds reason,
type, message, count and the involved object.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubeops.ops.events import event_time
from kubeops.respond.event import KUBERNETES_EVENT, Event, Object, identity_of, now
from kubeops.respond.model import Trigger
from kubeops.respond.sources._params import check_scope, watched_namespaces
from kubeops.respond.sources._watch import Watch, WatchingSource

__all__ = ["PARAMS", "TYPES", "KubernetesEventSource", "count_of", "matches", "validate"]

TYPES = ("Normal", "Warning")
PARAMS = ("type", "involvedKind", "involvedName")


def validate(trigger: Trigger) -> list[str]:
    """Problems with an event trigger, each a phrase naming the field."""
    problems = check_scope(trigger)
    params = trigger.params
    for key in sorted(set(params) - set(PARAMS)):
        problems.append(f"params.{key}: unknown for an event trigger (one of {', '.join(PARAMS)})")
    kind = params.get("type")
    if kind is not None and kind not in TYPES:
        problems.append(f"params.type: must be Normal or Warning, not {kind!r}")
    for key in ("involvedKind", "involvedName"):
        value = params.get(key)
        if value is not None and (not isinstance(value, str) or not value):
            problems.append(f"params.{key}: must be a non-empty string, not {value!r}")
    for name in trigger.names:
        if not isinstance(name, str) or not name or "," in name:
            problems.append(f"names: {name!r} is not an Event reason")
    if trigger.selector:
        problems.append(
            "selector: Events carry no labels; narrow with params.involvedKind/involvedName"
        )
    if trigger.kind:
        problems.append(
            "kind: an event trigger names the involved object's kind in params.involvedKind"
        )
    return problems


def count_of(obj: Object) -> int:
    """How many times the Event has happened: ``series.count``, ``count``, else 1."""
    series = obj.get("series") or {}
    for value in (series.get("count"), obj.get("count"), obj.get("deprecatedCount")):
        if isinstance(value, int) and value > 0:
            return value
    return 1


def involved(obj: Object) -> Mapping[str, Any]:
    """The object the Event is about (``involvedObject``, or ``regarding`` in events.k8s.io)."""
    found = obj.get("involvedObject") or obj.get("regarding") or {}
    return found if isinstance(found, Mapping) else {}


def matches(trigger: Trigger, event: Event) -> bool:
    """Whether ``event`` is an Event ``trigger`` asks for (its CEL condition is the engine's)."""
    if event.source != KUBERNETES_EVENT or event.object is None:
        return False
    if trigger.names and event.name not in trigger.names:
        return False
    obj = event.object
    params = trigger.params
    if params.get("type") and obj.get("type") != params["type"]:
        return False
    about = involved(obj)
    if params.get("involvedKind") and about.get("kind") != params["involvedKind"]:
        return False
    if params.get("involvedName") and about.get("name") != params["involvedName"]:
        return False
    namespace = (obj.get("metadata") or {}).get("namespace") or about.get("namespace")
    return not trigger.namespaces or namespace in trigger.namespaces


def field_selector(trigger: Trigger) -> str:
    """What the server can filter for ``trigger`` (a single reason, type, involved kind/name)."""
    fields = []
    if len(trigger.names) == 1:
        fields.append(f"reason={trigger.names[0]}")
    params = trigger.params
    if params.get("type"):
        fields.append(f"type={params['type']}")
    if params.get("involvedKind"):
        fields.append(f"involvedObject.kind={params['involvedKind']}")
    if params.get("involvedName"):
        fields.append(f"involvedObject.name={params['involvedName']}")
    return ",".join(fields)


class KubernetesEventSource(WatchingSource):
    """Kubernetes Events the event triggers name."""

    name = KUBERNETES_EVENT

    async def watch(self) -> None:
        """Watch Events, a field selector per group of triggers; the matching ones fire."""
        groups: dict[str, list[Trigger]] = {}
        for trigger in self.triggers:
            groups.setdefault(field_selector(trigger), []).append(trigger)
        for selector, group in groups.items():
            await self.feed.watch(
                "v1/Event",
                watched_namespaces(group),
                field_selector=selector,
                on_add=self._added,
                on_update=self._updated,
            )

    def _added(self, watch: Watch, obj: Any, _initial: bool) -> None:
        if not watch.listed:
            happened = event_time(obj)
            if happened is None or happened < self.feed.since.replace(microsecond=0):
                return
        self._fire(obj)

    def _updated(self, _watch: Watch, old: Any, new: Any) -> None:
        if count_of(new) != count_of(old):
            self._fire(new)

    def _fire(self, obj: Object) -> None:
        event = to_event(obj)
        if any(matches(t, event) for t in self.triggers):
            self.feed.put(event)


def to_event(obj: Object) -> Event:
    """The respond event for a Kubernetes Event object."""
    count = count_of(obj)
    return Event(
        str(obj.get("reason") or ""),
        KUBERNETES_EVENT,
        event_time(dict(obj)) or now(),
        payload={
            "reason": obj.get("reason") or "",
            "type": obj.get("type") or "",
            "message": obj.get("message") or obj.get("note") or "",
            "count": count,
            "involvedObject": dict(involved(obj)),
        },
        object=obj,
        identity=identity_of((obj.get("metadata") or {}).get("uid", ""), count),
    )
