"""The state store: every object the sync reads, held by shared informers, per cluster.

A source cluster's store holds what the policies select (one informer per kind
and label selector); a target's store holds only what the sync owns there
(objects with :data:`~kubeops.sync.ownership.POLICY_LABEL`), so its size is the
sync's, not the cluster's.  Managed fields and status are dropped on the way
in: neither is ever desired, and together they are most of an object's bytes.

A store is only read once every informer has a complete first list
(:meth:`ClusterStore.synced`); a list that failed is retried by the reflector
and never replaces what the store holds, so an outage is never read as
"everything was deleted" -- and the engine confirms every absence with a GET
before it deletes anything on a target.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from kubeops.api import Client, Object
from kubeops.cache import DeletedFinalStateUnknown, ReflectorBackoff, SharedInformer
from kubeops.sync.ownership import POLICY_LABEL, ObjectKey

__all__ = ["WATCH_BACKOFF", "ClusterStore", "kind_name", "object_key", "store_transform"]

WATCH_BACKOFF = ReflectorBackoff(initial=0.2, cap=2.0)
"""The sync's informers retry a lost cluster within about 4 s.  client-go's 30 s cap sheds
load from thousands of clients; a sync holds a few informers per member, and a member
that returns must be caught up in seconds (the engine's catch-up reads these stores)."""


def store_transform(obj: Object) -> Object:
    """Drop ``metadata.managedFields`` and ``status`` (never desired, often most of the object)."""
    meta = obj.get("metadata")
    if "status" not in obj and not (isinstance(meta, dict) and "managedFields" in meta):
        return obj
    out = {k: v for k, v in obj.items() if k != "status"}
    if isinstance(meta, dict) and "managedFields" in meta:
        out["metadata"] = {k: v for k, v in meta.items() if k != "managedFields"}
    return out


def kind_name(group: str, kind: str) -> str:
    """The name the client resolves a kind by: ``Deployment.apps``, ``ConfigMap``."""
    return f"{kind}.{group}" if group else kind


def object_key(obj: Object | DeletedFinalStateUnknown, group: str, kind: str) -> ObjectKey | None:
    """The key of an informer's object (or tombstone) of ``group``/``kind``."""
    if isinstance(obj, DeletedFinalStateUnknown):
        namespace, _, name = obj.key.rpartition("/")
        return ObjectKey(group, kind, namespace, name)
    meta = obj.get("metadata") or {}
    found = meta.get("name")
    if not found:
        return None
    return ObjectKey(group, kind, meta.get("namespace") or "", str(found))


def _store_key(key: ObjectKey) -> str:
    return f"{key.namespace}/{key.name}" if key.namespace else key.name


class ClusterStore:
    """The informers the sync runs on one cluster, shared by every policy that needs them."""

    def __init__(self, client: Client, cluster: str, *, owned_only: bool = False) -> None:
        self.client = client
        self.cluster = cluster
        self.owned_only = owned_only
        """Target stores: watch only objects carrying the sync's policy label."""
        self._informers: dict[tuple[str, str, str | None], SharedInformer] = {}

    async def informer(
        self, group: str, kind: str, label_selector: str | None = None
    ) -> tuple[SharedInformer, bool]:
        """The started informer of ``group``/``kind`` (and selector); True when it is new."""
        if self.owned_only:
            label_selector = POLICY_LABEL
        index = (group, kind, label_selector or None)
        found = self._informers.get(index)
        if found is not None:
            return found, False
        resource = await self.client.resource(kind_name(group, kind))
        informer = SharedInformer(
            self.client,
            resource,
            label_selector=label_selector or None,
            transform=store_transform,
            store="dict",
        )
        informer.reflector.backoff = dataclasses.replace(WATCH_BACKOFF)
        self._informers[index] = informer
        informer.start()
        return informer, True

    def informers(self, group: str, kind: str) -> list[SharedInformer]:
        """Every informer of ``group``/``kind`` on this cluster."""
        return [i for (g, k, _), i in self._informers.items() if g == group and k == kind]

    def get(self, key: ObjectKey, label_selector: str | None = None) -> dict[str, Any] | None:
        """The stored object of ``key`` (from the informer with that selector), or None."""
        if self.owned_only:
            label_selector = POLICY_LABEL
        informer = self._informers.get((key.group, key.kind, label_selector or None))
        if informer is None:
            return None
        return informer.store.get_by_key(_store_key(key))

    def kind_synced(self, group: str, kind: str) -> bool:
        """Whether every informer of the kind has a complete first list."""
        found = self.informers(group, kind)
        return bool(found) and all(i.has_synced() for i in found)

    def synced(self) -> bool:
        """Whether every informer has a complete first list (a failed list never counts)."""
        return all(i.has_synced() for i in self._informers.values())

    def owned(self, policy: str) -> list[ObjectKey]:
        """Every stored object whose policy label names ``policy``."""
        found: list[ObjectKey] = []
        for (group, kind, _), informer in self._informers.items():
            for obj in informer.store.list():
                labels = (obj.get("metadata") or {}).get("labels") or {}
                if labels.get(POLICY_LABEL) == policy:
                    key = object_key(obj, group, kind)
                    if key is not None:
                        found.append(key)
        return found

    def size(self) -> int:
        """Objects held, over every informer."""
        return sum(len(i.store.list_keys()) for i in self._informers.values())

    async def stop(self) -> None:
        """Stop every informer (their stores keep their content)."""
        for informer in self._informers.values():
            await informer.stop()
