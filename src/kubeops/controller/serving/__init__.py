"""The HTTP port every kubeops daemon shares (``inspect serve``, and the respond, sync
and policy daemons as they land): bearer-token or Kubernetes (TokenReview +
SubjectAccessReview) authentication, TLS from files re-read on change, open probe
paths for the kubelet, bounded path parameters and errors that never show a
traceback.  The counterpart of kube-rbac-proxy and of the Kubernetes components'
``--authentication-kubeconfig``/``--authorization-kubeconfig`` delegation.

A daemon builds a :class:`SecurePort` from :class:`ServingOptions`, adds its
routes to :meth:`SecurePort.application` and calls :meth:`SecurePort.start`;
:func:`configure_daemon` its ``--log-format``/``--log-level`` log (one line per
record, the same keys in every daemon; :func:`log_event` for a record with fields)
and its traces, and :func:`run_until_signalled` its graceful stop on SIGTERM.
"""

from kubeops.controller.serving.authn import TokenFile, TokenReviewAuthenticator, User
from kubeops.controller.serving.authz import SubjectAccessReviewAuthorizer
from kubeops.controller.serving.bounds import MAX_ID, path_int, path_name, query_int
from kubeops.controller.serving.certificates import ServingCertificate
from kubeops.controller.serving.logs import (
    LOG_FORMATS,
    LOG_LEVELS,
    JsonLogFormatter,
    TextLogFormatter,
    configure_daemon,
    configure_daemon_logs,
    event_fields,
    log_event,
    log_formatter,
    object_fields,
)
from kubeops.controller.serving.options import (
    ALWAYS_ALLOW,
    AUTH_MODES,
    ResourceAttributes,
    ServingError,
    ServingOptions,
    is_loopback,
    parse_lease_duration,
    parse_listen,
    parse_resource_attributes,
)
from kubeops.controller.serving.server import USER, SecurePort, add_probe_routes, plain
from kubeops.controller.serving.signals import run_until_signalled, run_until_stopped

__all__ = [
    "ALWAYS_ALLOW",
    "AUTH_MODES",
    "LOG_FORMATS",
    "LOG_LEVELS",
    "MAX_ID",
    "USER",
    "JsonLogFormatter",
    "ResourceAttributes",
    "SecurePort",
    "ServingCertificate",
    "ServingError",
    "ServingOptions",
    "SubjectAccessReviewAuthorizer",
    "TextLogFormatter",
    "TokenFile",
    "TokenReviewAuthenticator",
    "User",
    "add_probe_routes",
    "configure_daemon",
    "configure_daemon_logs",
    "event_fields",
    "is_loopback",
    "log_event",
    "log_formatter",
    "object_fields",
    "parse_lease_duration",
    "parse_listen",
    "parse_resource_attributes",
    "path_int",
    "path_name",
    "plain",
    "query_int",
    "run_until_signalled",
    "run_until_stopped",
]
