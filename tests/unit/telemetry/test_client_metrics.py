"""The rest_client_* families as Prometheus scrapes them: client-go's names, labels and
buckets; nothing recorded before a registry takes the collector."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from kubeops.telemetry.client_metrics import BUCKETS, ERROR_CODE, ClientMetrics


def test_families_labels_and_buckets_as_client_go_names_them() -> None:
    metrics = ClientMetrics()
    assert not metrics.enabled
    registry = CollectorRegistry()
    metrics.register(registry)
    assert metrics.enabled
    metrics.request("GET", "10.0.0.1:6443", "200", 0.005)  # on a bound: counted in it
    metrics.request("GET", "10.0.0.1:6443", "200", 0.3)
    metrics.request("GET", "10.0.0.1:6443", ERROR_CODE, 75.0)  # beyond the last bound
    metrics.retry("GET", "10.0.0.1:6443", ERROR_CODE)

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, {"host": "10.0.0.1:6443", **labels})

    assert value("rest_client_requests_total", code="200", method="GET") == 2
    assert value("rest_client_requests_total", code="<error>", method="GET") == 1
    assert value("rest_client_request_retries_total", code="<error>", verb="GET") == 1
    buckets = {
        le: value("rest_client_request_duration_seconds_bucket", verb="GET", le=le)
        for le in ("0.005", "0.25", "0.5", "60.0", "+Inf")
    }
    assert buckets == {"0.005": 1, "0.25": 1, "0.5": 2, "60.0": 2, "+Inf": 3}
    assert value("rest_client_request_duration_seconds_count", verb="GET") == 3
    assert value("rest_client_request_duration_seconds_sum", verb="GET") == pytest.approx(75.305)
    text = generate_latest(registry).decode()
    assert "# TYPE rest_client_requests_total counter" in text
    assert "# TYPE rest_client_request_duration_seconds histogram" in text
    assert len(BUCKETS) == 12


def test_an_empty_collector_still_names_its_families() -> None:
    registry = CollectorRegistry()
    ClientMetrics().register(registry)
    text = generate_latest(registry).decode()
    for family in ("rest_client_requests", "rest_client_request_duration_seconds",
                   "rest_client_request_retries"):  # fmt: skip
        assert f"# TYPE {family}" in text
