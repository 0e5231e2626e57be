"""Every error kubeops raises on purpose, from one public place.

``KubeopsError`` is the root: the CLI prints one as a single readable line;
anything else escaping is a bug and keeps its traceback.  The typed API errors
(``NotFound``, ``Conflict``, ``Forbidden``...) and the ``is_*`` predicates are
client-go's ``apimachinery/pkg/api/errors``; configuration errors name the file
and the entry.  Import them from here -- ``from kubeops.errors import NotFound``
-- not from the modules that define them.

The re-exports are resolved on first use, so that the layers below can import
``KubeopsError`` from here without an import cycle.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any


class KubeopsError(Exception):
    """An error a user can cause or fix: it names the object, the operation and the cause."""


if TYPE_CHECKING:
    from kubeops.api.mapper import UnknownKind
    from kubeops.api.sync import SyncClientMisuse
    from kubeops.config.errors import ConfigError, ExecPluginError
    from kubeops.transport.errors import (
        AlreadyExists,
        ApiError,
        BadRequest,
        CircuitOpen,
        ConnectionFailed,
        Conflict,
        FieldCause,
        Forbidden,
        Gone,
        InternalError,
        Invalid,
        MethodNotAllowed,
        NotFound,
        ServerTimeout,
        ServiceUnavailable,
        TooManyRequests,
        Unauthorized,
        is_already_exists,
        is_bad_request,
        is_conflict,
        is_connection_failed,
        is_forbidden,
        is_gone,
        is_internal_error,
        is_invalid,
        is_method_not_allowed,
        is_not_acceptable,
        is_not_found,
        is_request_entity_too_large,
        is_resource_expired,
        is_server_timeout,
        is_service_unavailable,
        is_timeout,
        is_too_many_requests,
        is_unauthorized,
        is_unsupported_media_type,
    )

_DEFINED_IN = {
    "kubeops.transport.errors": (
        "AlreadyExists ApiError BadRequest CircuitOpen ConnectionFailed Conflict FieldCause "
        "Forbidden Gone InternalError Invalid MethodNotAllowed NotFound ServerTimeout "
        "ServiceUnavailable TooManyRequests Unauthorized is_already_exists is_bad_request "
        "is_conflict is_connection_failed is_forbidden is_gone is_internal_error is_invalid "
        "is_method_not_allowed is_not_acceptable is_not_found is_request_entity_too_large "
        "is_resource_expired is_server_timeout is_service_unavailable is_timeout "
        "is_too_many_requests is_unauthorized is_unsupported_media_type"
    ).split(),
    "kubeops.config.errors": ["ConfigError", "ExecPluginError"],
    "kubeops.api.mapper": ["UnknownKind"],
    "kubeops.api.sync": ["SyncClientMisuse"],
}
_MODULE_OF = {name: module for module, names in _DEFINED_IN.items() for name in names}

__all__ = ["KubeopsError", *sorted(_MODULE_OF)]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'kubeops.errors' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
