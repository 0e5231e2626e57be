"""The push controller: keeps every ``ClusterSyncPolicy`` on the hub true on its targets.

It watches policies and members on the hub, and for each policy the source
cluster's selected objects (:class:`~kubeops.sync.store.ClusterStore`).  A
source event enqueues ``(policy, key)`` on the work queue of each of the
policy's targets; a change made on a target by someone else comes back through
the target's ``on_change``.  Each target has its own queue and workers, so one
slow or unreachable member never holds the others up.

A worker computes the desired object from the source store, or -- when the
store has none -- confirms with a GET on the source that the object is gone
(404, or no longer selected) before it lets the target prune: a failed or
partial list is never read as deletions.  A :class:`~kubeops.sync.target.TargetDown`
pauses that target's queue with its keys kept (no per-key backoff), a probe
runs every second, and on recovery every dirty key is worked off at once from
the state store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry

from kubeops import telemetry
from kubeops.api import Client, Object
from kubeops.cache import DeletedFinalStateUnknown
from kubeops.errors import KubeopsError, NotFound
from kubeops.sync import members as member_api
from kubeops.sync.desired import desired_object
from kubeops.sync.metrics import SyncMetrics
from kubeops.sync.model import (
    GROUP,
    MEMBER_KIND,
    POLICY_KIND,
    Member,
    PolicyError,
    ResourceSelector,
    SyncMode,
    SyncPolicy,
    member_from_object,
    policy_from_object,
)
from kubeops.sync.operation import Action, Operation, State
from kubeops.sync.ownership import ObjectKey
from kubeops.sync.push import PushTarget
from kubeops.sync.status import StatusBook, StatusWriter
from kubeops.sync.store import ClusterStore, kind_name, object_key, store_transform
from kubeops.sync.target import CONFLICT_RECHECK, Target, TargetDown
from kubeops.workqueue import RateLimitingQueue

__all__ = ["OperationHook", "SyncController", "TargetFactory", "default_target"]

log = logging.getLogger(__name__)

Item = tuple[str, ObjectKey]
TargetFactory = Callable[[Client, Member], Awaitable[Target]]
"""Builds the target of a member: ``(hub, member) -> Target``."""
OperationHook = Callable[..., None]
"""Called with every operation carried out (and the error, when it failed)."""

PROBE_INTERVAL = 1.0
MEMBER_STATUS_INTERVAL = 10.0
SOURCE_BREAKER_COOLDOWN = 2.0
"""Seconds a source's open circuit breaker waits before letting one request try (default 10)."""
SOURCE_PROBE_TIMEOUT = 2.0
"""Seconds one probe of a source may take before the source counts as unreachable."""
_NOT_READY_DELAY = 0.5
_SOURCE_DOWN_DELAY = 1.0
_POLICY_RETRY = 5.0
_ALL_STATES = [s.value for s in State]


async def default_target(hub: Client, member: Member) -> Target:
    """A :class:`PushTarget` for a Push member, a ``PullTarget`` for a Pull one."""
    if member.mode is SyncMode.PULL:
        from kubeops.sync.work import PullTarget

        return PullTarget(hub, member.name, qps=member.qps, burst=member.burst)
    client = await member_api.connect(hub, member)
    return PushTarget(member.name, client)


class _NotReady(Exception):
    """The source store has no complete list yet: try the key again shortly."""


class _SourceDown(Exception):
    """The source could not confirm an absence: try the key again later (nothing is deleted)."""


@dataclass(eq=False)
class _PolicyRun:
    """One generation of one policy as the controller runs it."""

    policy: SyncPolicy
    source: ClusterStore
    targets: tuple[str, ...]
    active: bool = True
    selectors: list[tuple[ResourceSelector, str | None]] = field(default_factory=list)

    def selector_of(self, key: ObjectKey) -> list[tuple[ResourceSelector, str | None]]:
        return [(r, s) for r, s in self.selectors if r.group == key.group and r.kind == key.kind]

    def synced(self, key: ObjectKey) -> bool:
        return self.source.kind_synced(key.group, key.kind)

    def lookup(self, key: ObjectKey) -> dict[str, Any] | None:
        for selector, text in self.selector_of(key):
            found = self.source.get(key, text)
            if found is not None and selector.matches(found):
                return found
        return None

    def selects(self, obj: Mapping[str, Any], key: ObjectKey) -> bool:
        return any(r.matches(obj) for r, _ in self.selector_of(key))

    def kinds(self) -> set[tuple[str, str]]:
        return {(r.group, r.kind) for r, _ in self.selectors}


