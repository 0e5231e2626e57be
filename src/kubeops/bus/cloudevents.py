"""kubeops events as CloudEvents 1.0 JSON (structured mode), and messages back to events.

One wire format for every consumer: a kubeops event becomes a CloudEvent whose
``id`` is the event's identity (a redelivery carries the same id), whose ``source``
names the cluster (``kubeops://<cluster>``) and whose ``data`` holds the object,
its old state and the payload; two extension attributes (``kubeopssource``,
``kubeopsname``) bring the event back exactly.  Any other producer's message -- a
CloudEvent without them, or the receiver's plain ``{"name", "payload"}`` JSON --
becomes a ``kafka`` event.  The message key keeps one object's events in one
partition, hence in order.  Pure: no I/O.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

import orjson

from kubeops.errors import KubeopsError
from kubeops.respond.event import KAFKA, Event, identity_of, now

CONTENT_TYPE = "application/cloudevents+json"
"""The ``content-type`` header of a structured-mode CloudEvent message."""
TYPE_PREFIX = "io.kubeops."
SOURCE_PREFIX = "kubeops://"


class DecodeError(KubeopsError, ValueError):
    """A message that is neither a CloudEvent nor ``{"name", "payload"}`` JSON; the
    message is the one-line cause."""


def to_cloudevent(event: Event, cluster: str) -> bytes:
    """``event`` as a CloudEvents 1.0 JSON document, published from ``cluster``."""
    data: dict[str, Any] = {"payload": dict(event.payload)}
    if event.object is not None:
        data["object"] = event.object
    if event.old_object is not None:
        data["oldObject"] = event.old_object
    envelope: dict[str, Any] = {
        "specversion": "1.0",
        "id": event.identity or _fallback_identity(event, cluster),
        "source": f"{SOURCE_PREFIX}{cluster}",
        "type": f"{TYPE_PREFIX}{event.source}.{event.name}",
        "time": _rfc3339(event.time),
        "datacontenttype": "application/json",
        "kubeopssource": event.source,
        "kubeopsname": event.name,
    }
    subject = _subject(event)
    if subject:
        envelope["subject"] = subject
    envelope["data"] = data
    return orjson.dumps(envelope, default=_json_default)


def key_of(event: Event, cluster: str) -> bytes:
    """The message key: ``cluster/namespace/kind/name`` for an object's events (one
    partition, in order), else ``cluster/source/name``."""
    ref = event.subject
    if ref is not None and ref.name:
        return f"{cluster}/{ref.namespace}/{ref.kind}/{ref.name}".encode()
    return f"{cluster}/{event.source}/{event.name}".encode()


def from_message(
    value: bytes, *, topic: str, partition: int, offset: int, key: bytes | None
) -> Event:
    """The event a message carries, with where it was read in ``origin``; raises
    :class:`DecodeError` (one line) for anything else."""
    origin = {
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "key": key.decode("utf-8", "replace") if key is not None else None,
    }
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError as err:
        raise DecodeError(f"not JSON: {err}") from None
    if not isinstance(doc, dict):
        raise DecodeError(f"not a JSON object but {type(doc).__name__}")
    if "specversion" in doc:
        return _from_cloudevent(doc, origin)
    return _from_plain(doc, origin)


def _from_cloudevent(doc: dict[str, Any], origin: dict[str, Any]) -> Event:
    for attribute in ("id", "source", "type"):
        if not isinstance(doc.get(attribute), str) or not doc[attribute]:
            raise DecodeError(f"a CloudEvent without {attribute!r} (a non-empty string)")
    time = _time(doc.get("time"))
    data = doc.get("data")
    if "kubeopssource" not in doc:
        payload = data if isinstance(data, dict) else {} if data is None else {"data": data}
        if data is None and "data_base64" in doc:
            payload = {"data_base64": doc["data_base64"]}
        return Event(
            name=doc["type"],
            source=KAFKA,
            time=time or now(),
            payload=payload,
            identity=identity_of(doc["id"], doc["source"]),
            origin=origin,
        )
    source, name = doc.get("kubeopssource"), doc.get("kubeopsname")
    if not isinstance(source, str) or not isinstance(name, str) or not source or not name:
        raise DecodeError("a kubeops CloudEvent without kubeopssource or kubeopsname")
    if not isinstance(data, dict) or not isinstance(data.get("payload", {}), dict):
        raise DecodeError("a kubeops CloudEvent whose data is not {object, oldObject, payload}")
    obj, old = data.get("object"), data.get("oldObject")
    if not isinstance(obj, dict | None) or not isinstance(old, dict | None):
        raise DecodeError("a kubeops CloudEvent whose object or oldObject is not a mapping")
    if time is None:
        raise DecodeError("a kubeops CloudEvent without its time")
    return Event(
        name=name,
        source=source,
        time=time,
        payload=data.get("payload", {}),
        object=obj,
        old_object=old,
        identity=doc["id"],
        origin=origin,
    )


def _from_plain(doc: dict[str, Any], origin: dict[str, Any]) -> Event:
    name, payload = doc.get("name"), doc.get("payload", {})
    if not isinstance(name, str) or not name:
        raise DecodeError('neither a CloudEvent nor {"name": ..., "payload": {...}} JSON (no name)')
    if not isinstance(payload, dict):
        raise DecodeError(f"payload must be a JSON object, not {type(payload).__name__}")
    return Event(
        name=name,
        source=KAFKA,
        time=now(),
        payload=payload,
        identity=identity_of(origin["topic"], origin["partition"], origin["offset"]),
        origin=origin,
    )


def _subject(event: Event) -> str:
    ref = event.subject
    if ref is None or not ref.name:
        return ""
    return f"{ref.kind}/{ref.namespace}/{ref.name}"


def _rfc3339(time: datetime.datetime) -> str:
    """RFC 3339 (a naive time is taken as UTC, as every source's is)."""
    if time.tzinfo is None:
        time = time.replace(tzinfo=datetime.UTC)
    return time.isoformat()


def _time(value: Any) -> datetime.datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise DecodeError(f"time must be an RFC 3339 string, not {type(value).__name__}")
    try:
        parsed = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise DecodeError(f"time {value[:40]!r} is not RFC 3339") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=datetime.UTC)


def _fallback_identity(event: Event, cluster: str) -> str:
    """An event without an identity (a source that has none) still gets a stable id."""
    return identity_of(
        cluster, event.source, event.name, _rfc3339(event.time), key_of(event, cluster)
    )


def _json_default(value: Any) -> Any:
    """What JSON cannot say itself: tuples and mappings as usual, the rest as text."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    return str(value)
