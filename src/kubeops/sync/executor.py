"""The sync executor: carries out one :class:`~kubeops.sync.operation.Operation` on one cluster.

Every write is guarded so a stale view can never do harm: a create that finds
the name taken reads the object and decides again (it may be foreign); a
replace carries the actual's resourceVersion and a delete its uid and
resourceVersion, and a conflict on either reads and decides again.  Updates
are server-side applies with ``force`` under :data:`~kubeops.sync.ownership.FIELD_MANAGER`.
A namespace the target lacks is created (labelled, never pruned).

Connection failures and an open circuit breaker become
:class:`~kubeops.sync.target.TargetDown`, which pauses the target's queue
instead of failing the object; every other error names the object, the
operation and the cause.

When tracing, each write is a ``sync.apply`` span holding its API requests.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from kubeops import telemetry
from kubeops.api import Client, Object
from kubeops.errors import (
    AlreadyExists,
    ApiError,
    Conflict,
    ConnectionFailed,
    KubeopsError,
    NotFound,
    ServiceUnavailable,
)
from kubeops.sync.operation import Action, Operation
from kubeops.sync.ownership import (
    FIELD_MANAGER,
    HASH_ANNOTATION,
    POLICY_LABEL,
    SOURCE_ANNOTATION,
    ObjectKey,
)
from kubeops.sync.store import kind_name, store_transform
from kubeops.sync.target import TargetDown

__all__ = ["CREATED_BY_LABEL", "ClusterSink", "Redecide", "SyncWriteError"]

CREATED_BY_LABEL = "sync.kubeops.io/created-by"
"""On a namespace the sync created on a target (``kubeops-sync``); such namespaces are never pruned."""

Redecide = Callable[[dict[str, Any] | None], Operation]
"""Decides again from the target's current object (None: it has none), after a conflict."""


class SyncWriteError(KubeopsError):
    """A write the target refused for a reason retrying the same decision cannot fix."""


class ClusterSink:
    """Writes operations to one cluster through its own client (rate limit, circuit breaker)."""

    def __init__(
        self,
        client: Client,
        cluster: str,
        *,
        on_written: Callable[[ObjectKey, Object], None] | None = None,
    ) -> None:
        self.client = client
        self.cluster = cluster
        self.on_written = on_written
        """Called with every object a write returned (a store tells its echoes from changes)."""

    async def execute(
        self, op: Operation, redecide: Redecide | None = None
    ) -> tuple[Operation, Object | None]:
        """Carry out ``op``; returns the operation done (decided again after a conflict) and
        the object the server returned (None for delete, none, or a vanished object)."""
        if op.action is Action.NONE or not telemetry.tracing_enabled():
            return await self._execute_or_down(op, redecide)
        with telemetry.span("sync.apply", self._span_attributes(op)) as span:
            done, written = await self._execute_or_down(op, redecide)
            span.set_attribute("kubeops.sync.done", done.action.value)
            return done, written

    async def _execute_or_down(
        self, op: Operation, redecide: Redecide | None
    ) -> tuple[Operation, Object | None]:
        try:
            return await self._execute(op, redecide)
        except (ConnectionFailed, ServiceUnavailable) as err:
            raise TargetDown(f"target {self.cluster}: {err}") from err

    def _span_attributes(self, op: Operation) -> telemetry.Attributes:
        key = op.key
        attributes: telemetry.Attributes = {
            "kubeops.cluster": self.cluster,
            "kubeops.sync.policy": op.policy,
            "kubeops.sync.action": op.action.value,
            "kubeops.sync.reason": op.reason,
            "kubeops.kind": key.kind,
            "kubeops.name": key.name,
        }
        if key.namespace:
            attributes["k8s.namespace.name"] = key.namespace
        return attributes

    async def _execute(
        self, op: Operation, redecide: Redecide | None
    ) -> tuple[Operation, Object | None]:
        action = op.action
        if action is Action.NONE:
            return op, None
        try:
            if action is Action.CREATE:
                return op, await self._with_namespace(op, self._create)
            if action is Action.APPLY:
                return op, await self._with_namespace(op, self._apply)
            if action is Action.REPLACE:
                return op, await self._replace(op)
            if action is Action.DELETE:
                await self._delete(op)
                return op, None
            if action is Action.ORPHAN:
                return op, await self._orphan(op)
        except (AlreadyExists, Conflict) as err:
            if redecide is None:
                raise SyncWriteError(
                    f"{self.cluster}: {action} {op.key}: the object changed again meanwhile: {err}"
                ) from err
            return await self._execute(redecide(await self.read(op.key)), None)
        except NotFound:
            if action in (Action.DELETE, Action.ORPHAN):
                return op, None  # gone already: what was wanted
            if redecide is None:
                raise
            return await self._execute(redecide(await self.read(op.key)), None)
        raise SyncWriteError(f"{self.cluster}: {op.key}: unknown action {action!r}")

    async def read(self, key: ObjectKey) -> dict[str, Any] | None:
        """The cluster's current object of ``key`` (as the state store would hold it), or None."""
        try:
            found = await self.client.get(
                kind_name(key.group, key.kind), key.name, key.namespace or None
            )
        except NotFound:
            return None
        return store_transform(found)

    def _wrote(self, key: ObjectKey, obj: Object) -> Object:
        if self.on_written is not None and obj.get("metadata"):
            self.on_written(key, obj)
        return obj

    async def _create(self, op: Operation) -> Object:
        return self._wrote(op.key, await self.client.create(_body(op), field_manager=FIELD_MANAGER))

    async def _apply(self, op: Operation) -> Object:
        body = _body(op)
        applied = self._wrote(
            op.key, await self.client.apply(body, field_manager=FIELD_MANAGER, force=True)
        )
        entries = (applied.get("metadata") or {}).get("managedFields") or []
        if not _stale_fields(entries):
            return applied
        # The fields our create (POST) or replace (PUT) set are held by an Update entry
        # of our manager, so this apply, which left some out, did not remove them: fold
        # that entry into our Apply entry, then apply again so what the source dropped goes.
        # (Until a field is dropped, the entry costs nothing and is left alone.)
        folded = await self.client.patch(
            kind_name(op.key.group, op.key.kind),
            op.key.name,
            {
                "metadata": {
                    "managedFields": _folded(entries),
                    "resourceVersion": applied["metadata"].get("resourceVersion"),
                }
            },
            op.key.namespace or None,
            patch_type="merge",
        )
        self._wrote(op.key, folded)
        return self._wrote(
            op.key, await self.client.apply(body, field_manager=FIELD_MANAGER, force=True)
        )

    async def _replace(self, op: Operation) -> Object:
        body = _body(op)
        actual = op.actual or {}
        meta = dict(body.get("metadata") or {})
        meta["resourceVersion"] = (actual.get("metadata") or {}).get("resourceVersion")
        replaced = await self.client.replace(
            {**body, "metadata": meta}, field_manager=FIELD_MANAGER
        )
        return self._wrote(op.key, replaced)

    async def _delete(self, op: Operation) -> None:
        meta = (op.actual or {}).get("metadata") or {}
        preconditions = {
            k: str(meta[k]) for k in ("uid", "resourceVersion") if meta.get(k) is not None
        }
        await self.client.delete(
            kind_name(op.key.group, op.key.kind),
            op.key.name,
            op.key.namespace or None,
            propagation_policy="Background",
            preconditions=preconditions or None,
        )

    async def _orphan(self, op: Operation) -> Object:
        meta = (op.actual or {}).get("metadata") or {}
        patch: dict[str, Any] = {
            "metadata": {
                "labels": {POLICY_LABEL: None},
                "annotations": {SOURCE_ANNOTATION: None, HASH_ANNOTATION: None},
            }
        }
        if meta.get("uid"):
            patch["metadata"]["uid"] = meta["uid"]  # immutable: a recreated object refuses it
        orphaned = await self.client.patch(
            kind_name(op.key.group, op.key.kind),
            op.key.name,
            patch,
            op.key.namespace or None,
            patch_type="merge",
            field_manager=FIELD_MANAGER,
        )
        return self._wrote(op.key, orphaned)

    async def _with_namespace(self, op: Operation, write: Callable[[Operation], Any]) -> Object:
        """Write; when the target lacks the object's namespace, create it and write again."""
        try:
            result: Object = await write(op)
            return result
        except NotFound as err:
            if not op.key.namespace or not _missing_namespace(err):
                raise
        await self.ensure_namespace(op.key.namespace)
        again: Object = await write(op)
        return again

    async def ensure_namespace(self, name: str) -> None:
        """Create namespace ``name`` on the target (labelled as the sync's) unless it exists."""
        namespace = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "labels": {CREATED_BY_LABEL: FIELD_MANAGER}},
        }
        with contextlib.suppress(AlreadyExists):
            await self.client.create(namespace, field_manager=FIELD_MANAGER)


