"""``Transport.stream`` cuts a body into lines however the bytes arrive: many lines to a
chunk, one line over many chunks, blank and whitespace-only lines left out, a last
line without its newline kept.  The body comes from a small local HTTP server
writing it in the chunks the test chooses."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from kubeops.config import ClusterConfig
from kubeops.transport import Operation, Transport

WATCH = Operation("watch", "configmaps")


def _body(*, big: bool) -> bytes:
    lines = [b'{"type":"ADDED","n":%d}' % i for i in range(2000 if big else 100)]
    if big:
        lines[10] = b'{"big":"' + b"x" * 3_000_000 + b'"}'  # spans many chunks
    lines[20:20] = [b"", b"  \t", b"\r"]
    return b"\n".join(lines) + b"\n" + b'{"last":"no newline"}'


def _chunks(body: bytes, size: int) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)]


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, dict[str, list[bytes]]]]:
    served: dict[str, list[bytes]] = {}

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_type = "application/json"
        await response.prepare(request)
        for chunk in served["chunks"]:
            await response.write(chunk)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/watch", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", served
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("size", [1, 7, 4096, 1 << 20, 1 << 24])
async def test_lines_come_out_whole_whatever_the_chunks(
    server: tuple[str, dict[str, list[bytes]]], size: int
) -> None:
    url, served = server
    body = _body(big=size > 1000)
    served["chunks"] = _chunks(body, size)
    config = ClusterConfig(server=url, namespace="default", context="t", source="t")
    async with Transport(config) as transport:
        lines = [line async for line in transport.stream("GET", "/watch", WATCH)]
    assert lines == [line for line in body.split(b"\n") if line.strip()]
    assert lines[-1] == b'{"last":"no newline"}'
    assert len(lines) == (2001 if size > 1000 else 101)
