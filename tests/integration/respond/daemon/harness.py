"""What the daemon tests share: ``kubeops respond run`` in a subprocess the way an
operator runs it, a rule directory written per test, a webhook receiver and an SMTP
server that keep what they are sent, and a reader of the audit log."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web

from kubeops.testenv import Cluster
from kubeops.testenv.ports import free_port

NOT_YET = (aiohttp.ClientError, OSError, AssertionError)
"""What a probe of a starting daemon may meet before it answers."""


class Daemon:
    """``kubeops respond run`` in a subprocess; its stderr is collected as it comes."""

    def __init__(self, *argv: str, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.argv = ["-m", "kubeops", "respond", "run", "--listen", f"127.0.0.1:{port}", *argv]
        self.process: asyncio.subprocess.Process | None = None
        self.stderr = b""
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> Daemon:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            *self.argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self.process is not None
        assert self.process.stderr is not None
        while chunk := await self.process.stderr.read(65536):
            self.stderr += chunk

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def wait(self, timeout: float) -> int:
        assert self.process is not None
        assert self._reader is not None
        try:
            await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            self.kill()
            await self.process.wait()
            await self._reader
            pytest.fail(f"kubeops respond run did not exit within {timeout}s:\n{self.log}")
        await self._reader
        return self.process.returncode or 0

    async def stop(self, timeout: float = 30) -> int:
        """SIGTERM, as Kubernetes stops a Pod, then wait for the exit."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        return await self.wait(timeout)

    def kill(self) -> None:
        """SIGKILL: the node died; nothing runs on the way out."""
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()

    @property
    def log(self) -> str:
        return self.stderr.decode(errors="replace")

    async def get(self, http: aiohttp.ClientSession, path: str) -> tuple[int, str]:
        async with http.get(self.url + path) as response:
            return response.status, await response.text()

    async def healthz(self, http: aiohttp.ClientSession) -> dict[str, Any]:
        assert self.running, self.log
        async with http.get(self.url + "/healthz") as response:
            assert response.status == 200, await response.text()
            status: dict[str, Any] = await response.json()
            return status

    async def ready(self, http: aiohttp.ClientSession) -> bool:
        assert self.running, self.log
        status, _ = await self.get(http, "/readyz")
        return status == 200


Spawn = Callable[..., Awaitable[Daemon]]


@contextlib.asynccontextmanager
async def daemons() -> AsyncIterator[Spawn]:
    """Start daemons; any still running at the end are killed."""
    started: list[Daemon] = []

    async def spawn(*argv: str, port: int | None = None) -> Daemon:
        daemon = await Daemon(*argv, port=port or free_port()).start()
        started.append(daemon)
        return daemon

    try:
        yield spawn
    finally:
        for daemon in started:
            daemon.kill()
            if daemon.process is not None:
                await daemon.process.wait()
            if daemon._reader is not None:
                await daemon._reader


def write_rules(directory: Path, document: dict[str, Any]) -> Path:
    """``document`` as ``rules.yaml`` in ``directory``; the directory, for ``--rules``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "rules.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return directory


def token_file(directory: Path, token: str) -> Path:
    path = directory / "event-token"
    path.write_text(token + "\n")
    path.chmod(0o600)
    return path


class Hook:
    """A webhook endpoint on 127.0.0.1 that keeps every JSON body it is sent."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        self.posts.append(await request.json())
        return web.Response(status=204)

    async def start(self) -> Hook:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


class Mailbox:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.port = free_port()
        self._controller: Any = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"

    def start(self) -> Mailbox:
        from aiosmtpd.controller import Controller

        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()


async def audit_records(url: str, **query: Any) -> list[Any]:
    """What the audit log at ``url`` holds (``respond audit``'s query)."""
    from kubeops.respond.audit import AuditLog

    audit = await AuditLog.open(url)
    try:
        records: list[Any] = await audit.query(limit=1_000_000, **query)
        return records
    finally:
        await audit.close()


# The fixtures every daemon test module shares (imported by the daemon tests' and the
# end-to-end scenarios' conftest files).


@pytest.fixture
def kubeconfig(kube_cluster: Cluster) -> str:
    """The session cluster's admin kubeconfig, for ``--kubeconfig``."""
    return str(kube_cluster.kubeconfig)


@pytest.fixture
async def spawn() -> AsyncIterator[Spawn]:
    """Start ``kubeops respond run`` subprocesses; every one is killed at the end."""
    async with daemons() as start:
        yield start


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP session for the daemons' ports and the receivers."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session
