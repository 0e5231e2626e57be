"""A loopback TCP proxy between the clients and the API server that resets live
connections on demand: the connection-reset fault of the soak.

TLS passes through untouched (the API server's certificate names 127.0.0.1, so a
kubeconfig pointing at the proxy's port verifies as before).  A reset closes both
sockets with ``SO_LINGER`` zero, so the kernel sends RST, as a NAT or load balancer
dropping its state does; a client sees ``ECONNRESET`` mid-request or mid-watch.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
from dataclasses import dataclass, field

HOST = "127.0.0.1"
CHUNK = 65536


@dataclass(eq=False)
class _Pair:
    """One client connection and its upstream connection."""

    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


def _abort_with_rst(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class ResettingProxy:
    """Forwards 127.0.0.1:``port`` to ``upstream_port``; :meth:`reset` kills live connections."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self.accepted = 0
        self.resets = 0  # connections reset by :meth:`reset`
        self.refused = 0  # connections dropped because the upstream was down
        self._live: set[_Pair] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        """Listen on a free loopback port; returns it."""
        self._server = await asyncio.start_server(self._serve, HOST, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def close(self) -> None:
        """Stop listening and drop every connection."""
        if self._server is not None:
            self._server.close()
        for pair in list(self._live):
            _abort_with_rst(pair.client)
            _abort_with_rst(pair.upstream)
            for task in pair.tasks:
                task.cancel()
        self._live.clear()
        if self._server is not None:
            await self._server.wait_closed()

    @property
    def live(self) -> int:
        """Connections open through the proxy now."""
        return len(self._live)

    def reset(self, rng: random.Random, share: float = 0.7) -> int:
        """Reset each live connection with probability ``share`` (at least one when any is
        open); returns how many were reset."""
        pairs = list(self._live)
        chosen = [pair for pair in pairs if rng.random() < share]
        if pairs and not chosen:
            chosen = [rng.choice(pairs)]
        for pair in chosen:
            self._live.discard(pair)
            _abort_with_rst(pair.client)
            _abort_with_rst(pair.upstream)
        self.resets += len(chosen)
        return len(chosen)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # A connection's task ends quietly when the proxy closes: asyncio's stream server
        # logs a traceback for a handler task that ends cancelled.
        with contextlib.suppress(asyncio.CancelledError):
            await self._forward(reader, writer)

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(HOST, self.upstream_port)
        except OSError:
            # The API server is down: the client sees its connection reset, not refused.
            self.refused += 1
            _abort_with_rst(writer)
            return
        pair = _Pair(writer, up_writer)
        self._live.add(pair)
        pair.tasks = [
            asyncio.create_task(self._pump(reader, up_writer, pair)),
            asyncio.create_task(self._pump(up_reader, writer, pair)),
        ]
        await asyncio.gather(*pair.tasks, return_exceptions=True)

    async def _pump(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, pair: _Pair
    ) -> None:
        try:
            while data := await source.read(CHUNK):
                sink.write(data)
                await sink.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            # One side is gone: so is the connection (no half-close over TLS here).
            if pair in self._live:
                self._live.discard(pair)
                pair.client.close()
                pair.upstream.close()
