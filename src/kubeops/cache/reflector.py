"""The reflector: keeps a store in step with the server by listing, then watching.

It follows client-go's reflector (``k8s.io/client-go/tools/cache/reflector.go``):
the first list reads the watch cache (``resourceVersion=0``), relists resume from
the last synced resourceVersion, a 410 Gone relists consistently (``""``),
watches carry bookmarks and a random 5-10 minute timeout, and failed rounds
back off from 0.8 s to 30 s with jitter.  Where the server supports it, the
initial state comes from a streaming watch-list (``sendInitialEvents``) instead
of a list, which keeps one stream and avoids the list's memory peak.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncGenerator, Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from kubeops.api import Client, Kind, Object, ResourceType, WatchEvent
from kubeops.cache.gc_pause import FillPause
from kubeops.errors import ApiError, ConnectionFailed, Gone, TooManyRequests

log = logging.getLogger(__name__)

INITIAL_EVENTS_END = "k8s.io/initial-events-end"


class ReflectorStore(Protocol):
    """What a reflector writes to (a DeltaFIFO, or a plain store)."""

    def add(self, obj: Object) -> None:
        """A watch's ADDED object."""

    def update(self, obj: Object) -> None:
        """A watch's MODIFIED object."""

    def delete(self, obj: Object) -> None:
        """A watch's DELETED object."""

    def replace(self, objects: Iterable[Object], resource_version: str = "") -> None:
        """The complete state from a list (or a watch-list's initial events)."""

    def resync(self) -> None:
        """Deliver every stored object again (the periodic resync)."""


@dataclass
class ReflectorBackoff:
    """client-go's reflector backoff: 0.8 s doubling to 30 s, jitter [d, 2d), reset after 2 min."""

    initial: float = 0.8
    cap: float = 30.0
    reset_after: float = 120.0
    clock: Callable[[], float] = time.monotonic
    rand: Callable[[], float] = random.random
    _step: float = 0.0
    _last: float = 0.0

    def next(self) -> float:
        """Seconds to wait before the next round: the step doubled (or reset), with jitter."""
        now = self.clock()
        if self._step == 0.0 or now - self._last > self.reset_after:
            self._step = self.initial
        else:
            self._step = min(self._step * 2, self.cap)
        self._last = now
        return self._step * (1 + self.rand())


class _Relist(Exception):
    """The watch ended in a way that needs a fresh list before watching again."""


