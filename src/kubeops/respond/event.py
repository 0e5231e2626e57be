"""The one event type every source produces and every rule matches.

An event says what happened (``name``), who saw it (``source``), when, with what
data (``payload``), and, where the event is about a Kubernetes object, that object
as the API server sent it and its previous state.  ``identity`` is what makes
automation safe across restarts and leader changes: it is derived from the
cluster's own facts (an object's uid and resourceVersion, an Event's uid and
count, a Node's NotReady transition time, an alert's fingerprint and start), so
the same occurrence seen again -- after a watch reconnect, by a new leader, on a
replay -- has the same identity, and an action already taken for it is not taken
again.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Object = Mapping[str, Any]

# The sources that feed events; a trigger names one of them.
RESOURCE = "resource"
"""A watched object was added, modified or deleted (name: ``added``/``modified``/``deleted``)."""
KUBERNETES_EVENT = "event"
"""A Kubernetes Event (name: its ``reason``; object: the Event; payload: involved object)."""
DERIVED = "derived"
"""A state computed from objects (name: ``CrashLoop``, ``OOMKilled``, ``NodeNotReady``...)."""
USAGE = "usage"
"""Resource usage from the metrics API over a window (name: ``UsageHigh``)."""
HTTP = "http"
"""A plain JSON event posted to the receiver (name: the posted ``name``)."""
ALERT = "alert"
"""An Alertmanager webhook alert (name: its ``alertname`` label)."""
SCHEDULE = "schedule"
"""A cron schedule fired (name: the rule's name)."""
KAFKA = "kafka"
"""A message from a Kafka topic that is not a kubeops event (name: the CloudEvent's
``type`` or the JSON's ``name``; payload: its data).  kubeops' own events published to
the bus come back with their original source and name."""
SOURCES = (RESOURCE, KUBERNETES_EVENT, DERIVED, USAGE, HTTP, ALERT, SCHEDULE, KAFKA)


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """Which object an event or an action is about, for limits, audit and messages."""

    kind: str
    name: str
    namespace: str = ""
    uid: str = ""
    api_version: str = ""

    @classmethod
    def of(cls, obj: Object) -> ObjectRef:
        """The reference to ``obj`` (a dict as the API server sends it)."""
        meta = obj.get("metadata") or {}
        return cls(
            kind=str(obj.get("kind") or ""),
            name=str(meta.get("name") or ""),
            namespace=str(meta.get("namespace") or ""),
            uid=str(meta.get("uid") or ""),
            api_version=str(obj.get("apiVersion") or ""),
        )

    def __str__(self) -> str:
        kind = self.kind.lower() or "object"
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{kind}/{where}{self.name}"


@dataclass(frozen=True, slots=True)
class Event:
    """Something happened; rules decide whether to act on it."""

    name: str
    source: str
    time: datetime.datetime
    payload: Mapping[str, Any] = field(default_factory=dict)
    object: Object | None = None
    old_object: Object | None = None
    identity: str = ""
    """The same for the same occurrence however often it is seen; see the module doc."""
    origin: Mapping[str, Any] = field(default_factory=dict)
    """Where a bus event was read (``topic``, ``partition``, ``offset``, ``key``); empty for
    events a source saw itself.  Not part of the identity: a redelivery is the same event."""

    @property
    def subject(self) -> ObjectRef | None:
        """The object the event is about, if any."""
        return ObjectRef.of(self.object) if self.object is not None else None

    def as_activation(self) -> dict[str, Any]:
        """The variables a CEL condition sees: ``event``, ``object``, ``oldObject``, ``payload``."""
        return {
            "event": {
                "name": self.name,
                "source": self.source,
                "time": self.time.isoformat(),
                "identity": self.identity,
            },
            "object": dict(self.object) if self.object is not None else None,
            "oldObject": dict(self.old_object) if self.old_object is not None else None,
            "payload": dict(self.payload),
        }


OWN_RECORD_LABELS = (
    "respond.kubeops.io/ledger",
    "respond.kubeops.io/watermark",
    "respond.kubeops.io/limits",
    "respond.kubeops.io/replica-of",
)
"""The labels of the daemon's own bookkeeping (ledger entries, watermarks, shared limits,
replica heartbeats).  An event about one of these objects matches no rule: a rule on
the ConfigMaps of the ledger's namespace must not answer each action's own claim with
another action, forever."""


def is_own_record(obj: Object | None) -> bool:
    """Whether ``obj`` is one of the daemon's own bookkeeping objects (see above)."""
    if obj is None:
        return False
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return any(label in labels for label in OWN_RECORD_LABELS)


def now() -> datetime.datetime:
    """The current time in UTC, as events carry it."""
    return datetime.datetime.now(datetime.UTC)


def identity_of(*parts: object) -> str:
    """A short stable identity from the facts that define an occurrence."""
    text = "\x1f".join(str(p) for p in parts)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]
