"""What every daemon's ``/metrics`` shows besides its own metrics: the process
(``process_*``: CPU, memory, open files, start time; ``python_info``) and its API
requests (client-go's ``rest_client_*``), so dashboards and alerts read the same names
from each daemon."""

from __future__ import annotations

import weakref
from typing import Any

_DONE: weakref.WeakSet[Any] = weakref.WeakSet()


def add_process_metrics(registry: Any) -> None:
    """Register the process collectors and the API client's request metrics
    (:data:`kubeops.telemetry.client_metrics.CLIENT_METRICS`, which then starts
    recording) in ``registry`` (a prometheus_client ``CollectorRegistry``) once; a
    second call for the same registry does nothing."""
    if registry in _DONE:
        return
    from prometheus_client import PlatformCollector, ProcessCollector

    from kubeops.telemetry.client_metrics import CLIENT_METRICS

    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    CLIENT_METRICS.register(registry)
    _DONE.add(registry)
