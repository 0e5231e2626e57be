"""Each API request is one CLIENT span, exported over OTLP to a receiver the test
started: method, resource, namespace, name, status code and retries -- a 404 marked
failed, and a request the transport had to send twice counted as one retry.  The same
requests are counted under client-go's ``rest_client_*`` metric names and logged as
one DEBUG line each (no credential in it)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
from prometheus_client import CollectorRegistry

from kubeops.api import Backoff, Client, RetryPolicy
from kubeops.errors import NotFound
from kubeops.telemetry.client_metrics import CLIENT_METRICS
from kubeops.testenv import async_eventually

from .receiver import Receiver


@contextlib.asynccontextmanager
async def dropping_first_connection(server: str) -> AsyncIterator[tuple[str, list[int]]]:
    """A TCP relay to the API server that closes the first connection it accepts
    unanswered (a reset a load balancer might cause) and relays every later one."""
    target = urlsplit(server)
    accepted = [0]

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted[0] += 1
        if accepted[0] == 1:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection(target.hostname, target.port)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    relay_server = await asyncio.start_server(relay, "127.0.0.1", 0)
    port = relay_server.sockets[0].getsockname()[1]
    try:
        yield f"{target.scheme}://127.0.0.1:{port}", accepted
    finally:
        relay_server.close()


async def test_requests_are_client_spans_with_method_resource_status_and_retries(
    traced: Receiver, client: Client
) -> None:
    ns = client.namespace
    await client.create(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "traced"}, "data": {}}
    )
    await client.list("configmaps")
    with pytest.raises(NotFound):
        await client.get("configmaps", "missing")

    created = await async_eventually(
        lambda: traced.one("POST configmaps", **{"k8s.namespace.name": ns}),
        message="the create's span",
    )
    assert created.client
    assert not created.error
    assert created.service == "kubeops-tests"
    assert created.attributes["http.request.method"] == "POST"
    assert created.attributes["http.response.status_code"] == 201
    assert created.attributes["kubeops.verb"] == "create"
    assert created.attributes["kubeops.resource"] == "configmaps"
    assert created.attributes["kubeops.name"] == "traced"
    assert created.attributes["kubeops.retries"] == 0

    listed = await async_eventually(
        lambda: traced.one("GET configmaps", **{"kubeops.verb": "list", "k8s.namespace.name": ns})
    )
    assert listed.attributes["http.response.status_code"] == 200
    assert "kubeops.name" not in listed.attributes

    missing = await async_eventually(
        lambda: traced.one("GET configmaps", **{"kubeops.name": "missing"})
    )
    assert missing.error
    assert missing.attributes["http.response.status_code"] == 404
    assert missing.attributes["error.type"] == "404"
    assert "not found" in missing.status_message
    # Sent with the headers OTEL_EXPORTER_OTLP_HEADERS named (decoded).
    assert traced.requests[0]["x-tenant"] == "kubeops tests"


async def test_a_request_sent_again_after_a_dropped_connection_is_one_span_with_one_retry(
    traced: Receiver, client: Client
) -> None:
    fast = RetryPolicy(backoff=Backoff(base=0.01, cap=0.05))
    async with dropping_first_connection(client.config.server) as (server, accepted):
        config = dataclasses.replace(client.config, server=server)
        async with Client(config, retry=fast) as relayed:
            namespace = await relayed.get("namespaces", client.namespace)
    assert namespace["metadata"]["name"] == client.namespace
    assert accepted[0] >= 2  # the first connection was dropped, the retry went through

    retried = await async_eventually(
        lambda: traced.one("GET namespaces", **{"kubeops.name": client.namespace})
    )
    assert retried.attributes["kubeops.retries"] == 1
    assert retried.attributes["http.response.status_code"] == 200
    assert not retried.error


def _sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


async def test_requests_are_counted_under_client_go_names_and_logged_once_at_debug(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    registry = CollectorRegistry()
    CLIENT_METRICS.register(registry)
    host = urlsplit(client.config.server).netloc
    ok = {"code": "200", "method": "GET", "host": host}
    before = _sample(registry, "rest_client_requests_total", **ok)
    caplog.set_level(logging.DEBUG, logger="kubeops.transport")
    await client.get("namespaces", client.namespace)
    with pytest.raises(NotFound):
        await client.get("configmaps", "missing")
    fast = RetryPolicy(backoff=Backoff(base=0.01, cap=0.05))
    async with dropping_first_connection(client.config.server) as (server, _accepted):
        relayed_config = dataclasses.replace(client.config, server=server)
        async with Client(relayed_config, retry=fast) as relayed:
            await relayed.get("namespaces", client.namespace)
    relayed_host = urlsplit(server).netloc

    assert _sample(registry, "rest_client_requests_total", **ok) == before + 1
    assert _sample(registry, "rest_client_requests_total", code="404", method="GET", host=host) >= 1
    dropped = {"code": "<error>", "method": "GET", "host": relayed_host}
    assert _sample(registry, "rest_client_requests_total", **dropped) == 1
    assert (
        _sample(
            registry,
            "rest_client_request_retries_total",
            code="<error>",
            verb="GET",
            host=relayed_host,
        )
        == 1
    )
    timed = {"verb": "GET", "host": relayed_host}
    assert _sample(registry, "rest_client_request_duration_seconds_count", **timed) == 2
    assert _sample(registry, "rest_client_request_duration_seconds_bucket", le="60.0", **timed) == 2

    lines = [r.getMessage() for r in caplog.records if r.name == "kubeops.transport"]
    ns_path = f"/api/v1/namespaces/{client.namespace}"
    assert [line for line in lines if line.startswith(f"GET {ns_path} 200 in ")] != []
    missing = [line for line in lines if "/configmaps/missing 404 in " in line]
    assert len(missing) == 1, lines
    assert any(
        line.startswith(f"GET {ns_path} 200 in ") and line.endswith("(1 retries)") for line in lines
    )
    # Method, path, outcome and time only: never a header, a query or a body.
    shape = re.compile(r"[A-Z]+ /[^ ?]* \w+ in \d+ ms( \(\d+ retries\))?")
    assert [line for line in lines if not shape.fullmatch(line)] == []