class _Lane:
    """One target: its queue, its workers, and its probe while it is down."""

    def __init__(
        self, controller: SyncController, member: Member, target: Target, workers: int
    ) -> None:
        self.controller = controller
        self.member = member
        self.target = target
        self.name = member.name
        self.queue: RateLimitingQueue[Item] = RateLimitingQueue(name=f"sync-{member.name}")
        self.workers = workers
        self.up = asyncio.Event()
        self.down_reason = ""
        self.seen: dict[Item, float] = {}
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await self.target.start(self.changed)
        loop = asyncio.get_running_loop()
        self.tasks = [
            loop.create_task(self._work(), name=f"sync {self.name} worker {i}")
            for i in range(self.workers)
        ]
        self.tasks.append(loop.create_task(self._probe(), name=f"sync {self.name} probe"))
        self._set_up(True)

    async def stop(self) -> None:
        self.queue.shutdown()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.target.stop()

    def add(self, item: Item, seen: float | None = None) -> None:
        if seen is not None:
            self.seen.setdefault(item, seen)
        self.controller.book.pending(item[0], self.name, item[1])
        self.queue.add(item)

    def changed(self, policy: str, key: ObjectKey) -> None:
        """A change on the target by someone else: reconcile the key for its policy (all, if "")."""
        self.controller.target_changed(self, policy, key)

    def _set_up(self, up: bool, reason: str = "") -> None:
        if up:
            self.up.set()
        else:
            self.up.clear()
        self.down_reason = reason
        self.controller.metrics.set_up(self.name, up)
        self.controller.book.set_up(self.name, up, reason)

    def mark_down(self, reason: str) -> None:
        if self.up.is_set():
            log.warning("sync target %s is down, its queue paused: %s", self.name, reason)
            self._set_up(False, reason)
            self.controller.member_changed_health(self.name)

    async def _probe(self) -> None:
        while True:
            if self.up.is_set():
                await asyncio.sleep(PROBE_INTERVAL)
                continue
            await asyncio.sleep(PROBE_INTERVAL)
            try:
                ready = await self.target.probe()
            except Exception:  # a probe that fails says "not yet"
                ready = False
            if ready and self.target.synced():
                log.info("sync target %s is back: catching up %d keys", self.name, len(self.queue))
                self._set_up(True)
                self.controller.member_changed_health(self.name)

    async def _work(self) -> None:
        queue = self.queue
        while True:
            item = await queue.get()
            # Continues the trace of the source event that queued the key, and its
            # retries continue this one (tracing only).
            with telemetry.span(
                "sync.reconcile",
                _item_attributes(self.name, item),
                parent=queue.trace_context(item),
            ) as span:
                try:
                    await self.up.wait()
                    await self.controller.process(self, item)
                    queue.forget(item)
                except TargetDown as err:
                    telemetry.fail(span, str(err), "TargetDown")
                    self.mark_down(str(err))
                    queue.add(item)  # kept, no backoff: worked off when the target is back
                except _NotReady:
                    queue.add_after(item, _NOT_READY_DELAY)
                except _SourceDown as err:
                    telemetry.fail(span, str(err), "SourceDown")
                    self.controller.book.record(
                        item[0], self.name, item[1], State.PENDING, str(err)
                    )
                    queue.add_after(item, _SOURCE_DOWN_DELAY)
                except asyncio.CancelledError:
                    raise
                except Exception as err:
                    telemetry.fail(span, str(err), type(err).__name__)
                    self.controller.failed(self, item, err)
                    queue.add_rate_limited(item)
                finally:
                    queue.done(item)


