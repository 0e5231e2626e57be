"""A Pull member's work on the hub: one ``SyncWork`` per (policy, object), and the target writing them.

The hub cannot reach a Pull member, so the push controller drives it through
:class:`PullTarget`: instead of applying to the member it writes the final
desired object into a ``SyncWork`` in the member's namespace on the hub
(:func:`~kubeops.sync.model.work_namespace`), and reads back the status the
member's agent (:mod:`kubeops.sync.agent`) writes there.  Every work carries
the finalizer :data:`~kubeops.sync.ownership.WORK_FINALIZER`, so deleting one
makes the agent prune (or orphan) the member's object before the work goes.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import logging
import re
from collections.abc import Mapping
from typing import Any

from kubeops.api import Client, Object
from kubeops.cache import DeletedFinalStateUnknown, SharedInformer, strip_managed_fields
from kubeops.errors import (
    AlreadyExists,
    ConnectionFailed,
    KubeopsError,
    NotFound,
    ServiceUnavailable,
)
from kubeops.sync.model import (
    API_VERSION,
    GROUP,
    WORK_KIND,
    Deletion,
    SyncPolicy,
    work_namespace,
)
from kubeops.sync.operation import Action, Operation, State
from kubeops.sync.ownership import (
    FIELD_MANAGER,
    HASH_ANNOTATION,
    POLICY_LABEL,
    WORK_FINALIZER,
    ObjectKey,
    desired_hash,
)
from kubeops.sync.target import Changed, TargetDown

log = logging.getLogger(__name__)

WORK_RESOURCE = f"syncworks.{GROUP}"
"""How a client names the ``SyncWork`` resource."""
MEMBER_RESOURCE = f"memberclusters.{GROUP}"
"""How a client names the ``MemberCluster`` resource."""
MEMBER_LABEL = f"{GROUP}/member"
"""On every work: the member it is for."""
DEFAULT_QPS = 200.0
"""A member's default ``spec.rateLimit.qps``: its works are written to the hub at this rate."""
DEFAULT_BURST = 400
HEARTBEAT_TTL = 60.0
"""A Pull member is up while its agent's heartbeat is younger than this (seconds)."""

_MAX_NAME = 253
_HASH_LEN = 10
_UNSAFE = re.compile(r"[^a-z0-9-]+")


def work_name(policy: str, key: ObjectKey) -> str:
    """The ``SyncWork`` name of ``key`` under ``policy``: readable, stable and unique.

    A DNS-1123 subdomain of at most 253 characters: ``<policy>-<kind>-<namespace>-<name>``
    lowercased, unsafe characters turned into dashes, cut to fit, and suffixed
    with a hash of the exact (policy, group, kind, namespace, name) so two keys
    that read alike after cleaning never share a work.
    """
    exact = "\0".join((policy, key.group, key.kind, key.namespace, key.name))
    suffix = hashlib.sha256(exact.encode()).hexdigest()[:_HASH_LEN]
    parts = [policy, key.kind.lower(), key.namespace, key.name]
    readable = _UNSAFE.sub("-", "-".join(p for p in parts if p).lower()).strip("-")
    readable = readable[: _MAX_NAME - _HASH_LEN - 1].rstrip("-")
    return f"{readable}-{suffix}" if readable else suffix


def work_key(work: Mapping[str, Any]) -> tuple[str, ObjectKey]:
    """The (policy, source object key) a ``SyncWork`` carries, from its spec."""
    spec = work.get("spec") or {}
    source = spec.get("source") or {}
    return str(spec.get("policy") or ""), ObjectKey(
        str(source.get("group") or ""),
        str(source.get("kind") or ""),
        str(source.get("namespace") or ""),
        str(source.get("name") or ""),
    )


def work_object(
    policy: SyncPolicy,
    member: str,
    key: ObjectKey,
    desired: Mapping[str, Any],
    source_cluster: str,
) -> dict[str, Any]:
    """The ``SyncWork`` telling ``member``'s agent to hold ``desired`` as ``policy`` says.

    Its :data:`HASH_ANNOTATION` is the hash of its spec, so the controller
    rewrites a work only when the manifest or the policy's rules changed.
    """
    spec: dict[str, Any] = {
        "policy": policy.name,
        "member": member,
        "source": {
            "cluster": source_cluster,
            "group": key.group,
            "kind": key.kind,
            "namespace": key.namespace,
            "name": key.name,
        },
        "manifest": dict(desired),
        "conflictResolution": policy.conflict.value,
        "deletion": policy.deletion.value,
        "drift": policy.drift.value,
    }
    return {
        "apiVersion": API_VERSION,
        "kind": WORK_KIND,
        "metadata": {
            "name": work_name(policy.name, key),
            "namespace": work_namespace(member),
            "labels": {POLICY_LABEL: policy.name, MEMBER_LABEL: member},
            "annotations": {HASH_ANNOTATION: spec_hash(spec)},
            "finalizers": [WORK_FINALIZER],
        },
        "spec": spec,
    }


