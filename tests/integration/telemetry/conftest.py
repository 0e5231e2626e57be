"""kubeops' tracing pointed, through the standard ``OTEL_*`` variables only, at an
OTLP receiver the test started (:mod:`.receiver`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from integration.respond.daemon.harness import http, kubeconfig, spawn
from integration.sync.conftest import make_policy, start_controller, sync_ns, sync_world
from kubeops import telemetry

from .receiver import Receiver, serve_otlp

# The multi-cluster sync world (hub, source, two targets; shared with the sync tests and
# set up once a session) for the sync trace test; the respond daemon tests' subprocess
# harness for the daemon's.
__all__ = [
    "http",
    "kubeconfig",
    "make_policy",
    "spawn",
    "start_controller",
    "sync_ns",
    "sync_world",
]


@pytest.fixture
def otlp_receiver() -> Iterator[Receiver]:
    """An OTLP/HTTP protobuf receiver on 127.0.0.1, stopped when the test ends."""
    with serve_otlp() as receiver:
        yield receiver


@pytest.fixture
def traced(otlp_receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    """kubeops tracing on, configured by ``OTEL_*`` variables alone, exporting to the receiver."""
    for name in ("OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_SERVICE_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", otlp_receiver.endpoint)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=kubeops%20tests")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")  # the SDK's own batch delay, in ms
    assert telemetry.configure_tracing("kubeops-tests")
    try:
        yield otlp_receiver
    finally:
        telemetry.shutdown_tracing()
