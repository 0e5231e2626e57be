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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from kubeops.api import Client
from kubeops.cache import Registration, SharedInformer, SharedInformerFactory
from kubeops.respond.event import Event, now
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
        resource = await self.client.resource(kind)
        spaces: list[str | None] = (
            [None] if namespaces is None or not resource.namespaced else list(namespaces)
        )
        added = []
        for namespace in spaces:
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

    async def start(self) -> None:
        """Start the informers and wait until each handler has had its first list."""
        assert self.factory is not None
        self.factory.start()
        for watch in self.watches:
            await watch.informer.wait_for_sync(registration=watch.registration)
            watch.listed = True

    async def pump(self, emit: Emit) -> None:
        """Hand queued events to ``emit`` one by one, for ever."""
        while True:
            event = await self.queue.get()
            try:
                await emit(event)
            except Exception:
                log.exception("emitting %s %s failed", event.source, event.name)

    async def close(self) -> None:
        """Stop the informers if the factory is this feed's own."""
        if self._owns_factory and self.factory is not None:
            await self.factory.shutdown()


def _bind(handler: Callable[..., None] | None, watch: Watch) -> Callable[..., None] | None:
    if handler is None:
        return None

    def bound(*args: object) -> None:
        handler(watch, *args)

    return bound
