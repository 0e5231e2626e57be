"""Typed access to a kind -- typically a CRD -- declared in a few lines.

::

    class WidgetSpec(TypedDict):
        size: int

    class Widget(TypedDict, total=False):
        apiVersion: str
        kind: str
        metadata: dict[str, Any]
        spec: WidgetSpec

    Widgets = TypedResource[Widget]("example.com/v1", "Widget")
    widget = await Widgets.on(client).get("w1")   # a Widget to mypy; a dict at run time

Objects stay the plain dicts the server sends (docs/decisions.md); the TypedDict only
tells the type checker what they hold, so this costs nothing at run time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast, overload

from kubeops.api.client import Client, PatchType
from kubeops.api.object import Object
from kubeops.api.resource import ResourceType

if TYPE_CHECKING:
    from kubeops.api.sync import SyncClient

T = TypeVar("T", bound=Mapping[str, Any])


class TypedResource(Generic[T]):
    """A kind whose objects have the TypedDict ``T``; ``plural`` defaults to ``kind`` + s."""

    def __init__(
        self, api_version: str, kind: str, *, plural: str | None = None, namespaced: bool = True
    ) -> None:
        group, _, version = api_version.rpartition("/")
        self.resource = ResourceType(
            group, version, kind, plural or kind.lower() + "s", namespaced, singular=kind.lower()
        )

    @overload
    def on(self, client: SyncClient) -> SyncTypedApi[T]: ...
    @overload
    def on(self, client: Client) -> TypedApi[T]: ...
    def on(self, client: Client | SyncClient) -> TypedApi[T] | SyncTypedApi[T]:
        """This kind's verbs on ``client``: a :class:`TypedApi`, or its blocking twin
        :class:`SyncTypedApi` when given a ``SyncClient``."""
        if isinstance(client, Client):
            return TypedApi(self.resource, client)
        return SyncTypedApi(TypedApi(self.resource, client.client), client)


class TypedApi(Generic[T]):
    """The async :class:`Client`'s verbs for one kind, returning ``T``."""

    def __init__(self, resource: ResourceType, client: Client) -> None:
        self.resource = resource
        self.client = client

    async def get(self, name: str, namespace: str | None = None) -> T:
        """See :meth:`Client.get`."""
        return cast(T, await self.client.get(self.resource, name, namespace))

    async def list(self, namespace: str | None = None, **options: Any) -> list[T]:
        """The items of :meth:`Client.list` (same options)."""
        listed = await self.client.list(self.resource, namespace, **options)
        return cast(list[T], listed["items"])

    async def create(self, obj: T, namespace: str | None = None, **options: Any) -> T:
        """See :meth:`Client.create`."""
        return cast(T, await self.client.create(obj, namespace, **options))

    async def replace(self, obj: T, namespace: str | None = None, **options: Any) -> T:
        """See :meth:`Client.replace`."""
        return cast(T, await self.client.replace(obj, namespace, **options))

    async def apply(self, obj: T, namespace: str | None = None, **options: Any) -> T:
        """See :meth:`Client.apply`."""
        return cast(T, await self.client.apply(obj, namespace, **options))

    async def patch(
        self,
        name: str,
        patch: Any,
        namespace: str | None = None,
        *,
        patch_type: PatchType = "merge",
        **options: Any,
    ) -> T:
        """See :meth:`Client.patch`."""
        patched = await self.client.patch(
            self.resource, name, patch, namespace, patch_type=patch_type, **options
        )
        return cast(T, patched)

    async def delete(self, name: str, namespace: str | None = None, **options: Any) -> Object:
        """See :meth:`Client.delete`."""
        return await self.client.delete(self.resource, name, namespace, **options)

    async def watch(
        self, namespace: str | None = None, **options: Any
    ) -> AsyncIterator[tuple[str, T]]:
        """``(type, object)`` pairs of :meth:`Client.watch` (same options)."""
        async for event in self.client.watch(self.resource, namespace, **options):
            yield event.type, cast(T, event.object)


class SyncTypedApi(Generic[T]):
    """:class:`TypedApi` for the sync facade: each call runs the async one."""

    def __init__(self, api: TypedApi[T], client: SyncClient) -> None:
        self.api = api
        self._client = client

    def get(self, name: str, namespace: str | None = None) -> T:
        """See :meth:`TypedApi.get`."""
        return self._client.run(self.api.get(name, namespace))

    def list(self, namespace: str | None = None, **options: Any) -> list[T]:
        """See :meth:`TypedApi.list`."""
        return self._client.run(self.api.list(namespace, **options))

    def create(self, obj: T, namespace: str | None = None, **options: Any) -> T:
        """See :meth:`TypedApi.create`."""
        return self._client.run(self.api.create(obj, namespace, **options))

    def replace(self, obj: T, namespace: str | None = None, **options: Any) -> T:
        """See :meth:`TypedApi.replace`."""
        return self._client.run(self.api.replace(obj, namespace, **options))

    def apply(self, obj: T, namespace: str | None = None, **options: Any) -> T:
        """See :meth:`TypedApi.apply`."""
        return self._client.run(self.api.apply(obj, namespace, **options))

    def patch(self, name: str, patch: Any, namespace: str | None = None, **options: Any) -> T:
        """See :meth:`TypedApi.patch`."""
        return self._client.run(self.api.patch(name, patch, namespace, **options))

    def delete(self, name: str, namespace: str | None = None, **options: Any) -> Object:
        """See :meth:`TypedApi.delete`."""
        return self._client.run(self.api.delete(name, namespace, **options))

    def watch(self, namespace: str | None = None, **options: Any) -> Iterator[tuple[str, T]]:
        """See :meth:`TypedApi.watch`."""
        return self._client.stream(self.api.watch(namespace, **options))