class SyncController:
    """The push controller over one hub: policies, members, one lane per target.

    ``target_factory`` builds each member's target (default: Push members get a
    :class:`PushTarget`, Pull members a ``PullTarget``); ``on_operation`` is
    called with every operation carried out, and with the error as a second
    argument when one failed.
    """

    def __init__(
        self,
        hub: Client,
        *,
        workers: int = 4,
        registry: CollectorRegistry | None = None,
        identity: str = "",
        target_factory: TargetFactory | None = None,
        on_operation: OperationHook | None = None,
        status_interval: float = 2.0,
        member_status_interval: float = MEMBER_STATUS_INTERVAL,
        conflict_recheck: float = CONFLICT_RECHECK,
    ) -> None:
        self.hub = hub
        self.workers = workers
        self.identity = identity
        self.metrics = SyncMetrics(registry)
        self.book = StatusBook()
        self.target_factory = target_factory or default_target
        self.on_operation = on_operation
        self.status_interval = status_interval
        self.member_status_interval = member_status_interval
        self.conflict_recheck = conflict_recheck
        self._hub_store = ClusterStore(hub, "hub")
        self._members: dict[str, Member] = {}
        self._member_objects: dict[str, Object] = {}
        self._lanes: dict[str, _Lane] = {}
        self._sources: dict[str, tuple[Member, ClusterStore]] = {}
        self._runs: dict[str, _PolicyRun] = {}
        self._dirty_policies: asyncio.Queue[str | None] = asyncio.Queue()
        self._health_changed: set[str] = set()
        self._health_wake = asyncio.Event()
        self._synced = False
        self._tasks: list[asyncio.Task[None]] = []

    # -- public ---------------------------------------------------------------------------

    def synced(self) -> bool:
        """Whether the hub's policies and members and every source have a complete list."""
        return (
            self._synced
            and self._hub_store.synced()
            and all(store.synced() for _, store in self._sources.values())
        )

    def snapshot(self) -> dict[str, Any]:
        """Every policy's per-target counts and readiness (``kubeops sync status``, tests)."""
        return self.book.snapshot()

    async def run(self, stop: asyncio.Event) -> None:
        """Sync until ``stop`` is set; then stop every informer, worker and target."""
        loop = asyncio.get_running_loop()
        members, _ = await self._hub_store.informer(GROUP, MEMBER_KIND)
        member_handler = members.add_handler(
            self._member_event, self._member_update, self._member_deleted
        )
        policies, _ = await self._hub_store.informer(GROUP, POLICY_KIND)
        policy_handler = policies.add_handler(
            self._policy_event, self._policy_update, self._policy_deleted
        )
        writer = StatusWriter(self.hub, self.book, interval=self.status_interval)
        self._tasks = [
            loop.create_task(self._policy_loop(), name="sync policies"),
            loop.create_task(writer.run(stop), name="sync status"),
            loop.create_task(self._member_health(stop), name="sync member health"),
            loop.create_task(self._housekeeping(), name="sync housekeeping"),
        ]

        async def hub_synced() -> None:
            await members.wait_for_sync(registration=member_handler)
            await policies.wait_for_sync(registration=policy_handler)
            self._synced = True

        self._tasks.append(loop.create_task(hub_synced(), name="sync hub synced"))
        try:
            await stop.wait()
        finally:
            self._dirty_policies.put_nowait(None)
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await asyncio.gather(*(lane.stop() for lane in self._lanes.values()))
            await self._hub_store.stop()
            for _, store in self._sources.values():
                await store.stop()
                await store.client.close()

    # -- hub events -----------------------------------------------------------------------

    def _member_event(self, obj: Object, _initial: bool = False) -> None:
        name = (obj.get("metadata") or {}).get("name")
        if not name:
            return
        self._member_objects[name] = obj
        self._all_policies_dirty()

    def _member_update(self, _old: Object, new: Object) -> None:
        old = self._member_objects.get((new.get("metadata") or {}).get("name", ""))
        if old is not None and _member_spec(old) == _member_spec(new):
            self._member_objects[new["metadata"]["name"]] = new
            return  # only its status changed (written by us, or an agent)
        self._member_event(new)

    def _member_deleted(self, obj: Object | DeletedFinalStateUnknown) -> None:
        key = object_key(obj, GROUP, MEMBER_KIND)
        if key is not None:
            self._member_objects.pop(key.name, None)
            self._all_policies_dirty()

    def _policy_event(self, obj: Object, _initial: bool = False) -> None:
        name = (obj.get("metadata") or {}).get("name")
        if name:
            self._dirty_policies.put_nowait(name)

    def _policy_update(self, old: Object, new: Object) -> None:
        if (old.get("metadata") or {}).get("generation") != (new.get("metadata") or {}).get(
            "generation"
        ):
            self._policy_event(new)

    def _policy_deleted(self, obj: Object | DeletedFinalStateUnknown) -> None:
        key = object_key(obj, GROUP, POLICY_KIND)
        if key is not None:
            self._dirty_policies.put_nowait(key.name)

    def _all_policies_dirty(self) -> None:
        self._dirty_policies.put_nowait("")  # "": every policy

    # -- policies -------------------------------------------------------------------------

    async def _policy_loop(self) -> None:
        while not self._synced:  # judge no policy on a partial view of the members
            await asyncio.sleep(0.05)
        while True:
            name = await self._dirty_policies.get()
            if name is None:
                return
            try:
                await self._sync_members()  # cheap; a policy is judged on the current members
                for policy in self._policy_names() if name == "" else (name,):
                    await self._sync_policy(policy)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("sync: applying policy %r failed", name or "(all)")

    def _policy_names(self) -> set[str]:
        names = {k.name for k in self._policy_keys()}
        return names | set(self._runs)

    def _policy_keys(self) -> list[ObjectKey]:
        found: list[ObjectKey] = []
        for informer in self._hub_store.informers(GROUP, POLICY_KIND):
            for obj in informer.store.list():
                key = object_key(obj, GROUP, POLICY_KIND)
                if key is not None:
                    found.append(key)
        return found

    async def _sync_members(self) -> None:
        current: dict[str, Member] = {}
        for name, obj in self._member_objects.items():
            try:
                current[name] = member_from_object(obj)
            except PolicyError as err:
                log.warning("sync: %s", err)
        for name in set(self._lanes) - set(current):
            await self._lanes.pop(name).stop()
        for name, member in current.items():
            found = self._lanes.get(name)
            if found is not None and found.member != member:
                await self._lanes.pop(name).stop()
        self._members = current

    async def _sync_policy(self, name: str) -> None:
        obj = self._hub_store.get(ObjectKey(GROUP, POLICY_KIND, "", name))
        old = self._runs.get(name)
        if obj is None:
            if old is not None:
                old.active = False
                del self._runs[name]
                self.metrics.forget_policy(name, list(old.targets), _ALL_STATES)
            self.book.drop_policy(name)
            return
        try:
            policy = policy_from_object(obj)
        except PolicyError as err:
            self._invalid(name, obj, str(err), old)
            return
        labels = {n: dict(m.labels) for n, m in self._members.items()}
        wanted = set(policy.target_clusters)
        missing = sorted(n for n in wanted | {policy.source_cluster} if n not in self._members)
        if missing:
            self._invalid(name, obj, f"no MemberCluster {', '.join(missing)}", old)
            return
        targets = policy.targets(labels)
        if (
            old is not None
            and old.policy == policy
            and old.targets == targets
            and all(t in self._lanes for t in targets)
        ):
            return
        try:
            source = await self._source(self._members[policy.source_cluster])
            lanes = [await self._lane(self._members[t]) for t in targets]
        except KubeopsError as err:
            self._invalid(name, obj, str(err), old)
            return
        if old is not None:
            old.active = False
        run = _PolicyRun(policy, source, targets)
        # Every selector from the start: a key is never judged on half the policy's kinds.
        run.selectors = [(r, _selector_text(r)) for r in policy.resources]
        self._runs[name] = run
        self.book.set_policy(
            name,
            generation=policy.generation,
            targets={lane.name: lane.member.mode.value for lane in lanes},
            paused=policy.paused,
            conditions=list((obj.get("status") or {}).get("conditions") or []),
        )
        for lane in lanes:
            for group, kind in {(r.group, r.kind) for r in policy.resources}:
                try:
                    await lane.target.watch_kind(group, kind)
                except KubeopsError as err:  # its reconciles ask again, or pause it
                    log.warning("sync: target %s: cannot watch %s yet: %s", lane.name, kind, err)
        try:
            for selector, text in run.selectors:
                informer, _ = await source.informer(selector.group, selector.kind, text)
                self._subscribe(run, selector, informer)
        except KubeopsError as err:
            # The source cannot say what it serves (it is down, or the kind is not there yet).
            run.active = False
            self._runs.pop(name, None)
            self.book.set_source_error(name, f"source {policy.source_cluster}: {err}")
            asyncio.get_running_loop().call_later(
                _POLICY_RETRY, self._dirty_policies.put_nowait, name
            )
            return
        asyncio.get_running_loop().create_task(self._enqueue_owned(run, lanes))

    def _invalid(self, name: str, obj: Object, reason: str, old: _PolicyRun | None) -> None:
        log.warning("sync: ClusterSyncPolicy %s: %s", name, reason)
        if old is not None:
            old.active = False
            self._runs.pop(name, None)
        self.book.set_policy(
            name,
            generation=int((obj.get("metadata") or {}).get("generation") or 0),
            targets={},
            valid=False,
            reason=reason,
            conditions=list((obj.get("status") or {}).get("conditions") or []),
        )

    def _subscribe(self, run: _PolicyRun, selector: ResourceSelector, informer: Any) -> None:
        """Source events of ``selector``'s kind reach every target of ``run`` while it is active."""
        group, kind = selector.group, selector.kind

        def enqueue(obj: Object | DeletedFinalStateUnknown, old: Object | None = None) -> None:
            if not run.active:
                return
            if (
                not isinstance(obj, DeletedFinalStateUnknown)
                and not selector.matches(obj)
                and (old is None or not selector.matches(old))
            ):
                return
            key = object_key(obj, group, kind)
            if key is None:
                return
            now = time.monotonic()
            with telemetry.span(
                "sync.event", _item_attributes(run.policy.source_cluster, (run.policy.name, key))
            ):
                for target in run.targets:
                    lane = self._lanes.get(target)
                    if lane is not None:
                        lane.add((run.policy.name, key), now)

        def added(obj: Object, _initial: bool) -> None:
            enqueue(obj)

        def updated(old: Object, new: Object) -> None:
            if (old.get("metadata") or {}).get("resourceVersion") != (
                new.get("metadata") or {}
            ).get("resourceVersion"):
                enqueue(new, old)

        informer.add_handler(added, updated, enqueue)

    async def _enqueue_owned(self, run: _PolicyRun, lanes: list[_Lane]) -> None:
        """Every object the policy owns on each target, once its store synced (orphans are pruned
        after the source confirms their absence)."""

        async def one(lane: _Lane) -> None:
            while run.active and not lane.target.synced():
                await asyncio.sleep(0.1)
            if run.active:
                for key in lane.target.owned(run.policy.name):
                    lane.add((run.policy.name, key))

        await asyncio.gather(*(one(lane) for lane in lanes), return_exceptions=True)

    async def _source(self, member: Member) -> ClusterStore:
        found = self._sources.get(member.name)
        if found is not None and found[0] == member:
            return found[1]
        if found is not None:
            await found[1].stop()
            await found[1].client.close()
        client = await member_api.connect(self.hub, member)
        # A source that returns must be relisted in seconds: its deletions wait on that relist.
        client.transport.breaker.cooldown = SOURCE_BREAKER_COOLDOWN
        store = ClusterStore(client, member.name)
        self._sources[member.name] = (member, store)
        return store

    async def _lane(self, member: Member) -> _Lane:
        lane = self._lanes.get(member.name)
        if lane is not None:
            return lane
        target = await self.target_factory(self.hub, member)
        lane = _Lane(self, member, target, self.workers)
        self._lanes[member.name] = lane
        await lane.start()
        return lane

    # -- target events --------------------------------------------------------------------

    def target_changed(self, lane: _Lane, policy: str, key: ObjectKey) -> None:
        """A target's object changed by someone else: reconcile it for the policies syncing it."""
        names = [policy] if policy else list(self._runs)
        for name in names:
            run = self._runs.get(name)
            if run is None or lane.name not in run.targets:
                continue
            if policy or (key.group, key.kind) in run.kinds():
                lane.add((name, key))

    # -- the work -------------------------------------------------------------------------

    async def process(self, lane: _Lane, item: Item) -> None:
        """Reconcile one key of one policy on one target (see the module's docstring)."""
        name, key = item
        run = self._runs.get(name)
        if run is None or not run.active or lane.name not in run.targets:
            lane.seen.pop(item, None)
            return  # the policy is gone or no longer targets this member: stop its work
        policy = run.policy
        if policy.paused:
            lane.seen.pop(item, None)
            return
        # A kind the policy no longer selects at all: its objects left the selector (the
        # policy says so; no list is involved).
        selected = (key.group, key.kind) in run.kinds()
        if selected and not run.synced(key):
            raise _NotReady(f"the source store of {key.kind} has not synced")
        if not lane.target.synced():
            if not await lane.target.probe():
                raise TargetDown(f"target {lane.name} does not answer")
            raise _NotReady(f"the store of target {lane.name} has not synced")
        source = run.lookup(key) if selected else None
        if source is None and selected:
            source = await self._confirm_gone(run, key)
        try:
            desired = (
                desired_object(source, policy, lane.name, lane.member.labels, policy.source_cluster)
                if source is not None
                else None
            )
        except PolicyError as err:
            self.failed(lane, item, err)
            return
        op = await lane.target.reconcile(policy, key, desired)
        self._done(lane, item, op, desired is None)

    async def _confirm_gone(self, run: _PolicyRun, key: ObjectKey) -> dict[str, Any] | None:
        """The source's current object when it is still selected, None once its absence is
        confirmed by a 404 (or it no longer matches); any other answer defers the key."""
        try:
            found = await run.source.client.get(
                kind_name(key.group, key.kind), key.name, key.namespace or None
            )
        except NotFound:
            return None
        except KubeopsError as err:
            raise _SourceDown(
                f"{key}: not in source {run.policy.source_cluster}'s store, and the source "
                f"cannot confirm it is gone: {err}"
            ) from err
        current = store_transform(found)
        return current if run.selects(current, key) else None

    def _done(self, lane: _Lane, item: Item, op: Operation, gone: bool) -> None:
        name, key = item
        if op.writes:
            self.metrics.operation(name, lane.name, op.action.value, "success")
            seen = lane.seen.pop(item, None)
            if seen is not None:
                self.metrics.propagated(lane.name, time.monotonic() - seen)
        else:
            lane.seen.pop(item, None)
        if op.state is State.CONFLICT:
            # The foreign object holding the name is not in the target's store (it holds
            # only what the sync owns), so nothing reports it gone: look again later.
            lane.queue.add_after(item, self.conflict_recheck)
        if gone and (op.action in (Action.DELETE, Action.ORPHAN) or op.action is Action.NONE):
            self.book.forget(name, lane.name, key)
        else:
            problem = op.state in (State.CONFLICT, State.DRIFTED, State.FAILED)
            self.book.record(
                name, lane.name, key, op.state, f"{key}: {op.reason}" if problem else ""
            )
        if self.on_operation is not None:
            self.on_operation(op)

    def failed(self, lane: _Lane, item: Item, err: BaseException) -> None:
        """Record a failed key: state Failed, the error as the target's last error."""
        name, key = item
        message = f"{key}: {err}"
        log.warning("sync %s -> %s: %s", name, lane.name, message)
        self.book.record(name, lane.name, key, State.FAILED, message)
        self.metrics.operation(name, lane.name, "unknown", "error")
        if self.on_operation is not None:
            op = Operation(name, lane.name, key, Action.NONE, str(err), State.FAILED)
            self.on_operation(op, err)

    async def _housekeeping(self) -> None:
        """Every second: each source's state into its policies' status while it lasts --
        unreachable (probed directly, so an outage shows in seconds rather than once the
        informers' retries run out) or its list/watch errors -- and the gauges (objects by
        state, queue depths), not on every operation."""
        while True:
            await asyncio.sleep(PROBE_INTERVAL)
            down = await self._unreachable_sources()
            for lane in list(self._lanes.values()):
                self.metrics.set_depth(lane.name, len(lane.queue))
            for name, run in list(self._runs.items()):
                for target in run.targets:
                    counts = _states(self.book.counts(name, target))
                    self.metrics.set_objects(name, target, counts)
                errors = {
                    str(informer.last_error)
                    for group, kind in run.kinds()
                    for informer in run.source.informers(group, kind)
                    if informer.last_error is not None
                }
                if run.policy.source_cluster in down:
                    errors.add(f"unreachable: {down[run.policy.source_cluster]}")
                message = "; ".join(sorted(errors))
                where = f"source {run.policy.source_cluster}: " if message else ""
                self.book.set_source_error(name, where + message)

    async def _unreachable_sources(self) -> dict[str, str]:
        """Each source that does not answer one probe now, with why."""
        sources = [(name, store.client) for name, (_, store) in self._sources.items()]
        answers = await asyncio.gather(
            *(member_api.probe(client, timeout=SOURCE_PROBE_TIMEOUT) for _, client in sources),
            return_exceptions=True,
        )
        down: dict[str, str] = {}
        for (name, _), answer in zip(sources, answers, strict=True):
            if isinstance(answer, BaseException):
                down[name] = str(answer) or type(answer).__name__
            elif not answer[0]:
                down[name] = answer[1]
        return down

    # -- member health --------------------------------------------------------------------

    def member_changed_health(self, name: str) -> None:
        """A lane went down or came back: write that member's status soon."""
        self._health_changed.add(name)
        self._health_wake.set()

    async def _member_health(self, stop: asyncio.Event) -> None:
        last_all = 0.0
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._health_wake.wait(), self.member_status_interval)
            self._health_wake.clear()
            now = time.monotonic()
            names = set(self._health_changed)
            self._health_changed.clear()
            if now - last_all >= self.member_status_interval:
                names |= set(self._members)
                last_all = now
            for name in sorted(names):
                await self._write_member_health(name)

    async def _write_member_health(self, name: str) -> None:
        member = self._members.get(name)
        if member is None:
            return
        lane = self._lanes.get(name)
        try:
            version = ""
            if lane is not None and isinstance(lane.target, PushTarget):
                ready, message = await lane.target.health()
                version, message = (message, "/readyz ok") if ready else ("", message)
            elif lane is not None:
                ready = await lane.target.probe()
                message = "agent heartbeat is fresh" if ready else "no fresh agent heartbeat"
            elif name in self._sources:
                ready, message = await member_api.probe(self._sources[name][1].client)
                version, message = (message, "/readyz ok") if ready else ("", message)
            else:
                return
            await member_api.update_member_status(self.hub, name, ready, message, version)
        except asyncio.CancelledError:
            raise
        except Exception as err:
            log.warning("sync: MemberCluster %s: writing its status failed: %s", name, err)


def _selector_text(selector: ResourceSelector) -> str | None:
    """The label selector the source informer lists with (None: every object of the kind)."""
    return None if selector.selector.selects_everything else str(selector.selector)


def _member_spec(obj: Object) -> tuple[Any, Any]:
    return obj.get("spec"), (obj.get("metadata") or {}).get("labels")


def _states(counts: Mapping[str, int]) -> dict[str, int]:
    """The book's counts by the metric's state label."""
    names = {
        "inSync": State.IN_SYNC,
        "drifted": State.DRIFTED,
        "conflicts": State.CONFLICT,
        "failed": State.FAILED,
        "pending": State.PENDING,
    }
    return {names[k].value: v for k, v in counts.items() if k in names}


def _item_attributes(cluster: str, item: Item) -> telemetry.Attributes | None:
    """A queued key's span attributes: the cluster, the policy and the object."""
    if not telemetry.tracing_enabled():
        return None
    policy, key = item
    attributes: telemetry.Attributes = {
        "kubeops.cluster": cluster,
        "kubeops.sync.policy": policy,
        "kubeops.kind": key.kind,
        "kubeops.name": key.name,
    }
    if key.namespace:
        attributes["k8s.namespace.name"] = key.namespace
    return attributes
