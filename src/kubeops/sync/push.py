"""A Push member as the controller drives it: its own client, state store and executor.

The target's store watches only what the sync owns there, so ``actual`` for a
key comes from memory, and :func:`~kubeops.sync.diff.decide` turns desired
against it into one operation that :class:`~kubeops.sync.executor.ClusterSink`
carries out.  A change made there by someone else (drift, a hand deletion)
reaches the controller through ``on_change``; the echoes of the sync's own
writes do not.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from kubeops import telemetry
from kubeops.api import Client, Object, RetryPolicy, Timeouts
from kubeops.cache import DeletedFinalStateUnknown
from kubeops.errors import KubeopsError
from kubeops.sync.diff import decide
from kubeops.sync.executor import ClusterSink
from kubeops.sync.members import probe
from kubeops.sync.model import SyncPolicy
from kubeops.sync.operation import Action, Operation
from kubeops.sync.ownership import POLICY_LABEL, ObjectKey
from kubeops.sync.store import ClusterStore, object_key, store_transform
from kubeops.sync.target import Changed, TargetDown

__all__ = ["PushTarget"]

log = logging.getLogger(__name__)

PROBE_TIMEOUT = 2.0


class PushTarget:
    """One member the hub reaches directly: store, diff and executor over one client."""

    def __init__(self, name: str, client: Client, *, owns_client: bool = True) -> None:
        self.name = name
        self.client = client
        self.store = ClusterStore(client, name, owned_only=True)
        self.sink = ClusterSink(client, name, on_written=self._wrote)
        self._owns_client = owns_client
        self._on_change: Changed | None = None
        self._written: dict[ObjectKey, set[str]] = {}
        """resourceVersions the sync's writes made, per key: their watch echoes are not changes."""
        self._inflight: dict[ObjectKey, list[tuple[str, set[str]]]] = {}
        """Changes seen while the sync writes a key, judged once the writes' answers are in."""
        self._fresh: dict[ObjectKey, tuple[str | None, Object | None]] = {}
        """Per key: the store copy's resourceVersion when the sync last wrote it, and what
        that write returned (None: deleted) -- used while the store still holds that copy."""
        self._deleted: set[str] = set()
        """uids the sync deleted: their deletion events are not a change."""
        # The probe has a client of its own: no retries, and no circuit breaker holding
        # it back for the breaker's cooldown when the member is back.
        self._prober = Client(
            client.config,
            qps=-1,
            retry=RetryPolicy(max_retries=0),
            timeouts=Timeouts(request=PROBE_TIMEOUT, connect=PROBE_TIMEOUT),
            pool_size=1,
        )
        # Never held back by its own breaker either: one probe a second is the whole load.
        self._prober.transport.breaker.failure_threshold = 2**31

    async def start(self, on_change: Changed) -> None:
        """Remember whom to tell about changes made by others; kinds are watched on demand."""
        self._on_change = on_change

    async def stop(self) -> None:
        """Stop the informers and close the clients."""
        await self.store.stop()
        await self._prober.close()
        if self._owns_client:
            await self.client.close()

    async def watch_kind(self, group: str, kind: str) -> None:
        """Watch the sync's objects of ``group``/``kind`` on this member."""
        with telemetry.detached():  # the watch outlives the reconcile that may start it
            informer, new = await self.store.informer(group, kind)
        if new:

            def added(obj: Object, initial: bool) -> None:
                if not initial:
                    self._changed(obj, group, kind, "add")

            def updated(old: Object, new: Object) -> None:
                self._changed(new, group, kind, "update", old)

            def deleted(obj: Object | DeletedFinalStateUnknown) -> None:
                self._changed(obj, group, kind, "delete")

            informer.add_handler(added, updated, deleted)

    def owned(self, policy: str) -> list[ObjectKey]:
        """Every object the store holds as ``policy``'s."""
        return self.store.owned(policy)

    def synced(self) -> bool:
        """Whether every watched kind has a complete first list."""
        return self.store.synced()

    async def reconcile(
        self, policy: SyncPolicy, key: ObjectKey, desired: dict[str, Any] | None
    ) -> Operation:
        """Decide from the store's copy and carry the operation out (see :class:`Target`)."""
        if not self.store.kind_synced(key.group, key.kind):
            try:
                await self.watch_kind(key.group, key.kind)
            except KubeopsError as err:
                raise TargetDown(f"target {self.name}: cannot watch {key.kind}: {err}") from err
            raise TargetDown(f"target {self.name}: the store of {key.kind} has not synced yet")
        stored = self.store.get(key)
        seen = _version(stored)
        fresh = self._fresh.pop(key, None)
        # Until the store shows our last write of this key (its watch may lag, or it is
        # still in backoff after an outage), that write's answer is the truer copy.
        actual = fresh[1] if fresh is not None and fresh[0] == seen else stored

        def redecide(current: dict[str, Any] | None) -> Operation:
            return decide(policy, self.name, key, desired, current)

        op = decide(policy, self.name, key, desired, actual)
        uid = ((actual or {}).get("metadata") or {}).get("uid")
        if op.action is Action.DELETE and uid:
            self._deleted.add(str(uid))  # before the delete: its event may beat the answer
        self._inflight[key] = []
        try:
            done, written = await self.sink.execute(op, redecide)
            if done.action is Action.DELETE:
                self._fresh[key] = (seen, None)
            elif written is not None:
                self._fresh[key] = (seen, store_transform(written))
        except BaseException:
            self._deleted.discard(str(uid))
            raise
        finally:
            self._release(key)
        return done

    def _release(self, key: ObjectKey) -> None:
        """Pass on the changes seen while writing ``key`` that were not our writes' echoes."""
        written = self._written.get(key, set())
        for version, policies in self._inflight.pop(key, []):
            if version and version in written:
                written.discard(version)
                continue
            if self._on_change is not None:
                for policy in policies:
                    self._on_change(policy, key)

    def _wrote(self, key: ObjectKey, obj: Object) -> None:
        version = (obj.get("metadata") or {}).get("resourceVersion")
        if version:
            versions = self._written.setdefault(key, set())
            if len(versions) > 8:  # echoes lost (a relist): keep only what may still come
                versions.clear()
            versions.add(str(version))

    async def probe(self) -> bool:
        """Whether the member answers ``/readyz`` now; a success closes the client's breaker."""
        ready, _ = await self.health()
        return ready

    async def health(self) -> tuple[bool, str]:
        """``/readyz`` and the version (or why it is not ready), as the member's status shows."""
        ready, message = await probe(self._prober, timeout=PROBE_TIMEOUT)
        if ready:
            # The member is back: let requests through now, not after the breaker's cooldown.
            with contextlib.suppress(AttributeError):
                self.client.transport.breaker.record_success()
        return ready, message

    def _changed(
        self,
        obj: Object | DeletedFinalStateUnknown,
        group: str,
        kind: str,
        event: str,
        old: Object | None = None,
    ) -> None:
        key = object_key(obj, group, kind)
        if key is None or self._on_change is None:
            return
        inner = (obj.obj or {}) if isinstance(obj, DeletedFinalStateUnknown) else obj
        meta = inner.get("metadata") or {}
        version = meta.get("resourceVersion")
        self._fresh.pop(key, None)  # the store moved on: it is the truer copy again
        if event == "delete":
            uid = meta.get("uid")
            if uid in self._deleted:
                self._deleted.discard(str(uid))
                return  # our own deletion
            self._written.pop(key, None)
        elif version and version in self._written.get(key, ()):
            self._written[key].discard(version)
            return  # the echo of our own write
        policies = {(meta.get("labels") or {}).get(POLICY_LABEL)}
        if old is not None:
            if (old.get("metadata") or {}).get("resourceVersion") == version:
                return  # a resync: nothing changed
            policies.add(((old.get("metadata") or {}).get("labels") or {}).get(POLICY_LABEL))
        policies.discard(None)
        # A label removed by hand makes the watch report a deletion of an object without
        # the label: "" asks the controller for every policy syncing this kind here.
        named = {str(p) for p in policies} or {""}
        held = self._inflight.get(key)
        if held is not None:
            held.append((str(version or ""), named))  # our write's answer may not be in yet
            return
        for policy in named:
            self._on_change(policy, key)


def _version(obj: Object | None) -> str | None:
    version = ((obj or {}).get("metadata") or {}).get("resourceVersion")
    return str(version) if version else None
