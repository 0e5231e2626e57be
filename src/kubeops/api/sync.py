"""The blocking API: ``SyncClient`` and the one convention every blocking form follows.

The convention (docs/decisions.md, "One way to use kubeops from blocking code"):

* an *operation* is one function that takes the client as its first argument,
  written once over the async :class:`Client` and wrapped by :func:`either_client`:
  given a ``Client`` it returns an awaitable, given a ``SyncClient`` it runs to
  completion and returns the result -- one name, one signature, both worlds;
* an *object that keeps a client* (the client itself, an informer, a rollout, a
  subscription, a typed API) has a blocking twin named ``Sync<Name>`` whose
  methods only forward to the async one.

``SyncClient`` owns a private event loop on a daemon thread and runs each call of
the async client there, so no logic exists twice.  It is safe to call from
several threads at once, but not from its own loop's thread (an informer handler
or a hot-reload callback runs there): that would wait forever for itself, so it
raises :class:`SyncClientMisuse` instead.
"""

from __future__ import annotations

import asyncio
import builtins
import functools
import os
import threading
from collections.abc import (
    AsyncIterator,
    Callable,
    Coroutine,
    Generator,
    Mapping,
)
from typing import Any, Concatenate, Generic, Literal, ParamSpec, TypeVar, overload

from kubeops.api._loop_thread import LoopThread
from kubeops.api.client import Client, Kind, PatchType, WatchEvent
from kubeops.api.object import Object
from kubeops.api.resource import ResourceType
from kubeops.config import ClusterConfig, load_config
from kubeops.errors import KubeopsError
from kubeops.transport.backoff import RetryPolicy
from kubeops.transport.transport import Response

T = TypeVar("T")
P = ParamSpec("P")
R = TypeVar("R")
Propagation = Literal["Foreground", "Background", "Orphan"]


class SyncClientMisuse(KubeopsError):
    """A ``SyncClient`` was called from its own event loop's thread, where it would deadlock."""