class Reflector:
    """Lists and watches one resource into ``store`` until cancelled."""

    def __init__(
        self,
        client: Client,
        kind: Kind,
        store: ReflectorStore,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resync_period: float = 0.0,
        page_size: int = 500,
        use_watch_list: bool | None = None,
        on_watch_error: Callable[[BaseException], None] | None = None,
        should_resync: Callable[[], bool] | None = None,
        backoff: ReflectorBackoff | None = None,
        fill_pause: FillPause | None = None,
    ) -> None:
        self.client = client
        self.kind = kind
        self.store = store
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.resync_period = resync_period
        self.page_size = page_size
        # None: try watch-list, and fall back to list if the server refuses it.
        self.use_watch_list = use_watch_list
        self.on_watch_error = on_watch_error
        self.should_resync = should_resync
        self.backoff = backoff or ReflectorBackoff()
        # The collector is held off from the start of each list (or watch-list) until
        # its objects are filed: by the reflector itself until its replace, or, given a
        # ``fill_pause``, until its owner (the informer, once the FIFO is drained) ends
        # it.  Either way a round that fails or is cancelled ends it at once.
        self._own_pause = fill_pause is None
        self.fill_pause = fill_pause or FillPause()
        self.last_sync_resource_version = ""
        self._resource: ResourceType | None = None
        self._watching = False
        self.synced = asyncio.Event()
        #: The error of the last failed round, cleared when a list (or watch-list) succeeds.
        self.last_error: BaseException | None = None

    @property
    def description(self) -> str:
        """``pods in shop`` (the resource, once known, and the namespace), for logs."""
        where = f" in {self.namespace}" if self.namespace else ""
        return f"{self._resource.qualified_name if self._resource else self.kind}{where}"

    async def run(self) -> None:
        """List and watch, forever; errors are logged and retried with backoff."""
        resync = asyncio.create_task(self._resync_loop()) if self.resync_period > 0 else None
        rewatch = False  # after a 429 or a refused connection while watching: no relist
        try:
            while True:
                try:
                    if self._resource is None:
                        # Inside the loop: a kind known only through discovery (a CRD not
                        # created yet, a server not up yet) is retried like a failed list.
                        self._resource = await self.client.resource(self.kind)
                    await self._list_and_watch(rewatch)
                    rewatch = True
                    continue  # the watch closed normally: watch again, no relist
                except asyncio.CancelledError:
                    raise
                except _Relist:
                    rewatch = False
                except Exception as err:
                    self._report(err)
                    rewatch = self._watching and isinstance(err, TooManyRequests | ConnectionFailed)
                await asyncio.sleep(self.backoff.next())
        finally:
            if resync is not None:
                resync.cancel()

    # -- one round ------------------------------------------------------------------------

    async def _list_and_watch(self, rewatch: bool) -> None:
        self._watching = False
        if rewatch and self.last_sync_resource_version:
            await self._watch()
            return
        self.fill_pause.start()
        try:
            await self._fill_and_watch()
        finally:
            self.fill_pause.end()

    async def _fill_and_watch(self) -> None:
        if self.use_watch_list is not False:
            try:
                await self._watch_list()
                return
            except (Gone, TooManyRequests, ConnectionFailed, _Relist):
                raise
            except ApiError as err:
                if self.use_watch_list:
                    raise
                log.info("%s: streaming watch-list refused (%s); using list", self.description, err)
                self.use_watch_list = False
        await self._list()
        await self._watch()

    async def _list(self) -> None:
        # The first list reads the watch cache ("0"); relists resume where we were,
        # and fall back to a consistent read ("") when that is too old.
        rv = self.last_sync_resource_version or "0"
        try:
            listed = await self._list_at(rv)
        except Gone:
            if rv == "":
                raise
            # Too old to list from: retry at once with a consistent read.
            listed = await self._list_at("")
        resource = self._resource
        assert resource is not None
        items = listed.get("items") or []
        for item in items:  # list items come without their kind
            item.setdefault("apiVersion", resource.api_version)
            item.setdefault("kind", resource.kind)
        version = str(listed.get("metadata", {}).get("resourceVersion", ""))
        self.store.replace(items, version)
        self._filled()
        self.last_sync_resource_version = version
        self.last_error = None
        self.synced.set()

    async def _list_at(self, rv: str) -> Object:
        """The list at resourceVersion ``rv``; only a consistent read ("") comes in
        pages, any other is served whole from the watch cache."""
        return await self.client.list(
            self.kind,
            self.namespace,
            all_namespaces=self.namespace is None,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
            page_size=self.page_size if rv == "" else None,
            resource_version=rv,
        )

    def _watch_from(
        self, rv: str, *, send_initial_events: bool = False
    ) -> AsyncGenerator[WatchEvent, None]:
        """A watch of this reflector's objects from resourceVersion ``rv``, closed by the
        server after five to ten minutes (spread so that reflectors do not rewatch together)."""
        return self.client.watch(
            self.kind,
            self.namespace,
            all_namespaces=self.namespace is None,
            resource_version=rv,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
            timeout_seconds=random.randint(300, 599),
            allow_bookmarks=True,
            send_initial_events=send_initial_events,
        )

    async def _watch(self) -> None:
        self._watching = True
        started = time.monotonic()
        events = 0
        async for event in self._watch_from(self.last_sync_resource_version):
            events += 1
            self._apply(event.type, event.object)
        if events == 0 and time.monotonic() - started < 1.0:
            # Closed at once with nothing to say: something is wrong; back off and relist.
            raise _Relist()

    async def _watch_list(self) -> None:
        try:
            await self._stream_initial_state(self.last_sync_resource_version)
        except Gone:
            if not self.last_sync_resource_version:
                raise
            # Too old to resume from: start again from a consistent snapshot.
            await self._stream_initial_state("")

    async def _stream_initial_state(self, rv: str) -> None:
        buffered: list[Object] = []
        initial_done = False
        async for event in self._watch_from(rv, send_initial_events=True):
            if initial_done:
                self._apply(event.type, event.object)
                continue
            if event.type == "BOOKMARK":
                annotations = event.object.get("metadata", {}).get("annotations") or {}
                if annotations.get(INITIAL_EVENTS_END) == "true":
                    self.store.replace(buffered, event.resource_version)
                    self._filled()
                    self.last_sync_resource_version = event.resource_version
                    buffered = []
                    initial_done = True
                    self._watching = True
                    self.last_error = None
                    self.synced.set()
            else:
                buffered.append(event.object)
        if not initial_done:
            raise _Relist()  # closed before the initial state was complete: start over

    def _filled(self) -> None:
        if self._own_pause:
            self.fill_pause.end()

    def _apply(self, kind: str, obj: Object) -> None:
        if kind == "ADDED":
            self.store.add(obj)
        elif kind == "MODIFIED":
            self.store.update(obj)
        elif kind == "DELETED":
            self.store.delete(obj)
        elif kind != "BOOKMARK":
            log.warning("%s: ignoring watch event of unknown type %r", self.description, kind)
            return
        version = obj.get("metadata", {}).get("resourceVersion")
        if version:
            self.last_sync_resource_version = str(version)

    async def _resync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.resync_period)
            if self.should_resync is None or self.should_resync():
                self.store.resync()

    def _report(self, err: BaseException) -> None:
        self.last_error = err
        if self.on_watch_error is not None:
            self.on_watch_error(err)
        level = logging.INFO if isinstance(err, Gone) else logging.WARNING
        log.log(level, "%s: list/watch failed, retrying: %s", self.description, err)
