"""Events of an object, oldest first and newest last, as at the bottom of ``kubectl describe``.

Events are found the way kubectl finds them: core ``v1`` Events whose
``involvedObject`` names the object's kind, name, namespace and uid, so events of
an earlier object with the same name are left out.  Node events are the
exception: kubelets record them with the node's name as its uid and in the
``default`` namespace, so for a Node the uid is not compared and every namespace
is searched.  Events are ordered by when they last happened (``lastTimestamp``,
``series.lastObservedTime``, ``eventTime``, ``firstTimestamp``, then creation).

:func:`events_for` and :func:`list_events` take an async :class:`~kubeops.api.Client`
(await them) or a :class:`~kubeops.api.SyncClient` (they block and return the result).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from kubeops.api import Client, Object, ResourceType, either_client

__all__ = ["EVENTS", "event_source", "event_time", "events_for", "list_events", "sort_events"]

EVENTS = ResourceType("", "v1", "Event", "events", True, ("ev",), singular="event")
_EPOCH = datetime.datetime.min.replace(tzinfo=datetime.UTC)


@either_client
async def events_for(
    client: Client, kind: str | ResourceType, name: str, namespace: str | None = None
) -> list[Object]:
    """The events of one object, newest last.

    The object must exist (an unknown one raises :class:`~kubeops.errors.NotFound`):
    its uid tells its events from those of an earlier object of the same name.
    """
    resource = await client.resource(kind)
    obj = await client.get(resource, name, namespace)
    meta = obj.get("metadata", {})
    fields = [f"involvedObject.kind={resource.kind}", f"involvedObject.name={name}"]
    if resource.namespaced:
        namespace = str(meta.get("namespace") or namespace or client.namespace)
        fields.append(f"involvedObject.namespace={namespace}")
    if resource.kind != "Node" and meta.get("uid"):
        fields.append(f"involvedObject.uid={meta['uid']}")
    return await _list_events(
        client, namespace, not resource.namespaced, ",".join(fields), resource.group
    )


@either_client
async def list_events(
    client: Client,
    namespace: str | None = None,
    *,
    all_namespaces: bool = False,
    field_selector: str | None = None,
) -> list[Object]:
    """The events of a namespace (the client's by default) or of all namespaces, newest last."""
    return await _list_events(client, namespace, all_namespaces, field_selector)


async def _list_events(
    client: Client,
    namespace: str | None,
    all_namespaces: bool,
    field_selector: str | None,
    group: str | None = None,
) -> list[Object]:
    listed = await client.list(
        EVENTS, namespace, all_namespaces=all_namespaces, field_selector=field_selector
    )
    items: list[Object] = listed["items"]
    if group is not None:
        # The server cannot select on the group; a kind of the same name in another
        # group (a CRD called Pod) must not lend its events.  Reporters that leave
        # the apiVersion out (kubelets, for nodes) are taken at their word.
        items = [e for e in items if _group_of(e) in (None, group)]
    for event in items:  # list items come without their kind
        event.setdefault("apiVersion", "v1")
        event.setdefault("kind", "Event")
    return sort_events(items)


def _group_of(event: Object) -> str | None:
    api_version = str(event.get("involvedObject", {}).get("apiVersion") or "")
    if not api_version:
        return None
    return api_version.rpartition("/")[0]


def sort_events(events: Iterable[Object]) -> list[Object]:
    """``events`` oldest first, newest last (by :func:`event_time`, then creation)."""
    return sorted(
        events,
        key=lambda e: (
            event_time(e) or _EPOCH,
            _parse(e.get("metadata", {}).get("creationTimestamp")) or _EPOCH,
            e.get("metadata", {}).get("name", ""),
        ),
    )


def event_time(event: Object) -> datetime.datetime | None:
    """When the event last happened, from the first of the fields that is set."""
    for value in (
        event.get("lastTimestamp"),
        (event.get("series") or {}).get("lastObservedTime"),
        event.get("eventTime"),
        event.get("firstTimestamp"),
        event.get("metadata", {}).get("creationTimestamp"),
    ):
        moment = _parse(value)
        if moment is not None:
            return moment
    return None


def event_source(event: Object) -> str:
    """Who reported the event, as ``kubectl describe`` shows it: the component
    (``default-scheduler``, ``kubelet``), from either generation of the Event API."""
    source = event.get("source") or {}
    return str(source.get("component") or event.get("reportingComponent") or "")


def _parse(value: Any) -> datetime.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)
