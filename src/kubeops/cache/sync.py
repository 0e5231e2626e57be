"""Informers for blocking code: :class:`SyncInformer` runs a :class:`SharedInformer`
on a :class:`~kubeops.api.SyncClient`'s event loop, and its methods only forward,
blocking until the informer's answer.  Listers read the thread-safe store directly,
and handlers run on the client's loop thread (where calling the ``SyncClient``
raises :class:`~kubeops.errors.SyncClientMisuse`: use ``informer.client`` there).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from kubeops.api import Kind, SyncClient
from kubeops.cache.delta_fifo import TransformFunc
from kubeops.cache.informer import Handler, Registration, SharedInformer
from kubeops.cache.lister import Lister
from kubeops.cache.store import DEFAULT_STORE, IndexFunc, Store, StoreKind

__all__ = ["SyncInformer"]


class SyncInformer:
    """``with SyncInformer(sync_client, "pods") as pods: pods.lister().list()``.

    Takes the :class:`SharedInformer`'s parameters; ``informer`` is the one it runs.
    """

    def __init__(
        self,
        client: SyncClient,
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

        async def make() -> SharedInformer:  # built on the loop that will run it
            return SharedInformer(
                client.client,
                kind,
                namespace=namespace,
                label_selector=label_selector,
                field_selector=field_selector,
                resync_period=resync_period,
                indexers=indexers,
                transform=transform,
                use_watch_list=use_watch_list,
                store=store,
            )

        self.informer = client.run(make())

    @property
    def store(self) -> Store:
        """See :attr:`SharedInformer.store`."""
        return self.informer.store

    @property
    def last_error(self) -> BaseException | None:
        """See :attr:`SharedInformer.last_error`."""
        return self.informer.last_error

    def set_watch_error_handler(self, handler: Callable[[BaseException], None]) -> None:
        """See :meth:`SharedInformer.set_watch_error_handler` (it runs on the loop thread)."""
        self.informer.set_watch_error_handler(handler)

    def add_handler(
        self,
        on_add: Handler | None = None,
        on_update: Handler | None = None,
        on_delete: Handler | None = None,
        *,
        resync_period: float | None = None,
    ) -> Registration:
        """See :meth:`SharedInformer.add_handler`; the handlers run on the loop thread."""

        async def register() -> Registration:
            return self.informer.add_handler(
                on_add, on_update, on_delete, resync_period=resync_period
            )

        return self.client.run(register())

    def start(self) -> None:
        """See :meth:`SharedInformer.start`."""

        async def start() -> None:
            self.informer.start()

        self.client.run(start())

    def wait_for_sync(
        self,
        timeout: float | None = None,
        *,
        fail_fast: bool = False,
        registration: Registration | None = None,
    ) -> bool:
        """See :meth:`SharedInformer.wait_for_sync`."""
        return self.client.run(
            self.informer.wait_for_sync(timeout, fail_fast=fail_fast, registration=registration)
        )

    def has_synced(self) -> bool:
        """See :meth:`SharedInformer.has_synced`."""
        return self.informer.has_synced()

    def lister(self) -> Lister:
        """See :meth:`SharedInformer.lister`."""
        return self.informer.lister()

    def stop(self) -> None:
        """See :meth:`SharedInformer.stop`."""
        self.client.run(self.informer.stop())

    def __enter__(self) -> SyncInformer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
