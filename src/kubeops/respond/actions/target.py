"""Which object an action acts on: the event's, its top controller, or one named.

``target`` absent (or ``object``): the event's object as the server holds it now
-- for a Kubernetes Event, the object the Event is about.  ``target: owner``:
the event's object's controller, followed up its ``ownerReferences`` to the top
(Pod -> ReplicaSet -> Deployment, Pod -> Job -> CronJob).  A mapping names one:
``{kind, name, namespace?, apiVersion?}`` (values may be ``${...}``).

The resolved target keeps the uid the rule saw when it was the event's own
object, so a delete made twice (a new leader re-running an action) cannot hit a
new object that took the old one's name.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubeops.api import Client, Object, ResourceType
from kubeops.errors import NotFound
from kubeops.respond.action import ActionSpecError
from kubeops.respond.actions.values import Params
from kubeops.respond.event import Event, ObjectRef

__all__ = [
    "MAX_OWNER_DEPTH",
    "Resolved",
    "TargetSpec",
    "controller_ref",
    "involved_object",
    "top_controller",
]

MAX_OWNER_DEPTH = 8
OBJECT, OWNER, NAMED = "object", "owner", "named"


@dataclass(frozen=True)
class TargetSpec:
    """A rule's ``target`` setting, checked."""

    mode: str = OBJECT
    kind: str = ""
    name: str = ""
    namespace: str = ""
    api_version: str = ""

    @classmethod
    def read(cls, params: Params, key: str = "target") -> TargetSpec:
        """``target`` from an action's settings (absent: the event's object)."""
        value = params.raw(key)
        if value is None or value == OBJECT:
            return cls()
        if value == OWNER:
            return cls(OWNER)
        if isinstance(value, str):
            raise params.fail(
                key, f"must be 'object', 'owner' or {{kind, name, namespace}}, not {value!r}"
            )
        inner = Params(value, params.field(key))
        spec = cls(
            NAMED,
            kind=inner.string("kind", required=True),
            name=inner.string("name", required=True),
            namespace=inner.string("namespace"),
            api_version=inner.string("apiVersion"),
        )
        inner.done()
        return spec


@dataclass(frozen=True)
class Resolved:
    """The target found: its resource type, the object as read now, and its reference."""

    resource: ResourceType
    object: Object = field(repr=False)
    ref: ObjectRef
    uid: str
    """The uid to require when changing it (the event's own object's, else the one read)."""

    @property
    def name(self) -> str:
        """The object's name."""
        return self.ref.name

    @property
    def namespace(self) -> str | None:
        """The object's namespace (None for cluster-scoped kinds)."""
        return self.ref.namespace or None


def involved_object(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The object a Kubernetes Event is about (either API generation), else None."""
    if obj.get("kind") != "Event":
        return None
    ref = obj.get("involvedObject") or obj.get("regarding")
    return ref if isinstance(ref, Mapping) and ref.get("name") else None


def event_reference(event: Event) -> Mapping[str, Any] | None:
    """What the event is about: its object's reference, or a Kubernetes Event's involved one."""
    if event.object is None:
        return None
    involved = involved_object(event.object)
    if involved is not None:
        return involved
    meta = event.object.get("metadata") or {}
    return {
        "apiVersion": event.object.get("apiVersion"),
        "kind": event.object.get("kind"),
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "uid": meta.get("uid"),
    }


def controller_ref(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The ownerReference marked ``controller: true``, if any."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if isinstance(ref, Mapping) and ref.get("controller") and ref.get("name"):
            return ref
    return None


Fetch = Callable[[Mapping[str, Any], str], Awaitable[Object | None]]


async def top_controller(obj: Object, fetch: Fetch) -> Object:
    """The top of ``obj``'s controller chain (``obj`` itself when nothing controls it).

    ``fetch(owner_reference, namespace)`` reads an owner, None when it is gone (the
    chain ends at the last object that exists).  A cycle or a chain deeper than
    :data:`MAX_OWNER_DEPTH` stops where it is.
    """
    seen = {str((obj.get("metadata") or {}).get("uid") or "")}
    current = obj
    for _ in range(MAX_OWNER_DEPTH):
        ref = controller_ref(current)
        if ref is None:
            break
        namespace = str((current.get("metadata") or {}).get("namespace") or "")
        owner = await fetch(ref, namespace)
        if owner is None:
            break
        uid = str((owner.get("metadata") or {}).get("uid") or "")
        if uid and uid in seen:
            break
        if ref.get("uid") and uid and ref["uid"] != uid:
            break  # an owner of the same name, not the one referenced
        seen.add(uid)
        current = owner
    return current


async def _resource_of(client: Client, api_version: str, kind: str) -> ResourceType:
    return await client.resource(f"{api_version}/{kind}" if api_version else kind)


async def _read(
    client: Client, ref: Mapping[str, Any], namespace: str
) -> tuple[ResourceType, Object]:
    resource = await _resource_of(client, str(ref.get("apiVersion") or ""), str(ref["kind"]))
    obj = await client.get(resource, str(ref["name"]), namespace or None)
    obj.setdefault("apiVersion", resource.api_version)
    obj.setdefault("kind", resource.kind)
    return resource, obj


async def resolve(client: Client, spec: TargetSpec, event: Event, action: str) -> Resolved:
    """Find ``spec``'s object for ``event`` and read it; see the module doc."""
    if spec.mode == NAMED:
        ref: Mapping[str, Any] = {
            "apiVersion": spec.api_version,
            "kind": spec.kind,
            "name": spec.name,
        }
        namespace = spec.namespace
        if not namespace and event.subject is not None:
            namespace = event.subject.namespace
        resource, obj = await _read(client, ref, namespace or client.namespace)
        return _resolved(resource, obj, "")
    found = event_reference(event)
    if found is None:
        raise ActionSpecError(
            f"the event {event.name!r} ({event.source}) is about no object; "
            "name one with target: {kind, name, namespace}"
        )
    namespace = str(found.get("namespace") or "")
    resource, obj = await _read(client, found, namespace)
    if spec.mode == OBJECT:
        return _resolved(resource, obj, str(found.get("uid") or ""))

    async def fetch(owner: Mapping[str, Any], ns: str) -> Object | None:
        try:
            return (await _read(client, owner, ns))[1]
        except NotFound:
            return None

    top = await top_controller(obj, fetch)
    return _resolved(await _resource_of(client, top["apiVersion"], top["kind"]), top, "")


def _resolved(resource: ResourceType, obj: Object, uid: str) -> Resolved:
    ref = ObjectRef.of(obj)
    return Resolved(resource, obj, ref, uid or ref.uid)
