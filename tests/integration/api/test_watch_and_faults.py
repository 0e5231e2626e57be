"""Watch streams, discovery of new CRDs, RBAC denials and real transport faults."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aiohttp import web

from kubeops.api import Client, UnknownKind
from kubeops.config import ClusterConfig, load_config
from kubeops.testenv import Cluster, Environment
from kubeops.transport.backoff import Backoff, RetryPolicy
from kubeops.transport.breaker import CircuitBreaker
from kubeops.transport.errors import (
    CircuitOpen,
    ConnectionFailed,
    Forbidden,
    Gone,
    TooManyRequests,
)


async def test_watch_sees_added_modified_deleted_in_order(client: Client) -> None:
    start = (await client.list("configmaps"))["metadata"]["resourceVersion"]

    async def writes() -> None:
        await client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "w"}})
        await client.patch("cm", "w", {"data": {"k": "v"}})
        await client.delete("cm", "w")

    await writes()
    seen = []
    async for event in client.watch("configmaps", resource_version=start, timeout_seconds=2):
        if event.object["metadata"].get("name") == "w":
            seen.append(event.type)
        if len(seen) == 3:
            break
    assert seen == ["ADDED", "MODIFIED", "DELETED"]


async def test_watch_from_a_compacted_revision_raises_gone(
    kube_env: Environment, client: Client
) -> None:
    old = await client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "o"}})
    await client.patch("cm", "o", {"data": {"a": "b"}})
    kube_env.compact()
    rv = old["metadata"]["resourceVersion"]
    deadline = time.monotonic() + 30
    while True:
        try:
            async for _ in client.watch("configmaps", resource_version=rv):
                pytest.fail("a compacted resourceVersion must not stream events")
        except Gone:
            break
        except TooManyRequests:
            # Right after the restart the watch cache may still be initialising.
            assert time.monotonic() < deadline
            await asyncio.sleep(0.2)
    with pytest.raises(Gone, match=r"watch configmaps .*too old resource version.*\(410\)"):
        async for _ in client.watch("configmaps", resource_version=rv):
            pass


async def test_a_crd_created_after_start_is_found_by_discovery(client: Client) -> None:
    crd: dict[str, Any] = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {
                "kind": "Widget",
                "plural": "widgets",
                "singular": "widget",
                "shortNames": ["wg"],
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }
    await client.apply(crd)
    deadline = time.monotonic() + 30
    while True:
        status = (await client.get("crd", "widgets.example.com")).get("status") or {}
        if any(
            c["type"] == "Established" and c["status"] == "True"
            for c in status.get("conditions") or []
        ):
            break
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w1"},
        "size": 3,
    }
    created = await client.create(widget)
    assert created["size"] == 3
    assert (await client.get("wg", "w1"))["metadata"]["name"] == "w1"
    with pytest.raises(UnknownKind, match=r"'widgetz'.*did you mean widgets"):
        await client.get("widgetz", "w1")


async def test_forbidden_names_who_what_and_where(
    kube_cluster: Cluster, kube_namespace: str
) -> None:
    kubeconfig = kube_cluster.service_account_kubeconfig(
        "viewer",
        [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}],
        kube_namespace,
    )
    async with Client(load_config(kubeconfig)) as client:
        with pytest.raises(Forbidden) as caught:
            await client.list("secrets")
    message = str(caught.value)
    assert f'list secrets in namespace "{kube_namespace}"' in message
    assert f"system:serviceaccount:{kube_namespace}:viewer" in message


async def test_requests_ride_through_an_api_server_restart(kube_clusters: list[Cluster]) -> None:
    cluster = kube_clusters[0]
    fast = RetryPolicy(backoff=Backoff(base=0.2, cap=1.0))
    async with Client(load_config(cluster.kubeconfig), retry=fast) as client:
        await client.get("ns", "default")
        restart = asyncio.get_running_loop().run_in_executor(None, cluster.restart_apiserver)
        results = []
        while not restart.done():
            results.append((await client.get("ns", "default"))["metadata"]["name"])
            await asyncio.sleep(0.05)
        await restart
        results.append((await client.get("ns", "default"))["metadata"]["name"])
    assert set(results) == {"default"}


async def test_unreachable_cluster_fails_with_address_and_cause_then_fails_fast(
    kube_clusters: list[Cluster],
) -> None:
    cluster = kube_clusters[1]
    config = load_config(cluster.kubeconfig)
    cluster.stop()
    try:
        no_retry = RetryPolicy(max_retries=0)
        breaker = CircuitBreaker(config.server, failure_threshold=2, cooldown=60)
        async with Client(config, retry=no_retry, breaker=breaker) as client:
            for _ in range(2):
                with pytest.raises(ConnectionFailed) as caught:
                    await client.get("ns", "default")
                assert config.server in str(caught.value)
                assert 'get namespaces "default"' in str(caught.value)
            started = time.monotonic()
            with pytest.raises(CircuitOpen, match="circuit breaker open"):
                await client.get("ns", "default")
            assert time.monotonic() - started < 0.5
    finally:
        cluster.start()


async def test_429_with_retry_after_is_waited_out(unused_tcp_port: int) -> None:
    calls: list[float] = []

    async def handler(request: web.Request) -> web.Response:
        calls.append(time.monotonic())
        if len(calls) == 1:
            return web.json_response(
                {"kind": "Status", "status": "Failure", "reason": "TooManyRequests", "code": 429,
                 "message": "storage is (re)initializing"},
                status=429,
                headers={"Retry-After": "1"},
            )  # fmt: skip
        return web.json_response({"kind": "Namespace", "metadata": {"name": "default"}})

    app = web.Application()
    app.router.add_get("/api/v1/namespaces/default", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", unused_tcp_port).start()
    try:
        config = ClusterConfig(
            server=f"http://127.0.0.1:{unused_tcp_port}",
            namespace="default",
            context=None,
            source="a test server",
        )
        async with Client(config) as client:
            assert (await client.get("ns", "default"))["metadata"]["name"] == "default"
    finally:
        await runner.cleanup()
    assert len(calls) == 2
    assert calls[1] - calls[0] >= 1.0
