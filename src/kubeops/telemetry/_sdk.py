"""The OpenTelemetry SDK set up from :class:`~kubeops.telemetry.settings.TraceSettings`.

Imported only when tracing is on: the SDK and the OTLP exporter (with its HTTP
library) take ~0.4 s to import, which a CLI command that does not trace never pays.
Batch size, queue and delay come from the SDK's own ``OTEL_BSP_*`` variables;
the exporter's timeout, compression and certificates from ``OTEL_EXPORTER_OTLP_*``.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider, sampling
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

from kubeops import __version__
from kubeops.telemetry.settings import TraceSettings, TracingConfigError

TRACER_NAME = "kubeops"


def build_provider(settings: TraceSettings, service_name: str) -> tuple[TracerProvider, Any]:
    """A provider exporting in batches to every exporter ``settings`` names, and its tracer."""
    resource = Resource.create({"service.name": service_name, "service.version": __version__})
    provider = TracerProvider(resource=resource, sampler=_sampler(settings))
    try:
        for name in settings.exporters:
            provider.add_span_processor(BatchSpanProcessor(_exporter(name, settings)))
    except ValueError as err:  # the SDK's own checks of OTEL_BSP_* and the exporter's variables
        provider.shutdown()
        raise TracingConfigError(f"OTEL_BSP_* / OTEL_EXPORTER_OTLP_* settings: {err}") from err
    return provider, provider.get_tracer(TRACER_NAME, __version__)


def _exporter(name: str, settings: TraceSettings) -> SpanExporter:
    if name == "console":
        return ConsoleSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=settings.endpoint, headers=dict(settings.headers))


def _sampler(settings: TraceSettings) -> sampling.Sampler:
    name = settings.sampler
    root: sampling.Sampler
    base = name.removeprefix("parentbased_")
    if base == "always_on":
        root = sampling.ALWAYS_ON
    elif base == "always_off":
        root = sampling.ALWAYS_OFF
    else:
        root = sampling.TraceIdRatioBased(settings.sampler_arg)
    return sampling.ParentBased(root) if name.startswith("parentbased_") else root
