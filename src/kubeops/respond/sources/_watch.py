"""The plumbing the watching sources share: informers from a (possibly shared)
factory, the queue between informer handlers and ``emit``, and a memory of the
identities already emitted.

Informer handlers are plain functions that only queue events; the source's
``run`` awaits ``emit`` for each in turn, so a slow engine holds up no informer.
Two informers can see one change (two triggers with different selectors on the
same kind): the same identity is emitted once.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubeops.api import Client, ResourceType
from kubeops.cache import Registration, SharedInformer, SharedInformerFactory, strip_managed_fields
from kubeops.errors import UnknownKind
from kubeops.respond.event import Event, now
from kubeops.respond.model import Trigger
from kubeops.respond.source import Emit

log = logging.getLogger("kubeops.respond.sources")

RECENT_IDENTITIES = 65536
"""How many emitted identities a source remembers to drop repeats (a bounded LRU)."""


class Recent:
    """The last ``size`` identities seen, oldest forgotten first."""

    def __init__(self, size: int = RECENT_IDENTITIES) -> None:
        self.size = size
        self._seen: OrderedDict[str, None] = OrderedDict()

    def first_time(self, identity: str) -> bool:
        """True the first time ``identity`` is offered (while remembered), False after."""
        if identity in self._seen:
            self._seen.move_to_end(identity)
            return False
        self._seen[identity] = None
        if len(self._seen) > self.size:
            self._seen.popitem(last=False)
        return True


@dataclass
class Watch:
    """One informer of a source and its handlers' registration."""

    informer: SharedInformer
    registration: Registration
    listed: bool = False
    """The first list has been delivered; adds after it are new objects."""


@dataclass
class Feed:
    """Informers started for a source, and the queue their handlers fill."""

    client: Client
    factory: SharedInformerFactory | None = None
    since: datetime.datetime = field(default_factory=now)
    queue: asyncio.Queue[Event] = field(default_factory=asyncio.Queue)
    recent: Recent = field(default_factory=Recent)
    watches: list[Watch] = field(default_factory=list)
    _owns_factory: bool = False
    _own: list[SharedInformer] = field(default_factory=list)
    """Informers of kinds not served yet (a CRD to come), outside the factory."""

    def __post_init__(self) -> None:
        if self.factory is None:
            self.factory = SharedInformerFactory(self.client)
            self._owns_factory = True

    def put(self, event: Event) -> None:
        """Queue ``event`` unless its identity was queued before."""
        if self.recent.first_time(event.identity):
            self.queue.put_nowait(event)

    async def watch(
        self,
        kind: str,
        namespaces: Iterable[str] | None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        on_add: Callable[[Watch, object, bool], None] | None = None,
        on_update: Callable[[Watch, object, object], None] | None = None,
        on_delete: Callable[[Watch, object], None] | None = None,
    ) -> list[Watch]:
        """Informers for ``kind`` in each of ``namespaces`` (None: all), handlers bound to each."""
        assert self.factory is not None
        try:
            resource: ResourceType | None = await self.client.resource(kind)
        except UnknownKind as err:
            # Not served yet (its CRD may come later): watched all the same, across
            # namespaces (the engine matches the trigger's), syncing once it is served.
            log.warning("%s; watching for it", err)
            resource = None
        spaces: list[str | None] = (
            [None]
            if namespaces is None or resource is None or not resource.namespaced
            else list(namespaces)
        )
        added = []
        for namespace in spaces:
            if resource is None:
                informer = SharedInformer(
                    self.client,
                    kind,
                    label_selector=label_selector or None,
                    field_selector=field_selector or None,
                    transform=strip_managed_fields,
                )
                self._own.append(informer)
            else:
                informer = await self.factory.informer(
                    resource,
                    namespace=namespace,
                    label_selector=label_selector or None,
                    field_selector=field_selector or None,
                )
            watch = Watch(informer, Registration(None, None, None, 0.0))
            watch.registration = informer.add_handler(
                _bind(on_add, watch),
                _bind(on_update, watch),
                _bind(on_delete, watch),
                resync_period=0,
            )
            self.watches.append(watch)
            added.append(watch)
        return added

    def start(self) -> None:
        """Start the informers (the factory's not started yet, and this feed's own)."""
        assert self.factory is not None
        self.factory.start()
        for informer in self._own:
            informer.start()

    async def synced(self) -> None:
        """Wait until each handler has had its first list (a kind not served: until it is)."""
        for watch in self.watches:
            await watch.informer.wait_for_sync(registration=watch.registration)
            watch.listed = True

    async def run(self, emit: Emit, then: Callable[[], Awaitable[None]]) -> None:
        """Start, emit as events come (during the first lists too), run ``then`` once synced."""
        self.start()
        pump = asyncio.create_task(self.pump(emit))
        try:
            await self.synced()
            await then()
        finally:
            pump.cancel()
            await asyncio.gather(pump, return_exceptions=True)

    async def pump(self, emit: Emit) -> None:
        """Hand queued events to ``emit`` one by one, for ever."""
        while True:
            event = await self.queue.get()
            try:
                await emit(event)
            except Exception:
                log.exception("emitting %s %s failed", event.source, event.name)

    async def close(self) -> None:
        """Stop this feed's own informers, and the factory's if the factory is its own."""
        await asyncio.gather(*(informer.stop() for informer in self._own))
        if self._owns_factory and self.factory is not None:
            await self.factory.shutdown()


class WatchingSource:
    """What every informer-fed source shares: its own triggers, ``ready``, a feed, the run loop.

    A subclass names itself (``name``), binds its informers in ``watch`` and cancels
    its own timers or tasks in ``stop``; ``follow`` runs once the first lists are in.
    """

    name = ""

    def __init__(
        self,
        client: Client,
        triggers: Sequence[Trigger],
        *,
        since: datetime.datetime | None = None,
        factory: SharedInformerFactory | None = None,
        **_settings: Any,
    ) -> None:
        self.client = client
        self.triggers = [t for t in triggers if t.source == self.name]
        self.ready = asyncio.Event()
        self.feed = Feed(client, factory, since or now())

    async def run(self, emit: Emit) -> None:
        """Watch, then emit until cancelled."""
        try:
            await self.watch()
            await self.feed.run(emit, self.follow)
        finally:
            self.stop()
            await self.feed.close()

    async def watch(self) -> None:
        """Bind the informers the triggers need (``self.feed.watch``)."""
        raise NotImplementedError

    async def follow(self) -> None:
        """Once synced: ready, and the informers' events flow until cancelled."""
        self.ready.set()
        await asyncio.Event().wait()

    def stop(self) -> None:
        """Cancel what the source scheduled besides its informers (nothing by default)."""


def _bind(handler: Callable[..., None] | None, watch: Watch) -> Callable[..., None] | None:
    if handler is None:
        return None

    def bound(*args: object) -> None:
        handler(watch, *args)

    return bound