def spec_hash(spec: Mapping[str, Any]) -> str:
    """The hash a work's spec is known by (written in its :data:`HASH_ANNOTATION`)."""
    return desired_hash({"spec": spec})


def work_state(work: Mapping[str, Any]) -> tuple[State, str]:
    """What the agent last reported for ``work``: its state and message.

    Pending until the agent has evaluated the work's current generation.
    """
    meta = work.get("metadata") or {}
    status = work.get("status") or {}
    if meta.get("deletionTimestamp"):
        return State.PENDING, "being removed by the member's agent"
    observed = status.get("observedGeneration")
    if not status.get("state") or observed != meta.get("generation"):
        return State.PENDING, "waiting for the member's agent"
    try:
        state = State(status["state"])
    except ValueError:
        return State.FAILED, f"the agent reported an unknown state {status['state']!r}"
    return state, str(status.get("message") or "")


def parse_time(value: Any) -> datetime.datetime | None:
    """An RFC 3339 timestamp as the API server writes it, or None when absent or malformed."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def format_time(moment: datetime.datetime | None = None) -> str:
    """``moment`` (default now) as an RFC 3339 UTC timestamp with microseconds."""
    return (moment or datetime.datetime.now(datetime.UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def heartbeat_fresh(
    member: Mapping[str, Any], now: datetime.datetime | None = None, ttl: float = HEARTBEAT_TTL
) -> bool:
    """Whether a ``MemberCluster``'s agent heartbeat is younger than ``ttl`` seconds."""
    agent = (member.get("status") or {}).get("agent") or {}
    beat = parse_time(agent.get("heartbeatTime"))
    if beat is None:
        return False
    age = ((now or datetime.datetime.now(datetime.UTC)) - beat).total_seconds()
    return age < ttl


_DOWN = (ConnectionFailed, ServiceUnavailable)


