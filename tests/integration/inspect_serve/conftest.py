"""Fixtures for ``kubeops inspect serve`` against the two API-only testenv clusters:
one kubeconfig naming both, free ports, a real webhook receiver, the command run
as a subprocess the way an operator runs it, and its history database on each
kind kubeops supports (an SQLite file, the session's real PostgreSQL)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web

from kubeops.testenv import Cluster

CONTEXTS = ("member-a", "member-b")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def kubeconfig(kube_clusters: list[Cluster], tmp_path_factory: pytest.TempPathFactory) -> str:
    """Both clusters in one file, each context named after its cluster (testenv's files
    all call their user ``admin``, so the users are renamed to keep them apart)."""
    merged: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [],
        "users": [],
        "contexts": [],
        "current-context": kube_clusters[0].name,
    }
    for cluster in kube_clusters:
        config = yaml.safe_load(Path(cluster.kubeconfig).read_text())
        user = f"{cluster.name}-admin"
        merged["clusters"] += config["clusters"]
        merged["users"].append({"name": user, "user": config["users"][0]["user"]})
        merged["contexts"].append(
            {"name": cluster.name, "context": {"cluster": cluster.name, "user": user}}
        )
    assert [c["name"] for c in merged["contexts"]] == list(CONTEXTS)
    path = tmp_path_factory.mktemp("inspect-serve") / "kubeconfig"
    path.write_text(yaml.safe_dump(merged))
    path.chmod(0o600)
    return str(path)


DATABASES = ("sqlite", "postgresql")


@pytest.fixture(params=DATABASES)
def history_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh history database for this test: an SQLite file, or a database of its own
    on the session's PostgreSQL server (the test runs once for each)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'history' / 'inspect.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def secret_of(url: str) -> str | None:
    """The password in ``url`` (what must never be printed), or None."""
    from sqlalchemy import make_url

    return make_url(url).password


def url_file(url: str, directory: Path) -> Path:
    """``url`` in a file readable only by its owner, as a mounted Secret holds it."""
    path = directory / "history-url"
    path.write_text(url + "\n")
    path.chmod(0o600)
    return path


class Receiver:
    """A webhook endpoint on 127.0.0.1 that keeps every JSON body it is sent."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.failures = 0  # answer 503 to this many requests first
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"

    async def handle(self, request: web.Request) -> web.Response:
        if self.failures > 0:
            self.failures -= 1
            return web.Response(status=503)
        self.posts.append(await request.json())
        return web.Response(status=204)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    hook = Receiver()
    app = web.Application()
    app.router.add_post("/hook", hook.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", hook.port).start()
    try:
        yield hook
    finally:
        await runner.cleanup()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


# What a probe of a starting or busy ``inspect serve`` may meet before it answers; any
# other error (the server task failed) ends the wait at once.
NOT_YET = (aiohttp.ClientError, OSError, AssertionError)


class Serve:
    """``kubeops inspect serve`` in a subprocess; its stderr is collected as it comes."""

    def __init__(self, *argv: str) -> None:
        self.argv = ["-m", "kubeops", "inspect", "serve", *argv]
        self.process: asyncio.subprocess.Process | None = None
        self.stderr = b""
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> Serve:
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

    async def wait(self, timeout: float) -> int:
        assert self.process is not None
        assert self._reader is not None
        try:
            await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            self.kill()
            await self.process.wait()
            await self._reader
            pytest.fail(f"kubeops inspect serve did not exit within {timeout}s:\n{self.log}")
        await self._reader
        return self.process.returncode or 0

    async def stop(self, timeout: float = 20) -> int:
        """SIGTERM, as Kubernetes stops a pod, then wait for the exit."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        return await self.wait(timeout)

    def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()

    @property
    def log(self) -> str:
        return self.stderr.decode(errors="replace")


@pytest.fixture
async def spawn() -> AsyncIterator[Callable[..., Awaitable[Serve]]]:
    """Start ``kubeops inspect serve`` processes; any still running are killed at the end."""
    started: list[Serve] = []

    async def start(*argv: str) -> Serve:
        serve = await Serve(*argv).start()
        started.append(serve)
        return serve

    yield start
    for serve in started:
        serve.kill()
        if serve.process is not None:
            await serve.process.wait()
        if serve._reader is not None:
            await serve._reader
