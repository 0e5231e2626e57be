"""The pull agent: beside a member the hub cannot reach, it fetches its work and reports back.

The push controller writes one ``SyncWork`` per (policy, object) into the
member's namespace on the hub (:mod:`kubeops.sync.work`).  The agent watches
those works, brings the member's objects to their manifests through the very
target the push mode drives (:class:`kubeops.sync.push.PushTarget`: the same
state store, :func:`~kubeops.sync.diff.decide` and executor), and writes each
work's status.  A work being deleted is pruned (or orphaned) on the member
before the agent removes its finalizer; drift on a member object re-evaluates
its work.  Every 10 s the agent's heartbeat and counts go to the
``MemberCluster``'s ``status.agent``, which is how the hub knows it is alive.

The hub going away changes nothing on the member: the works' store keeps what
it holds, no work is ever read as deleted because a list failed, and the
statuses not written yet are written when the hub answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import socket
import time
from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kubeops.api import Client, Object, RetryPolicy, Timeouts
from kubeops.cache import (
    DeletedFinalStateUnknown,
    SharedInformer,
    is_fatal_watch_error,
    strip_managed_fields,
)
from kubeops.controller import Controller, Request, Result
from kubeops.errors import (
    Conflict,
    ConnectionFailed,
    Invalid,
    KubeopsError,
    NotFound,
    ServiceUnavailable,
)
from kubeops.sync.metrics import SyncMetrics
from kubeops.sync.model import Conflict as ConflictRule
from kubeops.sync.model import Deletion, Drift, SyncPolicy, work_namespace
from kubeops.sync.operation import Operation, State
from kubeops.sync.ownership import HASH_ANNOTATION, WORK_FINALIZER, ObjectKey
from kubeops.sync.push import PushTarget
from kubeops.sync.store import WATCH_BACKOFF
from kubeops.sync.target import CONFLICT_RECHECK, TargetDown
from kubeops.sync.work import (
    MEMBER_RESOURCE,
    WORK_RESOURCE,
    format_time,
    work_key,
    work_name,
)

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL = 10.0
"""Seconds between two heartbeats (the hub calls a member down after 60 s without one)."""
RETRY_HUB = 1.0
"""Seconds before a status the hub did not take is sent again."""
RETRY_MEMBER = 1.0
"""Seconds before a work whose member did not answer is tried again."""
PROBE_TIMEOUT = 2.0
"""Seconds a probe of a hub that went away may take."""
RETRY_REFUSED = 5.0
"""Seconds before a work whose kind the member refuses to list (RBAC, not served) is retried."""

_HUB_DOWN = (ConnectionFailed, ServiceUnavailable)


def work_policy(work: Mapping[str, Any]) -> SyncPolicy:
    """The rules a work carries, as the policy value :func:`~kubeops.sync.diff.decide` reads."""
    spec = work.get("spec") or {}
    source = spec.get("source") or {}
    return SyncPolicy(
        name=str(spec.get("policy") or ""),
        source_cluster=str(source.get("cluster") or ""),
        target_clusters=(str(spec.get("member") or ""),),
        conflict=ConflictRule(spec.get("conflictResolution") or ConflictRule.ABORT.value),
        deletion=Deletion(spec.get("deletion") or Deletion.PRUNE.value),
        drift=Drift(spec.get("drift") or Drift.CORRECT.value),
    )


def work_status(work: Mapping[str, Any], op: Operation) -> dict[str, Any]:
    """The status the agent reports for ``work`` after ``op`` (without ``lastSyncTime``)."""
    manifest = (work.get("spec") or {}).get("manifest") or {}
    applied = _hash(manifest) if op.state is State.IN_SYNC else _hash(op.actual or {})
    return {
        "state": op.state.value,
        "message": op.reason,
        "appliedHash": applied,
        "observedGeneration": (work.get("metadata") or {}).get("generation"),
    }


def manifest_mismatch(key: ObjectKey, manifest: Mapping[str, Any]) -> str | None:
    """Why a work's manifest is not the object its ``spec.source`` names, or None.

    The agent writes what the manifest says; one naming another object (a hand-made
    or damaged work) would write where no policy meant to, so it is refused.
    """
    try:
        actual = ObjectKey.of(manifest)
    except (KeyError, TypeError):
        return "spec.manifest has no metadata.name"
    if actual != key:
        return f"spec.manifest is {actual}, not {key} as spec.source says"
    return None


def _hash(obj: Mapping[str, Any]) -> str:
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(HASH_ANNOTATION)
    return value if isinstance(value, str) else ""


def _reported(work: Mapping[str, Any]) -> dict[str, Any]:
    status = work.get("status") or {}
    return {k: status.get(k) for k in ("state", "message", "appliedHash", "observedGeneration")}


def default_identity() -> str:
    """``<hostname>_<pid>``: tells two agent replicas apart in the heartbeat and the Lease."""
    return f"{socket.gethostname()}_{os.getpid()}"


class Agent:
    """Brings one member's objects to the works the hub holds for it, and reports back."""

    def __init__(
        self,
        hub: Client,
        member_client: Client,
        member: str,
        *,
        workers: int = 4,
        registry: CollectorRegistry | None = None,
        identity: str = "",
        heartbeat_interval: float = HEARTBEAT_INTERVAL,
    ) -> None:
        self.hub = hub
        self.member_client = member_client
        self.member = member
        self.namespace = work_namespace(member)
        self.identity = identity or default_identity()
        self.heartbeat_interval = heartbeat_interval
        self.metrics = SyncMetrics(registry)
        self.works = SharedInformer(
            hub, WORK_RESOURCE, namespace=self.namespace, transform=strip_managed_fields
        )
        self.works.reflector.backoff = dataclasses.replace(WATCH_BACKOFF)
        self.works.add_handler(self._work_added, self._work_updated, self._work_deleted)
        self.target = _member_target(member_client, member)
        self.controller = Controller(f"sync-agent-{member}", self._reconcile, workers=workers)
        self.states: dict[str, State] = {}
        """Each work's last state on the member, by work name (the heartbeat's counts)."""
        self._policies: dict[str, str] = {}
        """Each work's policy, by work name (the metrics' labels)."""
        self._seen: dict[tuple[str, int], float] = {}
        """When each (work, generation) was first seen: the propagation histogram's start."""
        self.heartbeats = 0
        """Heartbeats the hub accepted."""
        self._target_started = False
        self._member_probed = 0.0

    def synced(self) -> bool:
        """Whether the works and the member's owned objects are both completely listed."""
        return self.works.has_synced() and self.target.synced()

    async def run(self, stop: asyncio.Event) -> None:
        """Converge the member until ``stop`` is set; nothing is written after it returns."""
        await self.target.start(self._member_changed)
        self._target_started = True
        self.works.start()
        controller = asyncio.create_task(self.controller.run(), name=f"{self.member} agent")
        heartbeat = asyncio.create_task(self._heartbeats(), name=f"{self.member} heartbeat")
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({controller, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (heartbeat, stopping, controller):
                task.cancel()
            for task in (heartbeat, stopping, controller):
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self.works.stop()
            if self._target_started:
                await self.target.stop()
        if controller.done() and not controller.cancelled():
            controller.result()  # the controller's own failure (a cache that never synced)

    # -- one work -------------------------------------------------------------------------------

    async def _reconcile(self, request: Request) -> Result | None:
        work = self.works.store.get_by_key(f"{request.namespace}/{request.name}")
        if work is None:
            # Gone from the hub (its finalizer removed): the member keeps what it holds.
            self._forget(request.name)
            return None
        meta = work.get("metadata") or {}
        deleting = bool(meta.get("deletionTimestamp"))
        if deleting and WORK_FINALIZER not in (meta.get("finalizers") or []):
            return None
        policy, key = work_policy(work), work_key(work)[1]
        desired = None if deleting else dict((work.get("spec") or {}).get("manifest") or {})
        wrong = manifest_mismatch(key, desired) if desired is not None else None
        if wrong is not None:
            self._record(request.name, policy.name, State.FAILED)
            await self._report(work, _failure(work, wrong))
            return None  # a new spec brings the work back
        try:
            await self._watch_kind(key)
            if not self.target.store.kind_synced(key.group, key.kind):
                # Never act on a partial view of the member; say why when it cannot be had.
                return await self._not_watched(work, policy, key)
            op = await self.target.reconcile(policy, key, desired)
        except TargetDown as err:
            log.warning("agent %s: %s: the member is unreachable: %s", self.member, key, err)
            await self._probe_member()
            return Result(requeue_after=RETRY_MEMBER)
        except KubeopsError as err:
            self.metrics.operation(policy.name, self.member, "unknown", "error")
            self._record(request.name, policy.name, State.FAILED)
            await self._report(work, _failure(work, str(err)))
            raise
        self.metrics.set_up(self.member, True)
        started = self._seen.pop((request.name, int(meta.get("generation") or 0)), None)
        if op.writes:
            self.metrics.operation(policy.name, self.member, op.action.value, "success")
            if started is not None:
                self.metrics.propagated(self.member, time.monotonic() - started)
        if deleting:
            return await self._release(work, op)
        self._record(request.name, policy.name, op.state)
        if not await self._report(work, work_status(work, op)):
            return Result(requeue_after=RETRY_HUB)
        if op.state is State.CONFLICT:
            # The member's store holds only owned objects: the foreign one going is never an
            # event here, so look again later.
            return Result(requeue_after=CONFLICT_RECHECK)
        return None

    async def _not_watched(self, work: Object, policy: SyncPolicy, key: ObjectKey) -> Result:
        """The member's objects of the key's kind are not listed yet: wait, or report why not."""
        errors = [
            informer.last_error
            for informer in self.target.store.informers(key.group, key.kind)
            if informer.last_error is not None
        ]
        if not errors:
            return Result(requeue_after=0.1)
        fatal = next((e for e in errors if is_fatal_watch_error(e)), None)
        if fatal is None:
            await self._probe_member()
            return Result(requeue_after=RETRY_MEMBER)
        name = str((work.get("metadata") or {}).get("name"))
        self._record(name, policy.name, State.FAILED)
        message = f"{key.kind} cannot be listed on member {self.member}: {fatal}"
        await self._report(work, _failure(work, message))
        return Result(requeue_after=RETRY_REFUSED)

    async def _watch_kind(self, key: ObjectKey) -> None:
        """Watch the member's objects of the key's kind (discovery failing is the member down)."""
        try:
            await self.target.watch_kind(key.group, key.kind)
        except (ConnectionFailed, ServiceUnavailable) as err:
            raise TargetDown(f"member {self.member}: {err}") from err

    async def _report(self, work: Object, status: dict[str, Any]) -> bool:
        """Write ``status`` when it differs from the work's; False when the hub did not take it."""
        if _reported(work) == status:
            return True
        meta = work.get("metadata") or {}
        body = {"status": {**status, "lastSyncTime": format_time()}}
        try:
            await self.hub.patch(
                WORK_RESOURCE, meta["name"], body, self.namespace, subresource="status"
            )
        except NotFound:
            return True  # the work is gone; nothing to report on
        except _HUB_DOWN as err:
            log.info("agent %s: status of %s waits for the hub: %s", self.member, meta["name"], err)
            return False
        return True

    async def _release(self, work: Object, op: Operation) -> Result | None:
        """The member's object is pruned or orphaned: let the hub delete the work."""
        meta = work.get("metadata") or {}
        finalizers = list(meta.get("finalizers") or [])
        index = finalizers.index(WORK_FINALIZER)
        patch = [
            {"op": "test", "path": f"/metadata/finalizers/{index}", "value": WORK_FINALIZER},
            {"op": "remove", "path": f"/metadata/finalizers/{index}"},
        ]
        try:
            await self.hub.patch(
                WORK_RESOURCE, meta["name"], patch, self.namespace, patch_type="json"
            )
        except NotFound:
            pass
        except (Conflict, Invalid):
            return Result(requeue_after=0.1)  # the finalizers moved; read them again
        except _HUB_DOWN:
            return Result(requeue_after=RETRY_HUB)
        self._forget(meta["name"])
        log.info("agent %s: %s: %s (%s)", self.member, op.key, op.action.value, op.reason)
        return None

    async def _probe_member(self) -> None:
        """Ask the member whether it is back, at most once a second over all works.

        A probe that gets through closes the member client's circuit breaker, so
        the works waiting on it are carried out at once instead of after its cooldown.
        """
        now = time.monotonic()
        if now - self._member_probed < RETRY_MEMBER:
            return
        self._member_probed = now
        self.metrics.set_up(self.member, await self.target.probe())

    def _record(self, work: str, policy: str, state: State) -> None:
        self.states[work] = state
        self._policies[work] = policy

    def _forget(self, work: str) -> None:
        self.states.pop(work, None)
        self._policies.pop(work, None)
        for seen in [s for s in self._seen if s[0] == work]:
            del self._seen[seen]

    def _work_added(self, work: Object, _initial: bool = False) -> None:
        meta = work.get("metadata") or {}
        generation = int(meta.get("generation") or 0)
        if (work.get("status") or {}).get("observedGeneration") != generation:
            self._seen.setdefault((str(meta.get("name")), generation), time.monotonic())
        self.controller.queue.add(Request(self.namespace, str(meta.get("name"))))

    def _work_updated(self, old: Object, new: Object) -> None:
        """A changed spec, a deletion begun or finalizers changed; not the echo of a status write."""
        if _intent(old) != _intent(new):
            self._work_added(new)

    def _work_deleted(self, work: Object | DeletedFinalStateUnknown) -> None:
        if isinstance(work, DeletedFinalStateUnknown):
            name = work.key.rpartition("/")[2]
        else:
            name = str((work.get("metadata") or {}).get("name"))
        self.controller.queue.add(Request(self.namespace, name))

    def _member_changed(self, policy: str, key: ObjectKey) -> None:
        """A member object changed by someone else: its work is evaluated again."""
        self.controller.queue.add(Request(self.namespace, work_name(policy, key)))

    # -- heartbeat ------------------------------------------------------------------------------

    def agent_status(self) -> dict[str, Any]:
        """What the heartbeat says: who, when, and how the member's objects stand.

        ``objects`` counts the works evaluated; ``failed`` counts both the works that
        failed and those refused as conflicts (neither is on the member as desired).
        """
        counts = Counter(self.states.values())
        return {
            "identity": self.identity,
            "heartbeatTime": format_time(),
            "objects": len(self.states),
            "inSync": counts[State.IN_SYNC],
            "drifted": counts[State.DRIFTED],
            "failed": counts[State.FAILED] + counts[State.CONFLICT],
        }

    def _count(self) -> None:
        """Set the objects gauge per policy and state from the works' last states."""
        counts: dict[str, dict[str, int]] = {}
        for work, state in self.states.items():
            policy = self._policies.get(work, "")
            by_state = counts.setdefault(policy, {s.value: 0 for s in State})
            by_state[state.value] += 1
        for policy, by_state in counts.items():
            self.metrics.set_objects(policy, self.member, by_state)
        self.metrics.set_depth(self.member, len(self.controller.queue))

    async def heartbeat(self) -> bool | None:
        """Patch the ``MemberCluster``'s ``status.agent`` once.

        True when the hub took it, None when the hub is unreachable, False when it
        refused (no such member, no permission: said in the log).
        """
        self._count()
        body = {"status": {"agent": self.agent_status()}}
        try:
            await self.hub.patch(MEMBER_RESOURCE, self.member, body, subresource="status")
        except _HUB_DOWN as err:
            log.warning(
                "agent %s: heartbeat not sent, the hub is unreachable: %s", self.member, err
            )
            return None
        except KubeopsError as err:
            log.warning("agent %s: heartbeat refused: %s", self.member, err)
            return False
        self.heartbeats += 1
        return True

    async def _heartbeats(self) -> None:
        """Beat every interval; while the hub is away, ask it every second whether it is back.

        The hub client's circuit breaker would hold every request back for its
        cooldown after the hub returns; a probe that gets through closes it at
        once, so statuses and the heartbeat are written within a second or two.
        """
        prober = Client(
            self.hub.config,
            qps=-1,
            retry=RetryPolicy(max_retries=0),
            timeouts=Timeouts(request=PROBE_TIMEOUT, connect=PROBE_TIMEOUT),
            pool_size=1,
        )
        try:
            while True:
                if await self.heartbeat() is not None:
                    await asyncio.sleep(self.heartbeat_interval)
                    continue
                await asyncio.sleep(RETRY_HUB)
                while not await _answers(prober):
                    await asyncio.sleep(RETRY_HUB)
                with contextlib.suppress(AttributeError):
                    self.hub.transport.breaker.record_success()
        finally:
            await prober.close()


async def _answers(client: Client) -> bool:
    """Whether the cluster answers ``/readyz`` with 200 now."""
    try:
        response = await client.request("GET", "/readyz")
    except KubeopsError:
        return False
    return response.status == 200


def _intent(work: Mapping[str, Any]) -> tuple[Any, ...]:
    """What the agent acts on in a work: its spec's generation, its deletion, its finalizers."""
    meta = work.get("metadata") or {}
    return (meta.get("generation"), meta.get("deletionTimestamp"), meta.get("finalizers"))


def _failure(work: Mapping[str, Any], message: str) -> dict[str, Any]:
    return {
        "state": State.FAILED.value,
        "message": message,
        "appliedHash": (work.get("status") or {}).get("appliedHash") or "",
        "observedGeneration": (work.get("metadata") or {}).get("generation"),
    }


def _member_target(client: Client, member: str) -> PushTarget:
    """The member as the push mode drives a target: its owned-object store, diff and executor."""
    return PushTarget(member, client, owns_client=False)