def _body(op: Operation) -> dict[str, Any]:
    if op.desired is None:
        raise SyncWriteError(f"{op.target}: {op.action} {op.key}: the operation has no object")
    return op.desired


def _is_update_entry(entry: dict[str, Any]) -> bool:
    return (
        entry.get("manager") == FIELD_MANAGER
        and entry.get("operation") == "Update"
        and not entry.get("subresource")
    )


def _stale_fields(entries: list[dict[str, Any]]) -> bool:
    """Whether our Update entry holds a field our Apply entry does not (one the source dropped)."""
    applied: dict[str, Any] = {}
    for entry in entries:
        if entry.get("manager") == FIELD_MANAGER and entry.get("operation") == "Apply":
            applied = entry.get("fieldsV1") or {}
    return any(
        not _within(e.get("fieldsV1") or {}, applied) for e in entries if _is_update_entry(e)
    )


def _within(fields: dict[str, Any], other: dict[str, Any]) -> bool:
    """Whether every path of the ``fieldsV1`` trie ``fields`` is in ``other``."""
    for key, value in fields.items():
        if key == ".":
            continue
        if key not in other:
            return False
        if isinstance(value, dict) and value and not _within(value, other[key] or {}):
            return False
    return True


def _folded(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``managedFields`` with our Update entries merged into our Apply entry."""
    ours = [e for e in entries if e.get("manager") == FIELD_MANAGER and not e.get("subresource")]
    kept = [e for e in entries if e not in ours]
    applied = next((e for e in ours if e.get("operation") == "Apply"), None)
    merged = dict(applied or {**ours[0], "operation": "Apply"})
    fields: dict[str, Any] = {}
    for entry in ours:
        if entry.get("apiVersion") == merged.get("apiVersion"):
            fields = _merge(fields, entry.get("fieldsV1") or {})
    merged["fieldsV1"] = fields
    return [*kept, merged]


def _merge(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    """The union of two ``fieldsV1`` tries."""
    out = dict(left)
    for key, value in right.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out.setdefault(key, value)
    return out


def _missing_namespace(err: ApiError) -> bool:
    return err.details.get("kind") == "namespaces"
