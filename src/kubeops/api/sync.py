"""``SyncClient``: the async :class:`~kubeops.api.client.Client` for code without
an event loop.

It owns a private event loop on a daemon thread and runs each call of the async
client there; every method only forwards, so no logic exists twice.  It is
safe to call from several threads at once.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Coroutine, Generator, Mapping
from concurrent.futures import Future
from typing import Any, Literal, TypeVar

from kubeops.api.client import Client, Kind, Object, PatchType, WatchEvent
from kubeops.config import ClusterConfig, load_config

T = TypeVar("T")


class SyncClient:
    """A blocking client for one cluster.  ``with SyncClient() as client: ...``."""

    def __init__(self, config: ClusterConfig | None = None, **transport_options: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="kubeops-sync-client", daemon=True
        )
        self._thread.start()
        self.client: Client = self.run(_make(config, transport_options))

    @classmethod
    def from_kubeconfig(
        cls,
        kubeconfig: str | os.PathLike[str] | None = None,
        *,
        context: str | None = None,
        namespace: str | None = None,
        **transport_options: Any,
    ) -> SyncClient:
        return cls(
            load_config(kubeconfig, context=context, namespace=namespace), **transport_options
        )

    @property
    def namespace(self) -> str:
        return self.client.namespace

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine of the async client on this facade's loop and return its result."""
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result()

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self.run(self.client.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(
        self, kind: Kind, name: str, namespace: str | None = None, *, subresource: str | None = None
    ) -> Object:
        return self.run(self.client.get(kind, name, namespace, subresource=subresource))

    def list(self, kind: Kind, namespace: str | None = None, **options: Any) -> Object:
        """See :meth:`Client.list` for the options."""
        return self.run(self.client.list(kind, namespace, **options))

    def iterate(
        self, kind: Kind, namespace: str | None = None, **options: Any
    ) -> Generator[Object, None, None]:
        return self.stream(self.client.iterate(kind, namespace, **options))

    def create(
        self, obj: Mapping[str, Any], namespace: str | None = None, **options: Any
    ) -> Object:
        return self.run(self.client.create(obj, namespace, **options))

    def replace(
        self, obj: Mapping[str, Any], namespace: str | None = None, **options: Any
    ) -> Object:
        return self.run(self.client.replace(obj, namespace, **options))

    def patch(
        self,
        kind: Kind,
        name: str,
        patch: Any,
        namespace: str | None = None,
        *,
        patch_type: PatchType = "merge",
        **options: Any,
    ) -> Object:
        return self.run(
            self.client.patch(kind, name, patch, namespace, patch_type=patch_type, **options)
        )

    def apply(self, obj: Mapping[str, Any], namespace: str | None = None, **options: Any) -> Object:
        return self.run(self.client.apply(obj, namespace, **options))

    def delete(
        self,
        kind: Kind,
        name: str,
        namespace: str | None = None,
        *,
        propagation_policy: Literal["Foreground", "Background", "Orphan"] | None = None,
        **options: Any,
    ) -> Object:
        return self.run(
            self.client.delete(
                kind, name, namespace, propagation_policy=propagation_policy, **options
            )
        )

    def delete_collection(self, kind: Kind, namespace: str | None = None, **options: Any) -> Object:
        return self.run(self.client.delete_collection(kind, namespace, **options))

    def scale(
        self, kind: Kind, name: str, replicas: int, namespace: str | None = None, **options: Any
    ) -> Object:
        return self.run(self.client.scale(kind, name, replicas, namespace, **options))

    def watch(
        self, kind: Kind, namespace: str | None = None, **options: Any
    ) -> Generator[WatchEvent, None, None]:
        """See :meth:`Client.watch`; closing the generator closes the stream."""
        return self.stream(self.client.watch(kind, namespace, **options))

    def stream(self, source: AsyncIterator[T]) -> Generator[T, None, None]:
        """Iterate an async iterator of the async client from blocking code."""
        try:
            while True:
                try:
                    yield self.run(anext(source))  # type: ignore[arg-type]
                except StopAsyncIteration:
                    return
        finally:
            aclose = getattr(source, "aclose", None)
            if aclose is not None and not self._loop.is_closed():
                self.run(aclose())


async def _make(config: ClusterConfig | None, options: dict[str, Any]) -> Client:
    return Client(config, **options)
