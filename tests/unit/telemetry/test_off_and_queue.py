"""Off, tracing costs nothing: no OpenTelemetry import, a shared no-op span, nothing
stored per work-queue item.  On, a queued item carries the context of whoever added
it first to its worker, through delays and re-adds while it is being processed."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from opentelemetry import trace

from kubeops import telemetry
from kubeops.workqueue import RateLimitingQueue, WorkQueue

UNTRACED = """
import json, sys
from kubeops import telemetry
enabled = telemetry.configure_tracing("kubeops-test")
import kubeops.api, kubeops.workqueue, kubeops.controller.reconciler
import kubeops.inspect.runner, kubeops.respond.engine, kubeops.sync.engine
from kubeops.workqueue import WorkQueue
with telemetry.span("x", {"a": 1}) as span:
    span.set_attribute("b", 2)
telemetry.start_span("y").end()
print(json.dumps({
    "enabled": enabled,
    "imported": sorted(m for m in sys.modules if m.startswith("opentelemetry")),
    "capture": telemetry.capture(),
    "trace_id": telemetry.current_trace_id(),
}))
"""


def test_off_by_default_nothing_of_opentelemetry_is_imported() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["OTEL_SERVICE_NAME"] = "kubeops-test"  # a name alone turns nothing on
    done = subprocess.run(
        [sys.executable, "-c", UNTRACED], env=env, capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout) == {
        "enabled": False,
        "imported": [],
        "capture": None,
        "trace_id": None,
    }


def _per_call_us(call: object, rounds: int = 5, n: int = 20_000) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(n):
            call()  # type: ignore[operator]
        best = min(best, time.perf_counter() - started)
    return best / n * 1e6


def test_an_untraced_span_is_a_shared_no_op_costing_well_under_a_microsecond() -> None:
    telemetry.shutdown_tracing()
    span = telemetry.span("reconcile", {"kubeops.name": "x"})
    assert span is telemetry.span("other") is telemetry.start_span("x") is telemetry.NOOP_SPAN
    assert not span.is_recording()

    def with_span() -> None:
        with telemetry.span("reconcile") as opened:
            opened.set_attribute("kubeops.name", "x")

    def started() -> None:
        telemetry.start_span("GET pods").end()

    # ~0.2-0.4 us each on a development machine; the bound leaves room for a loaded CI one.
    assert _per_call_us(with_span) < 5
    assert _per_call_us(started) < 5
    assert _per_call_us(telemetry.capture) < 5


async def test_an_untraced_queue_stores_nothing_per_item() -> None:
    telemetry.shutdown_tracing()
    queue: RateLimitingQueue[str] = RateLimitingQueue()
    queue.add("a")
    queue.add_after("b", 0.001)
    assert await queue.get() == "a"
    assert queue.trace_context("a") is None
    assert await queue.get() == "b"
    assert (queue._contexts, queue._active_contexts, queue._waiting_contexts) == ({}, {}, {})
    queue.shutdown()


@pytest.fixture
def tracing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tracing on with the console exporter (its output is captured by pytest)."""
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)
    assert telemetry.configure_tracing("kubeops-test")
    yield
    telemetry.shutdown_tracing()


def _span_id(context: object | None) -> int:
    assert context is not None
    return trace.get_current_span(context).get_span_context().span_id  # type: ignore[arg-type]


def _id(span: telemetry.Span) -> int:
    return span.get_span_context().span_id  # type: ignore[attr-defined,no-any-return]


async def test_an_item_carries_the_context_it_was_first_added_in(tracing: None) -> None:
    queue: RateLimitingQueue[str] = RateLimitingQueue()
    with telemetry.span("first") as first:
        queue.add("a")
    with telemetry.span("second"):
        queue.add("a")  # deduplicated: the first add's context stays
    queue.add("b")  # no span current: nothing to carry
    with telemetry.span("later") as later:
        queue.add_after("c", 0.01)

    assert await queue.get() == "a"
    assert _span_id(queue.trace_context("a")) == _id(first)
    with telemetry.span("while processing") as meanwhile:
        queue.add("a")  # dirty: queued again on done, with this context
    queue.done("a")
    assert queue.trace_context("a") is None
    assert await queue.get() == "b"
    assert queue.trace_context("b") is None
    assert await queue.get() == "a"
    assert _span_id(queue.trace_context("a")) == _id(meanwhile)
    assert await queue.get() == "c"  # through the delaying queue's timer
    assert _span_id(queue.trace_context("c")) == _id(later)
    for item in ("a", "b", "c"):
        queue.done(item)
    assert (queue._contexts, queue._active_contexts, queue._waiting_contexts) == ({}, {}, {})
    queue.shutdown()


async def test_a_span_started_from_a_carried_context_continues_its_trace(tracing: None) -> None:
    queue: WorkQueue[str] = WorkQueue()
    with telemetry.span("event") as event:
        queue.add("key")
        trace_id = telemetry.current_trace_id()
    item = await asyncio.wait_for(queue.get(), 5)
    assert telemetry.current_trace_id() is None
    with telemetry.span("reconcile", parent=queue.trace_context(item)) as work:
        assert telemetry.current_trace_id() == trace_id
        assert work.parent.span_id == _id(event)  # type: ignore[attr-defined]
    queue.done(item)
    queue.shutdown()


def test_batch_settings_the_sdk_refuses_are_one_line_naming_the_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    telemetry.shutdown_tracing()
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "64")  # below the export batch of 512
    with pytest.raises(telemetry.TracingConfigError) as caught:
        telemetry.configure_tracing("kubeops-test")
    assert str(caught.value).startswith("OTEL_BSP_* / OTEL_EXPORTER_OTLP_* settings: ")
    assert "max_queue_size" in str(caught.value)
    assert not telemetry.tracing_enabled()


async def test_work_started_detached_belongs_to_no_trace(tracing: None) -> None:
    seen: list[str | None] = []

    async def watch() -> None:  # a long-lived task: it copies the context it starts in
        seen.append(telemetry.current_trace_id())

    with telemetry.span("reconcile"):
        assert telemetry.current_trace_id() is not None
        with telemetry.detached():
            detached = asyncio.create_task(watch())
        assert telemetry.current_trace_id() is not None
        inherited = asyncio.create_task(watch())
    await asyncio.gather(detached, inherited)
    assert seen[0] is None
    assert seen[1] is not None
