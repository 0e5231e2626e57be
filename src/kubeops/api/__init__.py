"""Talking to the API server: resource types, discovery, the async ``Client`` and its
sync facade ``SyncClient``."""

from kubeops.api.client import Client, Object, WatchEvent
from kubeops.api.mapper import Mapper, UnknownKind
from kubeops.api.resource import BUILTIN, ResourceType
from kubeops.api.sync import SyncClient
from kubeops.api.typed import SyncTypedApi, TypedApi, TypedResource

__all__ = [
    "BUILTIN",
    "Client",
    "Mapper",
    "Object",
    "ResourceType",
    "SyncClient",
    "SyncTypedApi",
    "TypedApi",
    "TypedResource",
    "UnknownKind",
    "WatchEvent",
]
