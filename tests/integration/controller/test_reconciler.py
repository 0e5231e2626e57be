"""A real controller against the real API server: mirror ConfigMaps, retry failures, stop cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import Counter

from kubeops.api import Client
from kubeops.cache import SharedInformer
from kubeops.controller.reconciler import Controller, Request, Result
from kubeops.errors import NotFound
from kubeops.testenv import async_eventually


async def test_mirror_controller_converges_and_retries_failures(client: Client) -> None:
    informer = SharedInformer(
        client, "configmaps", namespace=client.namespace, label_selector="mirror=yes"
    )
    lister = informer.lister()
    in_flight: set[Request] = set()
    overlaps: list[Request] = []
    attempts: Counter[str] = Counter()

    async def reconcile(request: Request) -> Result | None:
        if request in in_flight:
            overlaps.append(request)
        in_flight.add(request)
        try:
            attempts[request.name] += 1
            if request.name == "flaky" and attempts["flaky"] < 3:
                raise RuntimeError("transient failure")
            await asyncio.sleep(0.01)
            try:
                source = lister.get(request.namespace, request.name)
            except NotFound:
                with contextlib.suppress(NotFound):
                    await client.delete("cm", f"{request.name}-copy")
                return None
            copy = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"{request.name}-copy"},
                "data": source.get("data") or {},
            }
            await client.apply(copy, field_manager="mirror")
            return None
        finally:
            in_flight.discard(request)

    controller = Controller("mirror", reconcile, workers=4)
    controller.watch(informer)
    run = asyncio.create_task(controller.run(sync_timeout=20))
    try:
        for name in ("a", "b", "flaky"):
            await client.create({"apiVersion": "v1", "kind": "ConfigMap",
                                 "metadata": {"name": name, "labels": {"mirror": "yes"}}, "data": {"v": "1"}})  # fmt: skip
        for i in range(20):  # a burst of updates to one object
            await client.patch("cm", "a", {"data": {"v": str(i)}})

        async def copies() -> dict[str, str]:
            listed = await client.list("configmaps")
            return {
                c["metadata"]["name"]: (c.get("data") or {}).get("v", "") for c in listed["items"]
            }

        async def converged() -> bool:
            state = await copies()
            assert state.get("a-copy") == "19", state
            assert "b-copy" in state, state
            assert "flaky-copy" in state, state
            return True

        await async_eventually(converged, message="every copy up to date")
        assert attempts["flaky"] >= 3  # failed twice, retried with backoff, then succeeded
        assert attempts["a"] < 21  # the burst was deduplicated
        assert overlaps == []  # never two workers on one object

        await client.delete("cm", "b")

        async def copy_deleted() -> bool:
            return "b-copy" not in await copies()

        await async_eventually(copy_deleted, message="the copy of b to be deleted")
        assert controller.stats.errors == 2
    finally:
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)
        await informer.stop()
    assert controller.queue.shutting_down


async def test_requeue_after_runs_the_object_again(client: Client) -> None:
    informer = SharedInformer(
        client, "configmaps", namespace=client.namespace, label_selector="tick=yes"
    )
    runs: list[float] = []

    async def reconcile(request: Request) -> Result:
        runs.append(time.monotonic())
        return Result(requeue_after=0.2)

    controller = Controller("ticker", reconcile, workers=1)
    controller.watch(informer)
    await client.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "t", "labels": {"tick": "yes"}},
        }
    )
    run = asyncio.create_task(controller.run(sync_timeout=20))
    try:
        await async_eventually(lambda: len(runs) >= 4, message="four runs")
    finally:
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)
        await informer.stop()
    gaps = [b - a for a, b in itertools.pairwise(runs)]
    assert all(gap >= 0.15 for gap in gaps[1:])


async def test_prometheus_metrics_count_reconciles_and_queue_activity(client: Client) -> None:
    import socket
    import urllib.request

    from prometheus_client import CollectorRegistry

    from kubeops.controller.metrics import PrometheusMetrics, serve

    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry)
    informer = SharedInformer(
        client, "configmaps", namespace=client.namespace, label_selector="m=yes"
    )
    failed_once: set[str] = set()

    async def reconcile(request: Request) -> None:
        if request.name not in failed_once:
            failed_once.add(request.name)
            raise RuntimeError("first attempt fails")

    controller = Controller("metered", reconcile, workers=2, metrics_provider=metrics)
    metrics.instrument(controller)
    controller.watch(informer)
    for name in ("x", "y"):
        await client.create(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": name, "labels": {"m": "yes"}},
            }
        )
    run = asyncio.create_task(controller.run(sync_timeout=20))

    def value(metric: str, **labels: str) -> float:
        return registry.get_sample_value(metric, labels) or 0.0

    try:
        await async_eventually(
            lambda: (
                value("controller_runtime_reconcile_total", controller="metered", result="success")
                >= 2
            ),
            message="two successful reconciles",
        )
    finally:
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)
        await informer.stop()
    assert value("controller_runtime_reconcile_errors_total", controller="metered") == 2
    assert value("workqueue_adds_total", name="metered") >= 4
    assert value("workqueue_retries_total", name="metered") >= 2
    assert value("controller_runtime_max_concurrent_reconciles", controller="metered") == 2

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    serve(port, "127.0.0.1", registry)
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    assert 'controller_runtime_reconcile_total{controller="metered",result="success"}' in body
