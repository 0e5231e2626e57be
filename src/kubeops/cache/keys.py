"""Cache keys: how an object is named inside stores, queues and work queues.

A key is ``namespace/name``, or ``name`` for a cluster-scoped object, exactly
as client-go's ``MetaNamespaceKeyFunc`` builds it, so keys can be logged,
compared and handed to work queues as plain strings.  When a deletion was
missed (the watch was down), the object's last known state travels in a
:class:`DeletedFinalStateUnknown` tombstone that carries its key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kubeops.api import Object
from kubeops.errors import KubeopsError

__all__ = [
    "DeletedFinalStateUnknown",
    "InvalidKey",
    "KeyFunc",
    "deletion_handling_key",
    "object_key",
    "split_key",
]


class InvalidKey(KubeopsError, ValueError):
    """An object without a ``metadata.name``, or a key with more than one ``/``."""


@dataclass(frozen=True, slots=True)
class DeletedFinalStateUnknown:
    """A deletion seen only as an absence from a relist: the watch missed the DELETED event.

    ``obj`` is the last state the cache knew, which may be stale, or None when
    nothing was known; ``key`` names the object either way.
    """

    key: str
    obj: Object | None


KeyFunc = Callable[[Object | DeletedFinalStateUnknown], str]


def object_key(obj: Mapping[str, Any]) -> str:
    """``namespace/name``, or ``name`` for a cluster-scoped object.

    Raises :class:`InvalidKey` if the object has no ``metadata.name``: an object
    that has not been created yet (only a ``generateName``) cannot be cached.
    """
    metadata = obj.get("metadata")
    if type(metadata) is not dict and not isinstance(metadata, Mapping):
        metadata = {}
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        kind = obj.get("kind") or "object"
        raise InvalidKey(f"cannot key {kind}: it has no metadata.name")
    namespace = metadata.get("namespace")
    if namespace and isinstance(namespace, str):
        return f"{namespace}/{name}"
    return name


def deletion_handling_key(obj: Object | DeletedFinalStateUnknown) -> str:
    """:func:`object_key`, except that a tombstone's key is used as it is."""
    if isinstance(obj, DeletedFinalStateUnknown):
        return obj.key
    return object_key(obj)


def split_key(key: str) -> tuple[str, str]:
    """``(namespace, name)`` from a key; the namespace is ``""`` for a cluster-scoped key."""
    parts = key.split("/")
    if len(parts) == 1:
        return "", parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise InvalidKey(f"unexpected key format {key!r}: expected 'name' or 'namespace/name'")
