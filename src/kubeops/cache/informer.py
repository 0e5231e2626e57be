"""The shared informer: one reflector and one indexed store per resource, fanned out
to many handlers, each with its own buffer and resync period.

Deltas from the FIFO update the store first, then become notifications: an
Updated/Replaced/Sync delta for a stored object is an update, anything else an
add, and Deleted a delete carrying the last known object (or a
:class:`DeletedFinalStateUnknown` tombstone when the deletion was missed while
disconnected).  A resync (old and new with the same resourceVersion) reaches
only the handlers whose own resync period is due.  A handler added after the
informer started first receives every stored object as an add.

Waiting for the first list is patient by default, as client-go's
``WaitForCacheSync`` is: the reflector retries every error, so an informer
started before its CRD exists or before its RBAC is granted syncs once they
are.  A one-shot wait (``kubeops wait``, a hot-reload subscription) passes
``fail_fast=True`` instead, and an error :func:`is_fatal_watch_error` calls
fatal is raised at once rather than retried until the timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubeops.api import Client, Kind, Object
from kubeops.cache.delta_fifo import DeltaFIFO, Deltas, DeltaType, FIFOClosed, TransformFunc
from kubeops.cache.gc_pause import FillPause
from kubeops.cache.keys import DeletedFinalStateUnknown, deletion_handling_key
from kubeops.cache.lister import Lister
from kubeops.cache.reflector import Reflector
from kubeops.cache.store import DEFAULT_STORE, IndexFunc, StoreKind, make_store
from kubeops.errors import (
    BadRequest,
    Forbidden,
    Invalid,
    KubeopsError,
    MethodNotAllowed,
    NotFound,
    Unauthorized,
    UnknownKind,
)

__all__ = ["Handler", "Registration", "SharedInformer", "is_fatal_watch_error"]

log = logging.getLogger(__name__)

Handler = Callable[..., Awaitable[None] | None]
MIN_RESYNC = 1.0
_SYNC_POLL = 0.01
_BATCH = 128  # keys processed per return to the event loop
_DELETED = DeltaType.DELETED
_RESYNCS = (DeltaType.SYNC, DeltaType.REPLACED)

# The errors retrying does not heal: who we are or what we asked is refused
# (Unauthorized, Forbidden), the resource is not served (NotFound from the
# server, UnknownKind from discovery, MethodNotAllowed when it cannot be listed
# or watched), or the request itself is wrong (BadRequest, Invalid: a bad selector).
_FATAL: tuple[type[BaseException], ...] = (
    Unauthorized,
    Forbidden,
    NotFound,
    UnknownKind,
    MethodNotAllowed,
    BadRequest,
    Invalid,
)


def is_fatal_watch_error(err: BaseException) -> bool:
    """Whether a list/watch error will not heal by retrying, so a one-shot wait fails at once.

    Fatal: Unauthorized, Forbidden, NotFound (the resource is not served),
    UnknownKind (discovery does not know the kind), MethodNotAllowed, BadRequest and
    Invalid.  Everything else is transient -- a refused or dropped connection, 429
    Too Many Requests, 5xx, server timeouts, 410 Gone -- and the reflector retries
    it with backoff.  A long-lived informer retries fatal errors too (a CRD or a
    RoleBinding may be created later); only ``wait_for_sync(fail_fast=True)`` and
    the waits built on it give up.
    """
    return isinstance(err, _FATAL)


@dataclass
class _Notification:
    kind: str  # "add" | "update" | "delete"
    args: tuple[Any, ...]


@dataclass
class Registration:
    """One handler's subscription: its queue, its resync period, its own sync state."""

    on_add: Handler | None
    on_update: Handler | None
    on_delete: Handler | None
    resync_period: float
    queue: asyncio.Queue[_Notification | None] = field(default_factory=asyncio.Queue)
    next_resync: float = 0.0
    syncing: bool = False  # due in the resync round under way
    _initial_pending: int = 0
    _synced_source: Callable[[], bool] = lambda: False
    task: asyncio.Task[None] | None = None

    def has_synced(self) -> bool:
        """The informer has synced and this handler has received its initial adds."""
        return self._synced_source() and self._initial_pending == 0