class PullTarget:
    """A Pull member as the push controller sees it: its ``SyncWork`` objects on the hub.

    Like a Push target it has a client of its own -- to the hub, limited to the
    member's ``spec.rateLimit`` -- so one member's burst of work never eats the
    rate the controller's other targets and watches share.
    """

    def __init__(
        self, hub: Client, member: str, *, qps: float = DEFAULT_QPS, burst: int = DEFAULT_BURST
    ) -> None:
        self.name = member
        self.hub = Client(hub.config, qps=qps, burst=burst)
        """The target's own client of the hub: the member's rate limit, its own breaker."""
        self.namespace = work_namespace(member)
        self.informer = SharedInformer(
            self.hub, WORK_RESOURCE, namespace=self.namespace, transform=strip_managed_fields
        )
        self._on_change: Changed | None = None
        self._namespace_ready = False
        self._started = False

    # -- the Target protocol ------------------------------------------------------------------

    async def start(self, on_change: Changed) -> None:
        """Watch the member's works; a status the agent changed is reported to ``on_change``."""
        self._on_change = on_change
        self.informer.add_handler(on_update=self._updated, on_delete=self._deleted)
        self.informer.start()
        self._started = True

    async def stop(self) -> None:
        """Stop watching the works and close the target's client."""
        if self._started:
            await self.informer.stop()
            self._started = False
        await self.hub.close()

    async def watch_kind(self, group: str, kind: str) -> None:
        """Nothing to watch here: the agent watches the member's objects."""

    def owned(self, policy: str) -> list[ObjectKey]:
        """The keys of every work ``policy`` has for this member."""
        keys = []
        for work in self.informer.store.list():
            owner, key = work_key(work)
            if owner == policy:
                keys.append(key)
        return sorted(keys)

    def synced(self) -> bool:
        """Whether the works' informer holds its first complete list."""
        return self.informer.has_synced()

    async def reconcile(
        self, policy: SyncPolicy, key: ObjectKey, desired: dict[str, Any] | None
    ) -> Operation:
        """Write (or delete) the work for ``key``; the state is what the agent reported."""
        name = work_name(policy.name, key)
        current = self.informer.store.get_by_key(f"{self.namespace}/{name}")
        try:
            if desired is None:
                return await self._remove(policy, key, current)
            return await self._write(policy, key, desired, current)
        except _DOWN as err:
            raise TargetDown(f"member {self.name}: the hub is unreachable: {err}") from err

    async def probe(self) -> bool:
        """Whether the member's agent sent a heartbeat within the last 60 seconds."""
        try:
            member = await self.hub.get(MEMBER_RESOURCE, self.name)
        except KubeopsError:
            return False
        return heartbeat_fresh(member)

    # -- writing works -------------------------------------------------------------------------

    async def _write(
        self,
        policy: SyncPolicy,
        key: ObjectKey,
        desired: dict[str, Any],
        current: Object | None,
    ) -> Operation:
        work = work_object(policy, self.name, key, desired, policy.source_cluster)
        wanted = work["metadata"]["annotations"][HASH_ANNOTATION]
        if current is not None and not (current.get("metadata") or {}).get("deletionTimestamp"):
            have = ((current.get("metadata") or {}).get("annotations") or {}).get(HASH_ANNOTATION)
            if have == wanted:
                state, message = work_state(current)
                return self._operation(policy, key, Action.NONE, message, state, desired)
        elif current is not None:
            # The previous work is still being removed; its successor waits for the agent.
            return self._operation(
                policy,
                key,
                Action.NONE,
                "waiting for the agent to remove the old work",
                State.PENDING,
                desired,
            )
        await self._apply(work)
        action = Action.CREATE if current is None else Action.APPLY
        reason = "not on the target" if current is None else "source changed"
        return self._operation(policy, key, action, reason, State.PENDING, desired)

    async def _apply(self, work: dict[str, Any]) -> None:
        """Server-side apply the work, creating the member's namespace first when missing."""
        if not self._namespace_ready:
            await self._ensure_namespace()
        try:
            await self.hub.apply(work, field_manager=FIELD_MANAGER, force=True)
        except NotFound:
            self._namespace_ready = False
            await self._ensure_namespace()
            await self.hub.apply(work, field_manager=FIELD_MANAGER, force=True)

    async def _ensure_namespace(self) -> None:
        namespace = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": self.namespace, "labels": {MEMBER_LABEL: self.name}},
        }
        with contextlib.suppress(AlreadyExists):
            await self.hub.create(namespace)
        self._namespace_ready = True

    async def _remove(
        self, policy: SyncPolicy, key: ObjectKey, current: Object | None
    ) -> Operation:
        if current is None:
            # The store may not have seen a work written a moment ago: a deletion asks.
            try:
                current = await self.hub.get(
                    WORK_RESOURCE, work_name(policy.name, key), self.namespace
                )
            except NotFound:
                return self._operation(policy, key, Action.NONE, "not on the target", State.IN_SYNC)
        meta = current.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            state, message = work_state(current)
            return self._operation(policy, key, Action.NONE, message, state)
        spec = current.get("spec") or {}
        if spec.get("deletion") != policy.deletion.value:
            # The agent prunes or orphans as the work says: tell it the policy's rule of now.
            await self.hub.patch(
                WORK_RESOURCE,
                meta["name"],
                {"spec": {"deletion": policy.deletion.value}},
                self.namespace,
            )
        with contextlib.suppress(NotFound):
            await self.hub.delete(
                WORK_RESOURCE,
                meta["name"],
                self.namespace,
                preconditions={"uid": str(meta.get("uid") or "")},
            )
        action = Action.DELETE if policy.deletion is Deletion.PRUNE else Action.ORPHAN
        return self._operation(policy, key, action, "source deleted", State.PENDING)

    def _operation(
        self,
        policy: SyncPolicy,
        key: ObjectKey,
        action: Action,
        reason: str,
        state: State,
        desired: dict[str, Any] | None = None,
    ) -> Operation:
        return Operation(
            policy=policy.name,
            target=self.name,
            key=key,
            action=action,
            reason=reason,
            state=state,
            desired=desired if action is not Action.NONE else None,
        )

    # -- what the agent reports ----------------------------------------------------------------

    def _updated(self, old: Object, new: Object) -> None:
        if _report(old) != _report(new):
            self._changed(new)

    def _deleted(self, obj: Object | DeletedFinalStateUnknown) -> None:
        work = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        if isinstance(work, Mapping):
            self._changed(work)

    def _changed(self, work: Mapping[str, Any]) -> None:
        policy, key = work_key(work)
        if self._on_change is not None and policy and key.name:
            self._on_change(policy, key)


def _report(work: Mapping[str, Any]) -> tuple[Any, ...]:
    """The parts of a work whose change the controller must hear about."""
    status = work.get("status") or {}
    meta = work.get("metadata") or {}
    return (
        status.get("state"),
        status.get("message"),
        status.get("appliedHash"),
        status.get("observedGeneration"),
        meta.get("deletionTimestamp"),
    )
