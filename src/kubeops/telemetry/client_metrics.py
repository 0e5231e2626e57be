"""API client metrics under client-go's names, so dashboards and alerts written for
Go controllers read kubeops' daemons too:

* ``rest_client_requests_total{code,method,host}`` -- every answer (each attempt),
  ``code`` ``<error>`` when none came (connection refused, reset, timeout);
* ``rest_client_request_duration_seconds{verb,host}`` -- each attempt's time to the
  answer's headers, in client-go's buckets (``verb`` is the HTTP method, as there);
* ``rest_client_request_retries_total{code,verb,host}`` -- attempts sent again.

One process-wide :data:`CLIENT_METRICS` that the transport records into only once
a daemon registered it (:meth:`ClientMetrics.register`): a command that exports no
metrics pays one attribute test per request and never imports prometheus_client.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client.registry import CollectorRegistry

BUCKETS = (0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0)
"""client-go's ``rest_client_request_duration_seconds`` buckets (upper bounds, seconds)."""
ERROR_CODE = "<error>"
"""The ``code`` of an attempt that got no HTTP answer, as client-go's."""


class ClientMetrics:
    """A prometheus_client collector of the ``rest_client_*`` families (see the module doc)."""

    def __init__(self) -> None:
        self.enabled = False
        """Whether requests are recorded: set by :meth:`register`."""
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, str], int] = {}
        self._retries: dict[tuple[str, str, str], int] = {}
        # (verb, host) -> per-bucket counts (the last one is +Inf) and the sum.
        self._durations: dict[tuple[str, str], tuple[list[int], list[float]]] = {}

    def register(self, registry: CollectorRegistry) -> None:
        """Export these families from ``registry`` (a daemon's) and start recording."""
        self.enabled = True
        registry.register(self)

    def request(self, method: str, host: str, code: str, seconds: float) -> None:
        """One attempt answered with ``code`` (or :data:`ERROR_CODE`) after ``seconds``."""
        with self._lock:
            key = (code, method, host)
            self._requests[key] = self._requests.get(key, 0) + 1
            found = self._durations.get((method, host))
            if found is None:
                found = self._durations[(method, host)] = ([0] * (len(BUCKETS) + 1), [0.0])
            found[0][bisect.bisect_left(BUCKETS, seconds)] += 1
            found[1][0] += seconds

    def retry(self, method: str, host: str, code: str) -> None:
        """An attempt that got ``code`` is sent again."""
        with self._lock:
            key = (code, method, host)
            self._retries[key] = self._retries.get(key, 0) + 1

    def describe(self) -> Iterator[Any]:
        """The families without samples (the registry checks names with it)."""
        return self._families(empty=True)

    def collect(self) -> Iterator[Any]:
        """The families with every label set seen so far."""
        return self._families(empty=False)

    def _families(self, *, empty: bool) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

        requests = CounterMetricFamily(
            "rest_client_requests_total",
            "Number of HTTP requests, partitioned by status code, method, and host.",
            labels=("code", "method", "host"),
        )
        durations = HistogramMetricFamily(
            "rest_client_request_duration_seconds",
            "Request latency in seconds. Broken down by verb, and host.",
            labels=("verb", "host"),
        )
        retries = CounterMetricFamily(
            "rest_client_request_retries_total",
            "Number of request retries, partitioned by status code, verb, and host.",
            labels=("code", "verb", "host"),
        )
        if not empty:
            with self._lock:
                counted = list(self._requests.items())
                retried = list(self._retries.items())
                timed = [(k, list(b), s[0]) for k, (b, s) in self._durations.items()]
            for key, value in counted:
                requests.add_metric(key, value)
            for key, value in retried:
                retries.add_metric(key, value)
            for pair, counts, total in timed:
                cumulative, running = [], 0
                for bound, count in zip((*map(str, BUCKETS), "+Inf"), counts, strict=True):
                    running += count
                    cumulative.append((bound, float(running)))
                durations.add_metric(pair, cumulative, total)
        yield requests
        yield durations
        yield retries


CLIENT_METRICS = ClientMetrics()
"""The process's one collector: every transport records into it once it is registered."""