class SharedInformer:
    """Watches one resource into an indexed store and notifies registered handlers."""

    def __init__(
        self,
        client: Client,
        kind: Kind,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resync_period: float = 0.0,
        indexers: Mapping[str, IndexFunc] | None = None,
        transform: TransformFunc | None = None,
        use_watch_list: bool | None = None,
        store: StoreKind = DEFAULT_STORE,
    ) -> None:
        self.client = client
        self.kind = kind
        self.store = make_store(store, indexers)
        self.fifo = DeltaFIFO(known_objects=self.store, transform=transform)
        self.resync_period = _period(resync_period)
        # Held by the reflector from the start of a list until the FIFO has handed its
        # objects to the store (the fill allocates no cycles; see kubeops.cache.gc_pause).
        self._fill_pause = FillPause()
        self.reflector = Reflector(
            client,
            kind,
            self.fifo,
            namespace=namespace,
            label_selector=label_selector,
            field_selector=field_selector,
            resync_period=self.resync_period,
            use_watch_list=use_watch_list,
            on_watch_error=self._watch_error,
            should_resync=self._should_resync,
            fill_pause=self._fill_pause,
        )
        self._registrations: list[Registration] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False
        self._stopped = False
        self._watch_error_handler: Callable[[BaseException], None] | None = None
        self._synced = asyncio.Event()  # set by the processing loop when has_synced turns true

    # -- configuration ----------------------------------------------------------------------

    def lister(self) -> Lister:
        """A :class:`Lister` reading this informer's store."""
        resource = self.kind if isinstance(self.kind, str) else self.kind.qualified_name
        return Lister(self.store, resource)

    def set_watch_error_handler(self, handler: Callable[[BaseException], None]) -> None:
        """Call ``handler`` with every list/watch error the reflector meets (before it retries).

        It runs on the event loop, and must be set before the informer starts.
        """
        if self._started:
            raise KubeopsError("set_watch_error_handler must be called before the informer starts")
        self._watch_error_handler = handler

    def add_handler(
        self,
        on_add: Handler | None = None,
        on_update: Handler | None = None,
        on_delete: Handler | None = None,
        *,
        resync_period: float | None = None,
    ) -> Registration:
        """Register handlers (plain or async functions); each runs serially in its own task.

        ``on_add(obj, is_in_initial_list)``, ``on_update(old, new)``, ``on_delete(obj)``
        -- ``obj`` may be a :class:`DeletedFinalStateUnknown` for a missed deletion.
        """
        if self._stopped:
            raise KubeopsError("cannot add a handler to a stopped informer")
        period = self.resync_period if resync_period is None else _period(resync_period)
        if period and self.resync_period and period < self.resync_period:
            if self._started:
                period = self.resync_period  # cannot check more often than the informer resyncs
            else:
                self.resync_period = self.reflector.resync_period = period
        registration = Registration(on_add, on_update, on_delete, period)
        registration._synced_source = self.has_synced
        registration.next_resync = time.monotonic() + period if period else 0.0
        self._registrations.append(registration)
        if self._started:
            # Catch up: everything already stored arrives as initial adds.
            existing = self.store.list()
            registration._initial_pending = len(existing)
            for obj in existing:
                registration.queue.put_nowait(_Notification("add", (obj, True)))
            registration.task = asyncio.get_running_loop().create_task(self._deliver(registration))
        return registration

    # -- running ----------------------------------------------------------------------------

    def has_synced(self) -> bool:
        """The store holds the first list and every delta of it has been processed."""
        return self.reflector.synced.is_set() and self.fifo.has_synced()

    @property
    def last_error(self) -> BaseException | None:
        """The reflector's list/watch error since its last successful list, if any."""
        return self.reflector.last_error

    def start(self) -> None:
        """Start the reflector and the processing loop in the running event loop."""
        if self._started:
            return
        self._started = True
        loop = asyncio.get_running_loop()
        for registration in self._registrations:
            registration.task = loop.create_task(self._deliver(registration))
        self._tasks = [
            loop.create_task(self.reflector.run(), name=f"reflector {self.reflector.description}"),
            loop.create_task(self._process(), name=f"informer {self.reflector.description}"),
        ]

    async def wait_for_sync(
        self,
        timeout: float | None = None,
        *,
        fail_fast: bool = False,
        registration: Registration | None = None,
    ) -> bool:
        """Wait until the store holds the first list and all its deltas are processed
        (and, given a ``registration``, until that handler has received its initial adds).

        True once synced; False when ``timeout`` seconds pass first (None: no limit).
        By default every list/watch error is retried meanwhile; with ``fail_fast`` an
        error :func:`is_fatal_watch_error` calls fatal is raised at once instead.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.has_synced() or (registration is not None and not registration.has_synced()):
            error = self.reflector.last_error
            if fail_fast and error is not None and is_fatal_watch_error(error):
                raise error
            if deadline is not None and time.monotonic() > deadline:
                return False
            # Woken as soon as the processing loop sees the sync, else polled (errors,
            # a handler's initial adds).
            if self._synced.is_set():
                await asyncio.sleep(_SYNC_POLL)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._synced.wait(), _SYNC_POLL)
        return True

    async def stop(self) -> None:
        """Stop the reflector and every handler's delivery; the store keeps its content."""
        self._stopped = True
        self._fill_pause.end()
        self.fifo.close()
        tasks = [*self._tasks, *(r.task for r in self._registrations if r.task)]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def __aenter__(self) -> SharedInformer:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- internals --------------------------------------------------------------------------

    async def _process(self) -> None:
        repacked = False
        pause = self._fill_pause
        try:
            while True:
                try:
                    await self.fifo.pop_batch(self._handle_keyed_deltas, _BATCH)
                except FIFOClosed:
                    return
                except Exception:
                    # As client-go's processLoop: that object's deltas are dropped, the loop goes on.
                    log.exception("%s: processing a change failed", self.reflector.description)
                if pause.held and self.has_synced() and len(self.fifo) < _BATCH:
                    pause.end()  # the list is filed (a relist's too): collect again
                if not self._synced.is_set() and self.has_synced():
                    self._synced.set()
                if not repacked and self._synced.is_set():
                    # The first list is stored and its decoded form is garbage now (unless a
                    # handler still holds it): let the store give its memory back.
                    repacked = True
                    self.store.repack()
        finally:
            pause.end()

    def _handle_deltas(self, deltas: Deltas, is_initial: bool) -> None:
        """Update the store, then queue notifications (runs under the FIFO's lock)."""
        obj = deltas[0].object
        self._handle_keyed_deltas(deletion_handling_key(obj), deltas, is_initial)

    def _handle_keyed_deltas(self, key: str, deltas: Deltas, is_initial: bool) -> None:
        store = self.store
        for delta in deltas:
            obj = delta.object
            if delta.type is _DELETED:
                store.delete_key(key)
                if self._registrations:
                    self._notify(_Notification("delete", (obj,)))
                continue
            assert not isinstance(obj, DeletedFinalStateUnknown)
            old = store.put(key, obj)
            if not self._registrations:
                continue
            if old is None:
                self._notify(_Notification("add", (obj, is_initial)))
                continue
            is_sync = delta.type in _RESYNCS and _rv(old) == _rv(obj)
            self._notify(_Notification("update", (old, obj)), resync_only=is_sync)

    def _notify(self, note: _Notification, *, resync_only: bool = False) -> None:
        initial = note.kind == "add" and note.args[1]
        for registration in self._registrations:
            if resync_only and not registration.syncing:
                continue
            if initial:
                registration._initial_pending += 1
            registration.queue.put_nowait(note)

    def _should_resync(self) -> bool:
        """Called by the reflector before each resync: mark the handlers that are due."""
        now = time.monotonic()
        due = False
        for registration in self._registrations:
            period = registration.resync_period
            # Some slack, so a handler whose period equals the check period is never
            # skipped for being microseconds early.
            registration.syncing = bool(period) and now + period * 0.05 >= registration.next_resync
            if registration.syncing:
                registration.next_resync = now + registration.resync_period
                due = True
        return due

    async def _deliver(self, registration: Registration) -> None:
        while True:
            note = await registration.queue.get()
            if note is None:
                return
            handler = {
                "add": registration.on_add,
                "update": registration.on_update,
                "delete": registration.on_delete,
            }[note.kind]
            try:
                if handler is not None:
                    result = handler(*note.args)
                    if inspect.isawaitable(result):
                        await result
            except Exception:
                log.exception("%s: %s handler failed", self.reflector.description, note.kind)
            finally:
                if note.kind == "add" and note.args[1] and registration._initial_pending:
                    registration._initial_pending -= 1

    def _watch_error(self, err: BaseException) -> None:
        if self._watch_error_handler is not None:
            self._watch_error_handler(err)


def _rv(obj: Object) -> str:
    return str(obj.get("metadata", {}).get("resourceVersion", ""))


def _period(seconds: float) -> float:
    return 0.0 if seconds <= 0 else max(seconds, MIN_RESYNC)
