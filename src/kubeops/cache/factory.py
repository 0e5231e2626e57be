"""One informer per (resource, namespace, selectors), shared by everything in a process.

Several controllers watching Pods should cost one list and one watch, not one
each: they ask the factory, which hands out the same :class:`SharedInformer`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from kubeops.api import Client, Kind
from kubeops.cache.delta_fifo import TransformFunc, strip_managed_fields
from kubeops.cache.informer import SharedInformer
from kubeops.cache.store import DEFAULT_STORE, IndexFunc, StoreKind

_Key = tuple[str, str | None, str | None, str | None]


class SharedInformerFactory:
    """Informers for one client, by default across all namespaces, managedFields dropped.

    ``transform`` is applied to every object before it is stored (client-go's
    ``SetTransform``); ``store`` is how each informer holds its objects
    (``"compact"`` or ``"dict"``, see :func:`~kubeops.cache.make_store`).
    """

    def __init__(
        self,
        client: Client,
        *,
        namespace: str | None = None,
        resync_period: float = 0.0,
        transform: TransformFunc | None = strip_managed_fields,
        store: StoreKind = DEFAULT_STORE,
    ) -> None:
        self.client = client
        self.namespace = namespace
        self.resync_period = resync_period
        self.transform = transform
        self.store = store
        self._informers: dict[_Key, SharedInformer] = {}
        self._started: set[_Key] = set()

    async def informer(
        self,
        kind: Kind,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        indexers: Mapping[str, IndexFunc] | None = None,
    ) -> SharedInformer:
        """The shared informer for ``kind`` (resolved, so ``deploy`` and ``deployments.apps`` agree)."""
        resource = await self.client.resource(kind)
        ns = namespace if namespace is not None else self.namespace
        key = (
            f"{resource.group}/{resource.version}/{resource.plural}",
            ns,
            label_selector,
            field_selector,
        )
        informer = self._informers.get(key)
        if informer is None:
            informer = SharedInformer(
                self.client,
                resource,
                namespace=ns if resource.namespaced else None,
                label_selector=label_selector,
                field_selector=field_selector,
                resync_period=self.resync_period,
                indexers=indexers,
                transform=self.transform,
                store=self.store,
            )
            self._informers[key] = informer
        elif indexers:
            informer.store.add_indexers(indexers)
        return informer

    def start(self) -> None:
        """Start the informers not started yet (call again after asking for new ones)."""
        for key, informer in self._informers.items():
            if key not in self._started:
                informer.start()
                self._started.add(key)

    async def wait_for_cache_sync(self, timeout: float | None = None) -> dict[str, bool]:
        """Wait for every started informer; returns each one's sync state by resource."""
        started = [(k, self._informers[k]) for k in self._started]
        results = await asyncio.gather(*(i.wait_for_sync(timeout) for _, i in started))
        return {k[0]: ok for (k, _), ok in zip(started, results, strict=True)}

    async def shutdown(self) -> None:
        """Stop every started informer."""
        await asyncio.gather(*(self._informers[k].stop() for k in self._started))
        self._started.clear()
