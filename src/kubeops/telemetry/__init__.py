"""OpenTelemetry traces for kubeops: off unless the standard ``OTEL_*`` variables turn
them on, so a process that does not trace never imports the SDK.

:func:`configure_tracing` is called once by each daemon at start.  Until it turns
tracing on, :func:`span` and :func:`start_span` hand back one shared no-op object
and :func:`capture` returns None, so the code they sit in pays a function call and
a test of one global, and nothing is stored per work-queue item.

:func:`current_trace_id` is what the JSON log formatter asks for every record; it
answers without importing anything when tracing was never configured.

The spans kubeops makes (their names are stable):

* ``GET pods``, ``PATCH deployments.apps``... -- one CLIENT span per API request and
  its retries (``http.request.method``, ``http.response.status_code``,
  ``k8s.namespace.name``, ``kubeops.verb``, ``kubeops.resource``, ``kubeops.name``,
  ``kubeops.retries``); a raw path's is named by its method alone;
* ``controller.event`` (an informer event queueing a key) and ``reconcile``;
* ``inspect.run``, ``inspect.cluster``, ``inspect.category``;
* ``respond.event``, ``respond.rule``, ``respond.action``;
* ``sync.event``, ``sync.reconcile``, ``sync.apply``.

A work queue item carries its enqueuer's context, so the reconcile or action an
event caused continues that event's trace.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Protocol, cast

from kubeops._exports import lazy_exports

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from kubeops.telemetry.settings import TraceSettings, TracingConfigError, trace_settings

AttributeValue = str | bool | int | float
Attributes = dict[str, AttributeValue]


class Span(Protocol):
    """What kubeops does with a span: OpenTelemetry's ``Span`` when tracing, a no-op otherwise."""

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        """Record one attribute (ignored when not tracing)."""

    def end(self) -> None:
        """End a span from :func:`start_span` (those from :func:`span` end on their own)."""

    def is_recording(self) -> bool:
        """Whether anything set on this span is kept (False when not tracing or not sampled)."""


class _NoopSpan:
    """The span and context manager of a process that does not trace: stateless, shared."""

    __slots__ = ()

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        pass

    def end(self) -> None:
        pass

    def is_recording(self) -> bool:
        return False

    def __enter__(self) -> _NoopSpan:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


_NOOP = _NoopSpan()
NOOP_SPAN: Span = _NOOP
"""The span of a process that does not trace, for a parameter's default."""
_tracer: Any = None  # opentelemetry.trace.Tracer once configured
_provider: Any = None  # opentelemetry.sdk.trace.TracerProvider once configured


def configure_tracing(service_name: str) -> bool:
    """Turn tracing on if the ``OTEL_*`` variables ask for it; True when they did.

    ``service_name`` (``kubeops-respond``, say) is used unless ``OTEL_SERVICE_NAME``
    or ``service.name`` in ``OTEL_RESOURCE_ATTRIBUTES`` names the service.  Off (and
    nothing of OpenTelemetry imported) when no exporter is named and no OTLP endpoint
    is given, when ``OTEL_TRACES_EXPORTER=none`` or ``OTEL_SDK_DISABLED=true``.  A
    variable that cannot be used raises :class:`TracingConfigError` naming it.
    Calling it again replaces the earlier set-up (its pending spans are flushed).
    """
    import os

    from kubeops.telemetry.settings import trace_settings

    settings = trace_settings(os.environ)
    if settings is None:
        return False
    _install(settings, service_name)
    return True


def _install(settings: TraceSettings, service_name: str) -> None:
    global _tracer, _provider
    from kubeops.telemetry._sdk import build_provider

    provider, tracer = build_provider(settings, settings.service_name or service_name)
    shutdown_tracing()
    _provider, _tracer = provider, tracer


def shutdown_tracing() -> None:
    """Export what is pending and turn tracing off again (a daemon's exit; tests)."""
    global _tracer, _provider
    provider, _provider, _tracer = _provider, None, None
    if provider is not None:
        provider.shutdown()


