"""The machinery of the informer soaks: writers that keep a record of what the server
holds, handlers that record what they were told, and the object-by-object checks.

Shared by the integration soak (tests/integration/cache/test_informer_faults.py, a
fixed schedule of faults) and the fault soak (tests/soak, rounds of random faults).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kubeops.api import Client
from kubeops.cache import (
    DeletedFinalStateUnknown,
    SharedInformer,
    deletion_handling_key,
    object_key,
)
from kubeops.config import ClusterConfig
from kubeops.errors import (
    AlreadyExists,
    ConnectionFailed,
    InternalError,
    NotFound,
    ServerTimeout,
    TooManyRequests,
)
from kubeops.testenv import async_eventually
from kubeops.transport.breaker import CircuitBreaker

Obj = dict[str, Any]

# Errors a write may meet while the API server goes away and comes back.
TRANSIENT = (ConnectionFailed, InternalError, ServerTimeout, TooManyRequests)


def cm(name: str, data: dict[str, str] | None = None) -> Obj:
    """A ConfigMap manifest."""
    obj: Obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}
    if data is not None:
        obj["data"] = data
    return obj


def state(obj: Obj) -> Obj:
    """What the comparison looks at: metadata (managedFields dropped, as the informer
    drops them) and the payload."""
    metadata = {k: v for k, v in obj["metadata"].items() if k != "managedFields"}
    return {"metadata": metadata, "data": obj.get("data"), "binaryData": obj.get("binaryData")}


def rv(obj: Obj) -> int:
    """The resourceVersion as a number: in testenv it is an etcd revision, which only grows."""
    return int(obj["metadata"]["resourceVersion"])


def uid(obj: Obj) -> str:
    """The object's uid: tells a recreated object from the one deleted before it."""
    return str(obj["metadata"]["uid"])


def soak_clients(config: ClusterConfig, writers: int) -> tuple[Client, Client]:
    """A writer client and an informer client with shorter waits than the defaults, so
    that many faults fit in a test's budget: the writers have no rate limit, and both
    breakers let a probe through to a restarted server after a second, not ten.  The
    code paths are the same; only the sleeps are shorter."""
    writer_client = Client(
        config, qps=-1, pool_size=writers * 2, breaker=CircuitBreaker(config.server, cooldown=0.5)
    )
    informer_client = Client(config, breaker=CircuitBreaker(config.server, cooldown=1.0))
    return writer_client, informer_client


