"""What every daemon's ``/metrics`` shows besides its own metrics: the process
(``process_*``: CPU, memory, open files, start time; ``python_info``), so dashboards and
alerts read the same names from each daemon."""

from __future__ import annotations

import weakref
from typing import Any

_DONE: weakref.WeakSet[Any] = weakref.WeakSet()


def add_process_metrics(registry: Any) -> None:
    """Register the process collectors in ``registry`` (a prometheus_client
    ``CollectorRegistry``) once; a second call for the same registry does nothing."""
    if registry in _DONE:
        return
    from prometheus_client import PlatformCollector, ProcessCollector

    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    _DONE.add(registry)