class SyncClient:
    """A blocking client for one cluster.  ``with SyncClient() as client: ...``.

    Every method of :class:`Client` is here with the same parameters; ``client``
    is the async client it drives, for code running on its loop.
    """

    def __init__(self, config: ClusterConfig | None = None, **transport_options: Any) -> None:
        self._loop_thread = LoopThread("kubeops-sync-client")
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
        """See :meth:`Client.from_kubeconfig`."""
        return cls(
            load_config(kubeconfig, context=context, namespace=namespace), **transport_options
        )

    @property
    def namespace(self) -> str:
        """The default namespace (from the context, or ``default``)."""
        return self.client.namespace

    @property
    def retry_policy(self) -> RetryPolicy:
        """See :attr:`Client.retry_policy`."""
        return self.client.retry_policy

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop the async client runs on (its handlers and callbacks run there too)."""
        return self._loop_thread.loop

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine of the async client on this facade's loop and return its result
        (or raise its exception); Ctrl-C while waiting cancels the coroutine."""
        if threading.get_ident() == self._loop_thread.thread.ident:
            coro.close()
            raise SyncClientMisuse(
                "a SyncClient was called from its own event loop thread (an informer handler "
                "or a reload callback runs there), where it would wait forever for itself: "
                "use the async client (sync_client.client) there, or hand the work to another thread"
            )
        return self._loop_thread.run(coro)

    def with_options(
        self, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> SyncClient:
        """See :meth:`Client.with_options`: a view sharing this client's pool and loop."""
        view = object.__new__(SyncClient)
        view._loop_thread = self._loop_thread
        view.client = self.client.with_options(timeout=timeout, retry=retry)
        return view

    def close(self) -> None:
        """Close the connection pool and stop the loop thread."""
        if self._loop_thread.loop.is_closed() or not self.client._owns_transport:
            return
        self.run(self.client.close())
        self._loop_thread.stop()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the methods of Client, blocking ------------------------------------------------------

    def get(
        self, kind: Kind, name: str, namespace: str | None = None, *, subresource: str | None = None
    ) -> Object:
        """See :meth:`Client.get`."""
        return self.run(self.client.get(kind, name, namespace, subresource=subresource))

    def list(
        self,
        kind: Kind,
        namespace: str | None = None,
        *,
        all_namespaces: bool = False,
        label_selector: str | None = None,
        field_selector: str | None = None,
        page_size: int | None = None,
        resource_version: str | None = None,
    ) -> Object:
        """See :meth:`Client.list`."""
        return self.run(
            self.client.list(
                kind,
                namespace,
                all_namespaces=all_namespaces,
                label_selector=label_selector,
                field_selector=field_selector,
                page_size=page_size,
                resource_version=resource_version,
            )
        )

    def iterate(
        self,
        kind: Kind,
        namespace: str | None = None,
        *,
        all_namespaces: bool = False,
        label_selector: str | None = None,
        field_selector: str | None = None,
        page_size: int = 500,
    ) -> Generator[Object, None, None]:
        """See :meth:`Client.iterate`."""
        return self.stream(
            self.client.iterate(
                kind,
                namespace,
                all_namespaces=all_namespaces,
                label_selector=label_selector,
                field_selector=field_selector,
                page_size=page_size,
            )
        )

    def table(
        self,
        kind: Kind,
        namespace: str | None = None,
        *,
        name: str | None = None,
        all_namespaces: bool = False,
        label_selector: str | None = None,
        field_selector: str | None = None,
        page_size: int = 500,
    ) -> Object:
        """See :meth:`Client.table`."""
        return self.run(
            self.client.table(
                kind,
                namespace,
                name=name,
                all_namespaces=all_namespaces,
                label_selector=label_selector,
                field_selector=field_selector,
                page_size=page_size,
            )
        )

    def create(
        self,
        obj: Mapping[str, Any],
        namespace: str | None = None,
        *,
        dry_run: bool = False,
        field_manager: str | None = None,
        subresource: str | None = None,
        name: str | None = None,
        kind: Kind | None = None,
    ) -> Object:
        """See :meth:`Client.create`."""
        return self.run(
            self.client.create(
                obj,
                namespace,
                dry_run=dry_run,
                field_manager=field_manager,
                subresource=subresource,
                name=name,
                kind=kind,
            )
        )

    def replace(
        self,
        obj: Mapping[str, Any],
        namespace: str | None = None,
        *,
        dry_run: bool = False,
        field_manager: str | None = None,
        subresource: str | None = None,
    ) -> Object:
        """See :meth:`Client.replace`."""
        return self.run(
            self.client.replace(
                obj,
                namespace,
                dry_run=dry_run,
                field_manager=field_manager,
                subresource=subresource,
            )
        )

    def patch(
        self,
        kind: Kind,
        name: str,
        patch: Any,
        namespace: str | None = None,
        *,
        patch_type: PatchType = "merge",
        subresource: str | None = None,
        dry_run: bool = False,
        field_manager: str | None = None,
        force: bool | None = None,
    ) -> Object:
        """See :meth:`Client.patch`."""
        return self.run(
            self.client.patch(
                kind,
                name,
                patch,
                namespace,
                patch_type=patch_type,
                subresource=subresource,
                dry_run=dry_run,
                field_manager=field_manager,
                force=force,
            )
        )

    def apply(
        self,
        obj: Mapping[str, Any],
        namespace: str | None = None,
        *,
        field_manager: str = "kubeops",
        force: bool = False,
        dry_run: bool = False,
        subresource: str | None = None,
    ) -> Object:
        """See :meth:`Client.apply`."""
        return self.run(
            self.client.apply(
                obj,
                namespace,
                field_manager=field_manager,
                force=force,
                dry_run=dry_run,
                subresource=subresource,
            )
        )

    def delete(
        self,
        kind: Kind,
        name: str,
        namespace: str | None = None,
        *,
        propagation_policy: Propagation | None = None,
        grace_period_seconds: int | None = None,
        preconditions: Mapping[str, str] | None = None,
        dry_run: bool = False,
    ) -> Object:
        """See :meth:`Client.delete`."""
        return self.run(
            self.client.delete(
                kind,
                name,
                namespace,
                propagation_policy=propagation_policy,
                grace_period_seconds=grace_period_seconds,
                preconditions=preconditions,
                dry_run=dry_run,
            )
        )

    def delete_collection(
        self,
        kind: Kind,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        propagation_policy: Propagation | None = None,
        dry_run: bool = False,
    ) -> Object:
        """See :meth:`Client.delete_collection`."""
        return self.run(
            self.client.delete_collection(
                kind,
                namespace,
                label_selector=label_selector,
                field_selector=field_selector,
                propagation_policy=propagation_policy,
                dry_run=dry_run,
            )
        )

    def scale(
        self,
        kind: Kind,
        name: str,
        replicas: int,
        namespace: str | None = None,
        *,
        dry_run: bool = False,
    ) -> Object:
        """See :meth:`Client.scale`."""
        return self.run(self.client.scale(kind, name, replicas, namespace, dry_run=dry_run))

    def watch(
        self,
        kind: Kind,
        namespace: str | None = None,
        *,
        all_namespaces: bool = False,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout_seconds: int | None = None,
        allow_bookmarks: bool = True,
        send_initial_events: bool = False,
    ) -> Generator[WatchEvent, None, None]:
        """See :meth:`Client.watch`; closing the generator closes the stream."""
        return self.stream(
            self.client.watch(
                kind,
                namespace,
                all_namespaces=all_namespaces,
                resource_version=resource_version,
                label_selector=label_selector,
                field_selector=field_selector,
                timeout_seconds=timeout_seconds,
                allow_bookmarks=allow_bookmarks,
                send_initial_events=send_initial_events,
            )
        )

    def stream_text(
        self,
        kind: Kind,
        name: str,
        namespace: str | None = None,
        *,
        subresource: str,
        params: Mapping[str, str] | None = None,
    ) -> Generator[str, None, None]:
        """See :meth:`Client.stream_text`."""
        return self.stream(
            self.client.stream_text(kind, name, namespace, subresource=subresource, params=params)
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
        accept: str = "application/json",
    ) -> Response:
        """See :meth:`Client.request`."""
        return self.run(
            self.client.request(
                method, path, params=params, body=body, content_type=content_type, accept=accept
            )
        )

    def resource(self, kind: Kind) -> ResourceType:
        """See :meth:`Client.resource`."""
        return self.run(self.client.resource(kind))

    def refresh_discovery(self) -> builtins.list[ResourceType]:
        """See :meth:`Client.refresh_discovery`."""
        return self.run(self.client.refresh_discovery())

    def stream(self, source: AsyncIterator[T]) -> Generator[T, None, None]:
        """Iterate an async iterator of the async client from blocking code."""
        try:
            while True:
                try:
                    yield self.run(_next(source))
                except StopAsyncIteration:
                    return
        finally:
            aclose = getattr(source, "aclose", None)
            if aclose is not None and not self._loop_thread.loop.is_closed():
                self.run(aclose())


class either_client(Generic[P, R]):
    """Make an async operation over :class:`Client` callable with either client.

    ``@either_client`` on ``async def cordon(client: Client, node: str) -> CordonResult``
    gives one ``cordon``: ``await cordon(client, "n1")`` with a ``Client``, and
    ``cordon(sync_client, "n1")`` -- blocking, returning the ``CordonResult`` --
    with a ``SyncClient``.  Parameters and docstring are the async function's.
    """

    def __init__(self, operation: Callable[Concatenate[Client, P], Coroutine[Any, Any, R]]) -> None:
        self.operation = operation
        functools.update_wrapper(self, operation)

    @overload
    def __call__(self, client: SyncClient, /, *args: P.args, **kwargs: P.kwargs) -> R: ...
    @overload
    def __call__(
        self, client: Client, /, *args: P.args, **kwargs: P.kwargs
    ) -> Coroutine[Any, Any, R]: ...
    def __call__(
        self, client: Client | SyncClient, /, *args: P.args, **kwargs: P.kwargs
    ) -> R | Coroutine[Any, Any, R]:
        if isinstance(client, SyncClient):
            return client.run(self.operation(client.client, *args, **kwargs))
        return self.operation(client, *args, **kwargs)

    def __repr__(self) -> str:
        return f"<operation {self.operation.__module__}.{self.operation.__qualname__}>"


class either_client_stream(Generic[P, R]):
    """:func:`either_client` for an operation that yields (logs, events): with a
    ``SyncClient`` it returns a blocking generator; closing it closes the stream."""

    def __init__(self, operation: Callable[Concatenate[Client, P], AsyncIterator[R]]) -> None:
        self.operation = operation
        functools.update_wrapper(self, operation)

    @overload
    def __call__(
        self, client: SyncClient, /, *args: P.args, **kwargs: P.kwargs
    ) -> Generator[R, None, None]: ...
    @overload
    def __call__(
        self, client: Client, /, *args: P.args, **kwargs: P.kwargs
    ) -> AsyncIterator[R]: ...
    def __call__(
        self, client: Client | SyncClient, /, *args: P.args, **kwargs: P.kwargs
    ) -> Generator[R, None, None] | AsyncIterator[R]:
        if isinstance(client, SyncClient):
            return client.stream(self.operation(client.client, *args, **kwargs))
        return self.operation(client, *args, **kwargs)

    def __repr__(self) -> str:
        return f"<streaming operation {self.operation.__module__}.{self.operation.__qualname__}>"


async def _next(source: AsyncIterator[T]) -> T:
    return await anext(source)


async def _make(config: ClusterConfig | None, options: dict[str, Any]) -> Client:
    return Client(config, **options)
