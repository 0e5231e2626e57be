"""The queue between a reflector and an informer's store (client-go's ``DeltaFIFO``).

A reflector turns lists and watch events into changes faster than handlers
may process them.  The FIFO keeps, per object key, the ordered changes
(*deltas*) not yet processed, and hands out one key at a time, oldest first,
with all of its deltas -- so a consumer sees every change of an object in
order, and a busy object does not starve the others.  A relist
(:meth:`DeltaFIFO.replace`) also detects deletions the watch missed, by
comparing the new list with what the store (the *known objects*) holds.

It follows client-go's DeltaFIFO rule by rule, with three deliberate changes:

* ``replace`` emits ``Replaced`` deltas by default (client-go's
  ``EmitDeltaTypeReplaced``, which every informer sets); ``emit_replaced=False``
  gives the old ``Sync``.
* :meth:`DeltaFIFO.has_synced` turns true only once the last item of the first
  list has been *processed*; client-go counts it as soon as it is popped.
* ``process`` may raise :class:`Requeue` to put its deltas back (client-go
  removed ``ErrRequeue`` in v0.33); an item being requeued keeps the FIFO
  unsynced.

All state is guarded by one ``threading.RLock`` and no method awaits while
holding it, so producers may run in any thread; :meth:`DeltaFIFO.pop` is a
coroutine that waits for work in its event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from typing import NamedTuple, Protocol

from kubeops.api import Object
from kubeops.cache.keys import (
    DeletedFinalStateUnknown,
    KeyFunc,
    deletion_handling_key,
)

__all__ = [
    "Delta",
    "DeltaFIFO",
    "DeltaType",
    "Deltas",
    "FIFOClosed",
    "KeyedPopProcess",
    "KnownObjects",
    "PopProcess",
    "Requeue",
    "TransformFunc",
    "strip_managed_fields",
]


class DeltaType(StrEnum):
    """What happened to an object."""

    ADDED = "Added"
    UPDATED = "Updated"
    DELETED = "Deleted"
    REPLACED = "Replaced"
    """Seen in a relist (the object may or may not have changed)."""
    SYNC = "Sync"
    """A periodic resync: the object as the store holds it, unchanged."""


class Delta(NamedTuple):
    """One change: its type and the object after it (a tombstone for a missed deletion).

    A named tuple, not a dataclass: one is made per object of every list, and a
    tuple is the cheapest immutable record to make.
    """

    type: DeltaType
    object: Object | DeletedFinalStateUnknown


Deltas = list[Delta]
"""An object's changes, oldest first."""

TransformFunc = Callable[[Object], Object]
PopProcess = Callable[[Deltas, bool], None]
"""Called with an object's deltas and whether they belong to the first list."""
KeyedPopProcess = Callable[[str, Deltas, bool], None]
"""A :data:`PopProcess` also given the object's key (:meth:`DeltaFIFO.pop_batch`)."""
# A coroutine waiting in pop(): its loop and the future an add or close resolves.
_Waiter = tuple[asyncio.AbstractEventLoop, "asyncio.Future[None]"]


class KnownObjects(Protocol):
    """What the FIFO needs of the store behind it: which objects it holds."""

    def list_keys(self) -> list[str]:
        """The key of every object held."""

    def get_by_key(self, key: str) -> Object | None:
        """The object under ``key``, or None."""


class FIFOClosed(Exception):
    """The FIFO was closed and holds no more items: the consumer should stop."""


class Requeue(Exception):
    """Raised by a ``process`` function to have its deltas queued again, at the back."""


def strip_managed_fields(obj: Object) -> Object:
    """A transform that drops ``metadata.managedFields``, often half of an object's size.

    Returns a shallow copy; the object passed in is not changed.
    """
    metadata = obj.get("metadata")
    if type(metadata) is not dict and not isinstance(metadata, Mapping):
        return obj
    if "managedFields" not in metadata:
        return obj
    return {
        **obj,
        "metadata": {k: v for k, v in metadata.items() if k != "managedFields"},
    }


def _newest_object(deltas: Deltas) -> Object | None:
    newest = deltas[-1].object
    return newest.obj if isinstance(newest, DeletedFinalStateUnknown) else newest


