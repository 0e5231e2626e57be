"""Talking to the API server: resource types, discovery, the async ``Client`` and its
blocking twin ``SyncClient``.

Everything above this layer talks to Kubernetes through ``Client``: CRUD, lists,
watches, patches and server-side apply for any kind; subresources (``create(...,
kind="pods", subresource="eviction")``, ``stream_text(..., subresource="log")``);
raw paths (``request("GET", "/version")``); and per-call settings
(``with_options(timeout=..., retry=...)``) over one connection pool.
"""

from kubeops.api.client import CallOptions, Client, Kind, PatchType, WatchEvent
from kubeops.api.manifest import wait_for_crd_established
from kubeops.api.mapper import Mapper, UnknownKind
from kubeops.api.object import Object
from kubeops.api.resource import BUILTIN, InvalidPathSegment, ResourceType
from kubeops.api.retry import retry_on_conflict
from kubeops.api.sync import SyncClient, SyncClientMisuse, either_client, either_client_stream
from kubeops.api.typed import SyncTypedApi, TypedApi, TypedResource
from kubeops.transport.backoff import Backoff, RetryPolicy
from kubeops.transport.transport import Response, Timeouts

__all__ = [
    "BUILTIN",
    "Backoff",
    "CallOptions",
    "Client",
    "InvalidPathSegment",
    "Kind",
    "Mapper",
    "Object",
    "PatchType",
    "ResourceType",
    "Response",
    "RetryPolicy",
    "SyncClient",
    "SyncClientMisuse",
    "SyncTypedApi",
    "Timeouts",
    "TypedApi",
    "TypedResource",
    "UnknownKind",
    "WatchEvent",
    "either_client",
    "either_client_stream",
    "retry_on_conflict",
    "wait_for_crd_established",
]
