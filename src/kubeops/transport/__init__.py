"""One cluster's HTTP transport: a pooled connection with TLS and credentials, a
client-side rate limit (QPS and burst), retries with backoff and ``Retry-After``, a
circuit breaker, and the typed errors the API server's answers become.

This is the layer under :class:`kubeops.api.Client`; programs use the client, whose
per-call settings (:class:`RetryPolicy`, :class:`Timeouts`) are re-exported from
:mod:`kubeops.api`, and catch the errors from :mod:`kubeops.errors`.  What is here
is for building a transport of one's own: :class:`Transport` sends one request
(:meth:`Transport.request`) or a line stream (:meth:`Transport.stream`);
:class:`TokenBucket` and :class:`CircuitBreaker` are the pieces it is made of.

Names are imported on first use, so that importing an error class from below
does not load the HTTP library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubeops._exports import lazy_exports

if TYPE_CHECKING:
    from kubeops.transport.backoff import Backoff, RetryPolicy
    from kubeops.transport.breaker import BreakerState, CircuitBreaker
    from kubeops.transport.ratelimit import DEFAULT_BURST, DEFAULT_QPS, TokenBucket
    from kubeops.transport.transport import Operation, Response, Timeouts, Transport

_DEFINED_IN = {
    "Backoff": "kubeops.transport.backoff",
    "RetryPolicy": "kubeops.transport.backoff",
    "BreakerState": "kubeops.transport.breaker",
    "CircuitBreaker": "kubeops.transport.breaker",
    "DEFAULT_BURST": "kubeops.transport.ratelimit",
    "DEFAULT_QPS": "kubeops.transport.ratelimit",
    "TokenBucket": "kubeops.transport.ratelimit",
    "Operation": "kubeops.transport.transport",
    "Response": "kubeops.transport.transport",
    "Timeouts": "kubeops.transport.transport",
    "Transport": "kubeops.transport.transport",
}

__all__ = [
    "DEFAULT_BURST",
    "DEFAULT_QPS",
    "Backoff",
    "BreakerState",
    "CircuitBreaker",
    "Operation",
    "Response",
    "RetryPolicy",
    "Timeouts",
    "TokenBucket",
    "Transport",
]

__getattr__, __dir__ = lazy_exports(__name__, _DEFINED_IN, __all__)
