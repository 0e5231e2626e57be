"""OpenTelemetry traces for kubeops: off unless the standard ``OTEL_*`` variables turn
them on, so a process that does not trace never imports the SDK.

:func:`current_trace_id` is what the JSON log formatter asks for every record; it
answers without importing anything when tracing was never configured.
"""

from __future__ import annotations

import sys


def current_trace_id() -> str | None:
    """The active span's trace id as 32 hex digits, or None (no tracing, no span)."""
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:
        return None
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None