def _dedup_deletes(deltas: Deltas) -> None:
    # Two deletions in a row say the same thing; keep the one that knows more:
    # the older, unless it is only a tombstone.
    if len(deltas) < 2:
        return
    newer, older = deltas[-1], deltas[-2]
    if newer.type is DeltaType.DELETED and older.type is DeltaType.DELETED:
        if isinstance(older.object, DeletedFinalStateUnknown):
            deltas[-2] = newer
        del deltas[-1]


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class DeltaFIFO:
    """Per-key ordered deltas, handed out oldest key first.

    ``known_objects`` is the store the consumer keeps (the informer's indexer):
    deletions are only queued for objects it or the queue knows, and relists
    and resyncs compare against it.  ``transform`` is applied to each object
    when it is queued, except to tombstones and resync deltas (which come from
    the store, already transformed); it should be idempotent.
    """

    def __init__(
        self,
        *,
        known_objects: KnownObjects | None = None,
        key_func: KeyFunc = deletion_handling_key,
        transform: TransformFunc | None = None,
        emit_replaced: bool = True,
    ) -> None:
        self._lock = threading.RLock()
        self._known = known_objects
        self._key_func = key_func
        self._transform = transform
        self._emit_replaced = emit_replaced
        self._items: dict[str, Deltas] = {}
        self._queue: deque[str] = deque()
        self._populated = False
        # Keys of the first list (and of the deletions it implied) not yet processed.
        self._initial: set[str] = set()
        self._closed = False
        self._waiters: list[_Waiter] = []

    # --- producers ---------------------------------------------------------------------------

    def add(self, obj: Object) -> None:
        """Queue an ``Added`` delta."""
        self._queue_one(DeltaType.ADDED, obj)

    def update(self, obj: Object) -> None:
        """Queue an ``Updated`` delta."""
        self._queue_one(DeltaType.UPDATED, obj)

    def delete(self, obj: Object | DeletedFinalStateUnknown) -> None:
        """Queue a ``Deleted`` delta, unless neither the queue nor the known objects know the key.

        An object nobody has seen needs no deletion.
        """
        key = self._key_func(obj)
        with self._lock:
            known = self._known.get_by_key(key) is not None if self._known is not None else False
            ignored = not known and key not in self._items
            transformed = obj if ignored else self._transformed(obj)
            self._populated = True
            if ignored:
                return
            self._append(key, DeltaType.DELETED, transformed)
            self._notify()

    def replace(self, objects: Iterable[Object], resource_version: str = "") -> None:
        """Take a full list: queue each object, and a deletion for each known one not in it.

        Each object gets a ``Replaced`` delta (``Sync`` if ``emit_replaced`` is
        false).  A key queued here but absent from the list gets a
        ``Deleted(DeletedFinalStateUnknown)`` carrying its newest queued
        object; a key only the known objects hold gets one carrying the known
        object.  ``resource_version`` is the list's; the FIFO does not need it.
        """
        del resource_version
        kind = DeltaType.REPLACED if self._emit_replaced else DeltaType.SYNC
        # Keys and transforms first, so a failure leaves the queue untouched.
        # Two lists, not a list of (key, object) pairs: a pair per object would be
        # 10,000 more container allocations per 10,000 objects for the garbage collector
        # to count, and each of its young collections walks the whole decoded list.
        key_func, transform = self._key_func, self._transform
        listed = objects if isinstance(objects, list) else list(objects)
        listed_keys = [key_func(obj) for obj in listed]
        if transform is not None:
            listed = [transform(obj) for obj in listed]
        with self._lock:
            keys = set(listed_keys)
            items, queue = self._items, self._queue
            for key, obj in zip(listed_keys, listed, strict=True):
                deltas = items.get(key)
                if deltas is None:
                    items[key] = [Delta(kind, obj)]
                    queue.append(key)
                else:
                    self._append(key, kind, obj)
            del listed, listed_keys
            deleted: list[str] = []
            for key in list(self._queue):
                if key not in keys:
                    newest = _newest_object(self._items[key])
                    self._append(key, DeltaType.DELETED, DeletedFinalStateUnknown(key, newest))
                    deleted.append(key)
            if self._known is not None:
                for key in self._known.list_keys():
                    if key in keys or key in self._items:
                        continue
                    known = self._known.get_by_key(key)
                    self._append(key, DeltaType.DELETED, DeletedFinalStateUnknown(key, known))
                    deleted.append(key)
            if not self._populated:
                self._populated = True
                self._initial = keys.union(deleted)
            self._notify()

    def resync(self) -> None:
        """Queue a ``Sync`` delta, with the stored object, for each known key with nothing queued.

        A key with deltas queued is skipped: its stored object is older than
        what is queued, and a sync must not overtake the change.
        """
        if self._known is None:
            return
        with self._lock:
            queued = False
            for key in self._known.list_keys():
                if key in self._items:
                    continue
                obj = self._known.get_by_key(key)
                if obj is None:
                    continue
                self._append(key, DeltaType.SYNC, obj)
                queued = True
            if queued:
                self._notify()

    def close(self) -> None:
        """Stop: once the queued items are popped, :meth:`pop` raises :class:`FIFOClosed`."""
        with self._lock:
            self._closed = True
            self._notify()

    # --- consumer ----------------------------------------------------------------------------

    async def pop(self, process: PopProcess) -> Deltas:
        """Wait for the oldest key, remove it, and call ``process(deltas, is_in_initial_list)``.

        ``process`` runs under the FIFO's lock, so a relist or resync never
        interleaves with the store update it makes; it must not block.  If it
        raises :class:`Requeue` the deltas go back at the end of the queue;
        any other exception propagates and the deltas are dropped, as in
        client-go.  Returns the deltas.  Raises :class:`FIFOClosed` once the
        FIFO is closed and empty.
        """
        loop = asyncio.get_running_loop()
        while True:
            with self._lock:
                if self._queue:
                    return self._pop_locked(lambda _key, deltas, initial: process(deltas, initial))
                entry = self._waiter_locked(loop)
            await self._wait(entry)

    async def pop_batch(self, process: KeyedPopProcess, limit: int = 100) -> int:
        """Like :meth:`pop`, for up to ``limit`` keys in a row without awaiting between them.

        Each key is handed to ``process(key, deltas, is_in_initial_list)`` exactly as
        :meth:`pop` would (under the lock, oldest first); only the wait for work, and the
        return to the event loop, is once per batch.  A :class:`Requeue` ends the batch.
        An exception other than Requeue drops that key's deltas and propagates after
        the keys before it were processed.  Returns how many keys were processed.
        """
        loop = asyncio.get_running_loop()
        while True:
            with self._lock:
                queue = self._queue
                if queue:
                    items, initial_keys = self._items, self._initial
                    done = 0
                    while queue and done < limit:
                        done += 1
                        # _pop_locked, inlined: this runs once per object of every list.
                        key = queue.popleft()
                        deltas = items.pop(key)
                        initial = key in initial_keys
                        try:
                            process(key, deltas, initial)
                        except Requeue:
                            # Back to the event loop before it comes round again.
                            self._requeue(key, deltas)
                            return done
                        except BaseException:
                            initial_keys.discard(key)
                            raise
                        if initial:
                            initial_keys.discard(key)
                    return done
                entry = self._waiter_locked(loop)
            await self._wait(entry)

    def _waiter_locked(self, loop: asyncio.AbstractEventLoop) -> _Waiter:
        """A waiter woken by the next add or close (FIFOClosed if closed already)."""
        if self._closed:
            raise FIFOClosed("the delta FIFO is closed")
        entry: _Waiter = (loop, loop.create_future())
        self._waiters.append(entry)
        return entry

    async def _wait(self, entry: _Waiter) -> None:
        try:
            await entry[1]
        finally:
            with self._lock:
                if entry in self._waiters:
                    self._waiters.remove(entry)

    def has_synced(self) -> bool:
        """Whether the first list has been processed in full (deletions included).

        True at once if an add, update or delete came before any list.  Unlike
        client-go, the last item counts only once ``process`` has returned for it.
        """
        with self._lock:
            return self._populated and not self._initial

    # --- inspection --------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """:meth:`close` was called: pops raise :class:`FIFOClosed` once it is drained."""
        with self._lock:
            return self._closed

    def list_keys(self) -> list[str]:
        """The queued keys, oldest first."""
        with self._lock:
            return list(self._queue)

    def get_by_key(self, key: str) -> Deltas | None:
        """A copy of the deltas queued for ``key``, or None."""
        with self._lock:
            deltas = self._items.get(key)
            return list(deltas) if deltas is not None else None

    def __len__(self) -> int:
        with self._lock:
            return len(self._queue)

    def __repr__(self) -> str:
        with self._lock:
            state = "closed" if self._closed else "open"
            return f"<DeltaFIFO {len(self._queue)} keys, {state}>"

    # --- internals ---------------------------------------------------------------------------

    def _transformed(
        self, obj: Object | DeletedFinalStateUnknown
    ) -> Object | DeletedFinalStateUnknown:
        if self._transform is None or isinstance(obj, DeletedFinalStateUnknown):
            return obj
        return self._transform(obj)

    def _queue_one(self, kind: DeltaType, obj: Object) -> None:
        key = self._key_func(obj)
        transformed = self._transformed(obj)
        with self._lock:
            self._populated = True
            self._append(key, kind, transformed)
            self._notify()

    def _append(self, key: str, kind: DeltaType, obj: Object | DeletedFinalStateUnknown) -> None:
        deltas = self._items.get(key)
        if deltas is None:
            self._items[key] = [Delta(kind, obj)]
            self._queue.append(key)
            return
        deltas.append(Delta(kind, obj))
        _dedup_deletes(deltas)

    def _pop_locked(self, process: KeyedPopProcess) -> Deltas:
        key = self._queue.popleft()
        deltas = self._items.pop(key)
        initial = key in self._initial
        requeued = False
        try:
            process(key, deltas, initial)
        except Requeue:
            self._requeue(key, deltas)
            requeued = True
        finally:
            # A requeued initial item is still unprocessed and keeps the FIFO unsynced;
            # one that failed otherwise was handled, if badly, and counts as done.
            if not requeued:
                self._initial.discard(key)
        return deltas

    def _requeue(self, key: str, deltas: Deltas) -> None:
        pending = self._items.get(key)
        if pending is None:
            self._items[key] = deltas
            self._queue.append(key)
        else:
            # process itself queued newer deltas for the key: keep them after these.
            pending[:0] = deltas
        self._notify()

    def _notify(self) -> None:
        if not self._waiters:
            return
        waiters, self._waiters = self._waiters, []
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        for loop, waiter in waiters:
            if loop is running:
                _wake(waiter)
            else:
                with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits
                    loop.call_soon_threadsafe(_wake, waiter)