@dataclass
class Recorder:
    """A prompt handler keeping the last event per key, and every inconsistency it can
    see on its own: an update whose old object is not the one delivered before, a state
    older than one already delivered, a second add, a delete of something never added,
    a resync it did not ask for."""

    name: str
    resync: bool = False
    last: dict[str, tuple[str, Obj | DeletedFinalStateUnknown]] = field(default_factory=dict)
    delivered: dict[str, Obj] = field(default_factory=dict)  # newest object delivered, per key
    events: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def on_add(self, obj: Obj, _initial: bool) -> None:
        """An add: must be the first for this key since its last delete."""
        self._arrived("add", obj)

    def on_update(self, old: Obj, new: Obj) -> None:
        """An update (or a resync): ``old`` must be what was delivered before."""
        key = object_key(new)
        if state(old) != state(self.delivered.get(key, old)):
            self._problem(key, "the old object of an update is not the one delivered before")
        if rv(old) == rv(new):
            self.events["resync"] += 1
            if not self.resync:
                self._problem(key, "a resync reached a handler that asked for none")
            elif state(old) != state(new):
                self._problem(key, "a resync changed the object")
            self.last[key] = ("update", new)
            return
        self._arrived("update", new)

    def on_delete(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        """A delete: of something delivered, carrying its last delivered state or newer."""
        key = deletion_handling_key(obj)
        self.events["delete"] += 1
        before = self.delivered.pop(key, None)
        if before is None:
            self._problem(key, "deleted, never added")
        elif isinstance(obj, DeletedFinalStateUnknown):
            self.events["tombstone"] += 1
            if obj.obj is None or state(obj.obj) != state(before):
                self._problem(key, "the tombstone does not carry the last object delivered")
        elif uid(obj) != uid(before) or rv(obj) < rv(before):
            self._problem(key, "the delete carries an older object than delivered")
        self.last[key] = ("delete", obj)

    def _arrived(self, kind: str, obj: Obj) -> None:
        key = object_key(obj)
        self.events[kind] += 1
        before = self.delivered.get(key)
        if kind == "add" and before is not None:
            self._problem(key, "added twice without a delete between")
        if before is not None and rv(obj) <= rv(before):
            self._problem(key, f"{kind} goes back from resourceVersion {rv(before)} to {rv(obj)}")
        self.delivered[key] = obj
        self.last[key] = (kind, obj)

    def _problem(self, key: str, what: str) -> None:
        self.problems.append(f"[{self.name}] {key}: {what}")


@dataclass
class Soak:
    """One run's writers and their record of what the server holds."""

    client: Client
    prefix: str
    objects: int
    rng: random.Random
    plans: dict[str, list[str]] = field(default_factory=dict)
    current: dict[str, Obj | None] = field(default_factory=dict)  # None: deleted
    before_delete: dict[str, Obj] = field(default_factory=dict)  # last state before the delete
    writes: int = 0
    retries: int = 0
    readbacks: int = 0
    replayed: int = 0  # deletes answered 404 by the transport's own replay
    errors: Counter[str] = field(default_factory=Counter)

    def plan(self) -> int:
        """Each object is created and updated 2-4 times; a third are then deleted, and a
        third of those created again and updated.  Returns the number of writes planned."""
        for i in range(self.objects):
            ops = ["create"] + ["update"] * self.rng.randint(2, 4)
            if self.rng.random() < 0.35:
                ops.append("delete")
                if self.rng.random() < 0.3:
                    ops += ["create", "update"]
            self.plans[f"{self.prefix}-{i:05d}"] = ops
        return sum(len(ops) for ops in self.plans.values())

    def adopt(self, survivors: Iterable[Obj]) -> int:
        """Plan an update and a delete of objects an earlier run left, so that a long soak
        keeps its population bounded and deletes old objects under faults too.  Returns
        the number of writes planned."""
        planned = 0
        for obj in survivors:
            name = obj["metadata"]["name"]
            self.current[name] = obj
            self.plans[name] = ["update", "delete"]
            planned += 2
        return planned

    def survivors(self) -> list[Obj]:
        """The objects this run leaves on the server, as last written."""
        return [obj for obj in self.current.values() if obj is not None]

    async def writer(self, names: list[str]) -> None:
        """Carry out the plans of ``names``, in a random interleaving."""
        # A random object with work left each time, so that an object's life spans the
        # run and its faults instead of a few milliseconds.
        pending = {name: list(self.plans[name]) for name in names}
        version: Counter[str] = Counter()
        while pending:
            name = self.rng.choice(list(pending))
            op = pending[name].pop(0)
            if not pending[name]:
                del pending[name]
            version[name] += 1
            data = {"v": str(version[name]), "payload": "x" * self.rng.randint(0, 300)}
            await self.write(op, name, data)
            self.writes += 1

    async def write(self, op: str, name: str, data: dict[str, str]) -> None:
        """One write, retried until the server answers; its outcome goes on the record."""
        uncertain = False  # an earlier attempt may have reached the server
        while True:
            try:
                if op == "create":
                    self.current[name] = await self.client.create(cm(name, data))
                elif op == "update":
                    # A merge patch is idempotent: replaying one that did apply changes nothing.
                    self.current[name] = await self.client.patch("cm", name, {"data": data})
                else:
                    last = self.current[name]
                    assert last is not None
                    await self.client.delete("cm", name)
                    self.before_delete[name] = last
                    self.current[name] = None
                return
            except AlreadyExists:
                if op != "create" or not uncertain:
                    raise
                # The lost attempt did create it: take the server's word for what it holds.
                self.readbacks += 1
                obj = await self.read_back(name)
                assert obj is not None
                assert obj["data"] == data, f"{name} is not the object we created"
                self.current[name] = obj
                return
            except NotFound:
                if op != "delete":
                    raise
                # Only this writer deletes it, so the delete did apply: an earlier attempt
                # of ours, or the transport's replay of a DELETE whose answer was lost
                # (documented in kubeops.transport.backoff: a replayed DELETE answers 404).
                if not uncertain:
                    self.replayed += 1
                last = self.current[name]
                assert last is not None
                self.before_delete[name] = last
                self.current[name] = None
                return
            except TRANSIENT as err:
                self.errors[type(err).__name__] += 1
                self.retries += 1
                uncertain = True
                await asyncio.sleep(self.rng.uniform(0.05, 0.3))

    async def read_back(self, name: str) -> Obj | None:
        """The object as the server holds it, retried through faults."""
        while True:
            try:
                return await self.client.get("cm", name)
            except NotFound:
                return None
            except TRANSIENT as err:
                self.errors[type(err).__name__] += 1
                await asyncio.sleep(0.2)

    async def fresh_list(self) -> dict[str, Obj]:
        """A consistent LIST, by key."""
        while True:
            try:
                listed = await self.client.list("configmaps", resource_version="")
            except TRANSIENT:
                await asyncio.sleep(0.2)
                continue
            return {object_key(item): item for item in listed["items"]}


def store_differences(informer: SharedInformer, listed: dict[str, Obj]) -> list[str]:
    """Each object where the informer's store and a fresh LIST disagree."""
    found = []
    stored = {key: informer.store.get_by_key(key) for key in informer.store.list_keys()}
    for key in sorted(stored.keys() - listed.keys()):
        found.append(f"[store] {key}: in the store, not on the server")
    for key in sorted(listed.keys() - stored.keys()):
        found.append(f"[store] {key}: on the server, not in the store")
    for key in sorted(stored.keys() & listed.keys()):
        obj = stored[key]
        assert obj is not None
        if state(obj) != state(listed[key]):
            found.append(
                f"[store] {key}: resourceVersion {rv(obj)} in the store, {rv(listed[key])} on the server"
            )
    return found


def writer_differences(soak: Soak, listed: dict[str, Obj]) -> list[str]:
    """The writers' record against the server: the test's own bookkeeping."""
    found = []
    for name, obj in soak.current.items():
        key = f"{soak.client.namespace}/{name}"
        if obj is None and key in listed:
            found.append(f"[writers] {key}: deleted, still on the server")
        elif obj is not None and (key not in listed or state(obj) != state(listed[key])):
            found.append(f"[writers] {key}: the record differs from the server")
    return found


def last_event_differences(
    recorder: Recorder, informer: SharedInformer, listed: dict[str, Obj], soak: Soak
) -> tuple[list[str], int, int]:
    """Mismatches between each object's last event and its final state; also the number
    of stale tombstones and of deleted objects never seen."""
    found: list[str] = []
    stale = unseen = 0
    for key, obj in listed.items():
        kind, last = recorder.last.get(key, ("no event", {}))
        if kind not in ("add", "update"):
            found.append(f"[{recorder.name}] {key}: exists, but the last event was {kind}")
        elif isinstance(last, dict) and state(last) != state(obj):
            found.append(
                f"[{recorder.name}] {key}: the last event has resourceVersion {rv(last)}, "
                f"the server {rv(obj)}"
            )
    for name, final in soak.before_delete.items():
        key = f"{soak.client.namespace}/{name}"
        if soak.current[name] is not None:
            continue  # deleted, then created again
        if key not in recorder.last:
            unseen += 1  # created and deleted while the watch was down (or before this handler)
            continue
        kind, last = recorder.last[key]
        if kind != "delete" or key in informer.store:
            found.append(f"[{recorder.name}] {key}: deleted, but the last event was {kind}")
        elif isinstance(last, DeletedFinalStateUnknown):
            # A deletion seen only as an absence from a relist carries the last state the
            # informer knew; that is older when the final update was missed as well.
            if last.obj is None or uid(last.obj) != uid(final):
                found.append(f"[{recorder.name}] {key}: a tombstone of another object")
            elif last.obj.get("data") != final.get("data"):
                stale += 1
        elif uid(last) != uid(final) or last.get("data") != final.get("data"):
            found.append(f"[{recorder.name}] {key}: the delete does not carry the final state")
    return found, stale, unseen


async def await_quiescence(
    informer: SharedInformer, queues: Iterable[Any], soak: Soak, timeout: float
) -> None:
    """Wait until the store equals a fresh LIST and no handler has anything left; on a
    timeout, return anyway: the comparisons that follow say what is missing."""
    waiting = list(queues)

    async def quiescent() -> bool:
        listed = await soak.fresh_list()
        idle = len(informer.fifo) == 0 and all(q.queue.empty() for q in waiting)
        return idle and not store_differences(informer, listed)

    with contextlib.suppress(AssertionError):
        await async_eventually(quiescent, timeout=timeout, interval=0.5, message="quiescence")
