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

from typing import TYPE_CHECKING

from kubeops._exports import lazy_exports


class KubeopsError(Exception):
    """An error a user can cause or fix: it names the object, the operation and the cause."""


if TYPE_CHECKING:
    from kubeops.api.mapper import (
        UnknownKind,
    )
    from kubeops.api.resource import (
        InvalidPathSegment,
    )
    from kubeops.api.sync import (
        SyncClientMisuse,
    )
    from kubeops.config.errors import (
        ConfigError,
        ExecPluginError,
    )
    from kubeops.transport.errors import (
        AlreadyExists,
        ApiError,
        BadRequest,
        CircuitOpen,
        Conflict,
        ConnectionFailed,
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

_MODULE_OF = {
    "UnknownKind": "kubeops.api.mapper",
    "InvalidPathSegment": "kubeops.api.resource",
    "SyncClientMisuse": "kubeops.api.sync",
    "ConfigError": "kubeops.config.errors",
    "ExecPluginError": "kubeops.config.errors",
    "AlreadyExists": "kubeops.transport.errors",
    "ApiError": "kubeops.transport.errors",
    "BadRequest": "kubeops.transport.errors",
    "CircuitOpen": "kubeops.transport.errors",
    "ConnectionFailed": "kubeops.transport.errors",
    "Conflict": "kubeops.transport.errors",
    "FieldCause": "kubeops.transport.errors",
    "Forbidden": "kubeops.transport.errors",
    "Gone": "kubeops.transport.errors",
    "InternalError": "kubeops.transport.errors",
    "Invalid": "kubeops.transport.errors",
    "MethodNotAllowed": "kubeops.transport.errors",
    "NotFound": "kubeops.transport.errors",
    "ServerTimeout": "kubeops.transport.errors",
    "ServiceUnavailable": "kubeops.transport.errors",
    "TooManyRequests": "kubeops.transport.errors",
    "Unauthorized": "kubeops.transport.errors",
    "is_already_exists": "kubeops.transport.errors",
    "is_bad_request": "kubeops.transport.errors",
    "is_conflict": "kubeops.transport.errors",
    "is_connection_failed": "kubeops.transport.errors",
    "is_forbidden": "kubeops.transport.errors",
    "is_gone": "kubeops.transport.errors",
    "is_internal_error": "kubeops.transport.errors",
    "is_invalid": "kubeops.transport.errors",
    "is_method_not_allowed": "kubeops.transport.errors",
    "is_not_acceptable": "kubeops.transport.errors",
    "is_not_found": "kubeops.transport.errors",
    "is_request_entity_too_large": "kubeops.transport.errors",
    "is_resource_expired": "kubeops.transport.errors",
    "is_server_timeout": "kubeops.transport.errors",
    "is_service_unavailable": "kubeops.transport.errors",
    "is_timeout": "kubeops.transport.errors",
    "is_too_many_requests": "kubeops.transport.errors",
    "is_unauthorized": "kubeops.transport.errors",
    "is_unsupported_media_type": "kubeops.transport.errors",
}

__all__ = [
    "AlreadyExists",
    "ApiError",
    "BadRequest",
    "CircuitOpen",
    "ConfigError",
    "Conflict",
    "ConnectionFailed",
    "ExecPluginError",
    "FieldCause",
    "Forbidden",
    "Gone",
    "InternalError",
    "Invalid",
    "InvalidPathSegment",
    "KubeopsError",
    "MethodNotAllowed",
    "NotFound",
    "ServerTimeout",
    "ServiceUnavailable",
    "SyncClientMisuse",
    "TooManyRequests",
    "Unauthorized",
    "UnknownKind",
    "is_already_exists",
    "is_bad_request",
    "is_conflict",
    "is_connection_failed",
    "is_forbidden",
    "is_gone",
    "is_internal_error",
    "is_invalid",
    "is_method_not_allowed",
    "is_not_acceptable",
    "is_not_found",
    "is_request_entity_too_large",
    "is_resource_expired",
    "is_server_timeout",
    "is_service_unavailable",
    "is_timeout",
    "is_too_many_requests",
    "is_unauthorized",
    "is_unsupported_media_type",
]

__getattr__, __dir__ = lazy_exports(__name__, _MODULE_OF, __all__)
