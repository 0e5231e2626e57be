"""Informers for blocking code: a :class:`SharedInformer` running on a
:class:`~kubeops.api.SyncClient`'s event loop, with a blocking
``wait_for_cache_sync``.  Listers read the thread-safe store directly, and
handlers run on the client's loop thread.
"""

from __future__ import annotations

from typing import Any

from kubeops.api.client import Kind
from kubeops.api.sync import SyncClient
from kubeops.cache.informer import Handler, Registration, SharedInformer
from kubeops.cache.lister import Lister


class BlockingInformer:
    """``with BlockingInformer(sync_client, "pods") as pods: pods.lister().list()``."""

    def __init__(self, client: SyncClient, kind: Kind, **options: Any) -> None:
        self.client = client
        self.informer: SharedInformer = client.run(_make(client, kind, options))

    def add_handler(
        self,
        on_add: Handler | None = None,
        on_update: Handler | None = None,
        on_delete: Handler | None = None,
        *,
        resync_period: float | None = None,
    ) -> Registration:
        async def register() -> Registration:
            return self.informer.add_handler(
                on_add, on_update, on_delete, resync_period=resync_period
            )

        return self.client.run(register())

    def start(self) -> None:
        async def start() -> None:
            self.informer.start()

        self.client.run(start())

    def wait_for_cache_sync(self, timeout: float | None = None) -> bool:
        return self.client.run(self.informer.wait_for_sync(timeout))

    def has_synced(self) -> bool:
        return self.informer.has_synced()

    def lister(self) -> Lister:
        return self.informer.lister()

    def stop(self) -> None:
        self.client.run(self.informer.stop())

    def __enter__(self) -> BlockingInformer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def _make(client: SyncClient, kind: Kind, options: dict[str, Any]) -> SharedInformer:
    return SharedInformer(client.client, kind, **options)