def flush_tracing(timeout: float = 10.0) -> bool:
    """Export every span ended so far now, not at the next batch; False if it timed out."""
    if _provider is None:
        return True
    return bool(_provider.force_flush(int(timeout * 1000)))


def tracing_enabled() -> bool:
    """Whether :func:`configure_tracing` turned tracing on in this process."""
    return _tracer is not None


def span(
    name: str, attributes: Attributes | None = None, *, parent: object | None = None
) -> AbstractContextManager[Span]:
    """A span that is current inside the ``with`` block and ends with it.

    An exception leaving the block is recorded on it and marks it failed.
    ``parent`` is a context from :func:`capture` (an item's enqueuer's), the
    current one when None.
    """
    tracer = _tracer
    if tracer is None:
        return _NOOP
    return cast(
        "AbstractContextManager[Span]",
        tracer.start_as_current_span(name, context=parent, attributes=attributes),
    )


def start_span(
    name: str,
    attributes: Attributes | None = None,
    *,
    parent: object | None = None,
    client: bool = False,
) -> Span:
    """A span that is not made current; the caller ends it (an API request's, say,
    which has no children and may outlive the block that started it).  ``client``
    marks a request to another service (span kind CLIENT)."""
    tracer = _tracer
    if tracer is None:
        return _NOOP
    if client:
        from opentelemetry.trace import SpanKind

        return cast(
            Span,
            tracer.start_span(name, context=parent, attributes=attributes, kind=SpanKind.CLIENT),
        )
    return cast(Span, tracer.start_span(name, context=parent, attributes=attributes))


def detached() -> AbstractContextManager[object]:
    """No span current inside the ``with`` block: for starting long-lived work (a watch)
    from inside a span, which would otherwise parent everything it ever does."""
    if _tracer is None:
        return _NOOP
    return _Detached()


class _Detached:
    __slots__ = ("_token",)

    def __enter__(self) -> _Detached:
        from opentelemetry import context

        self._token = context.attach(context.Context())
        return self

    def __exit__(self, *exc: object) -> None:
        from opentelemetry import context

        context.detach(self._token)


def capture() -> object | None:
    """The current trace context, for whoever carries work on later (a queued key);
    None when not tracing or no span is current, so nothing needs storing."""
    if _tracer is None:
        return None
    from opentelemetry import context, trace

    current = context.get_current()
    if not trace.get_current_span(current).get_span_context().is_valid:
        return None
    return current


def fail(failed: Span, description: str, error_type: str | None = None) -> None:
    """Mark a span failed with a one-line description (and ``error.type``)."""
    if _tracer is None or not failed.is_recording():
        return
    from opentelemetry.trace import Status, StatusCode

    if error_type:
        failed.set_attribute("error.type", error_type)
    failed.set_status(Status(StatusCode.ERROR, description))  # type: ignore[attr-defined]


def current_trace_id() -> str | None:
    """The active span's trace id as 32 hex digits, or None (no tracing, no span)."""
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:
        return None
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


__all__ = [
    "NOOP_SPAN",
    "AttributeValue",
    "Attributes",
    "Span",
    "TraceSettings",
    "TracingConfigError",
    "capture",
    "configure_tracing",
    "current_trace_id",
    "detached",
    "fail",
    "flush_tracing",
    "shutdown_tracing",
    "span",
    "start_span",
    "trace_settings",
    "tracing_enabled",
]

# The settings' names, imported only when asked for: a process that never traces skips them.
_DEFINED_IN = {
    "TraceSettings": "kubeops.telemetry.settings",
    "TracingConfigError": "kubeops.telemetry.settings",
    "trace_settings": "kubeops.telemetry.settings",
}
__getattr__, __dir__ = lazy_exports(__name__, _DEFINED_IN, __all__)
