"""Waiting for an informer's first list: patient by default, and with ``fail_fast`` it
gives up at once on the errors retrying cannot fix -- but not on transient ones."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest

from kubeops.api import Client, RetryPolicy
from kubeops.cache import SharedInformer, is_fatal_watch_error
from kubeops.config import load_config
from kubeops.errors import (
    ApiError,
    ConnectionFailed,
    Forbidden,
    Gone,
    InternalError,
    NotFound,
    TooManyRequests,
    Unauthorized,
    UnknownKind,
)
from kubeops.testenv import Cluster, async_eventually


def api_error(kind: type[ApiError], status: int) -> ApiError:
    return kind("refused", status=status, reason=kind.__name__, verb="list", resource="pods")


def test_what_is_fatal_is_defined_once() -> None:
    assert is_fatal_watch_error(api_error(Forbidden, 403))
    assert is_fatal_watch_error(api_error(Unauthorized, 401))
    assert is_fatal_watch_error(api_error(NotFound, 404))
    assert is_fatal_watch_error(UnknownKind("widgets"))
    assert not is_fatal_watch_error(ConnectionFailed("https://127.0.0.1:1", "refused"))
    assert not is_fatal_watch_error(api_error(TooManyRequests, 429))
    assert not is_fatal_watch_error(api_error(Gone, 410))
    assert not is_fatal_watch_error(api_error(InternalError, 500))
    assert not is_fatal_watch_error(TimeoutError())


async def test_a_forbidden_kind_fails_fast(kube_cluster: Cluster, kube_namespace: str) -> None:
    getter = kube_cluster.service_account_kubeconfig(
        "getter",
        [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}],
        namespace=kube_namespace,
    )
    async with Client(load_config(getter, namespace=kube_namespace)) as limited:
        informer = SharedInformer(limited, "configmaps", namespace=kube_namespace)
        informer.start()
        try:
            started = time.monotonic()
            with pytest.raises(Forbidden, match="configmaps"):
                await informer.wait_for_sync(30, fail_fast=True)
            assert time.monotonic() - started < 10
            # By default the wait is patient (a RoleBinding may come later): it times out.
            assert await informer.wait_for_sync(0.2) is False
            assert isinstance(informer.last_error, Forbidden)
        finally:
            await informer.stop()


async def test_an_unknown_kind_fails_fast(client: Client) -> None:
    informer = SharedInformer(client, "widgets.nowhere.kubeops.dev", namespace=client.namespace)
    informer.start()
    try:
        started = time.monotonic()
        with pytest.raises(UnknownKind, match="widgets"):
            await informer.wait_for_sync(30, fail_fast=True)
        assert time.monotonic() - started < 10
    finally:
        await informer.stop()


@contextlib.asynccontextmanager
async def refusing_until_forwarding(server: str) -> AsyncIterator[tuple[str, asyncio.Event]]:
    """A local address that refuses connections until ``forward`` is set, then relays
    them to ``server`` -- an API server that is down for a while, then back."""
    target = urlsplit(server)
    assert target.hostname is not None
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
    port = listener.getsockname()[1]
    forward = asyncio.Event()

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(
            target.hostname, target.port or 443
        )

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except ConnectionError:
                pass
            finally:
                sink.close()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    async def serve_when_forwarding() -> None:
        await forward.wait()
        listener.listen()
        relay_server = await asyncio.start_server(relay, sock=listener)
        async with relay_server:
            await relay_server.serve_forever()

    serving = asyncio.create_task(serve_when_forwarding())
    try:
        yield f"https://127.0.0.1:{port}", forward
    finally:
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
        listener.close()


async def test_a_transient_error_does_not_fail_fast(
    kube_cluster: Cluster, kube_namespace: str
) -> None:
    config = load_config(kube_cluster.kubeconfig, namespace=kube_namespace)
    async with refusing_until_forwarding(config.server) as (address, forward):
        assert urlsplit(config.server).hostname == "127.0.0.1"  # the certificate's name too
        down = dataclasses.replace(config, server=address)
        async with Client(down, retry=RetryPolicy(max_retries=0)) as client:
            informer = SharedInformer(client, "configmaps", namespace=kube_namespace)
            informer.start()
            try:
                syncing = asyncio.create_task(informer.wait_for_sync(60, fail_fast=True))
                await async_eventually(
                    lambda: informer.last_error is not None,
                    timeout=20,
                    message="the refused connection to be reported",
                )
                assert isinstance(informer.last_error, ConnectionFailed)
                assert not syncing.done()  # still waiting: the error is not fatal
                forward.set()  # the server is back
                assert await syncing is True
                assert informer.last_error is None
            finally:
                await informer.stop()
