"""Two replicas of ``kubeops inspect serve --leader-elect`` sharing one SQLite history:
only the Lease holder inspects, the other serves the same pages, and when the
leader stops the other takes over."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from kubeops.inspect.history import History
from kubeops.testenv import async_eventually

from .conftest import CONTEXTS, NOT_YET, Serve, free_port


async def test_one_replica_inspects_and_the_other_takes_over(
    kubeconfig: str,
    spawn: Callable[..., Awaitable[Serve]],
    http: aiohttp.ClientSession,
    tmp_path: Path,
) -> None:
    db = f"sqlite:///{tmp_path / 'shared.db'}"
    lease = f"inspect-{uuid.uuid4().hex[:8]}"
    ports = [free_port(), free_port()]
    replicas = [
        await spawn(
            "--kubeconfig",
            kubeconfig,
            "--context",
            CONTEXTS[0],
            "--context",
            CONTEXTS[1],
            "--interval",
            "1s",
            "--history",
            db,
            "--listen",
            f"127.0.0.1:{port}",
            "--leader-elect",
            "--lease-name",
            lease,
            "--lease-namespace",
            "default",
        )
        for port in ports
    ]
    history = History(db)

    async def health(port: int) -> dict[str, Any]:
        async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
            result: dict[str, Any] = await response.json()
            return result

    def runs() -> list[dict[str, Any]]:
        return history.runs(1000)

    async def runs_at_least(n: int) -> bool:
        for replica in replicas:
            assert replica.process is not None
            assert replica.process.returncode is None, replica.log
        return len(runs()) >= n

    try:
        await async_eventually(
            lambda: runs_at_least(4),
            timeout=30,
            interval=0.2,
            message="four runs recorded",
            ignore=NOT_YET,
        )
        states = [await health(port) for port in ports]
        assert sorted(s["leader"] for s in states) == [False, True], states
        leader = next(i for i, s in enumerate(states) if s["leader"])
        follower = 1 - leader
        identity = states[leader]["identity"]
        assert {r["runner"] for r in runs()} == {identity}  # nobody else inspected
        assert states[follower]["runs"] == 0

        # The follower serves the shared history's latest report.
        async with http.get(f"http://127.0.0.1:{ports[follower]}/report.json") as response:
            assert response.status == 200
            shown = await response.json()
        assert shown["generated"] in {r["generated"] for r in runs()}

        assert await replicas[leader].stop() == 0, replicas[leader].log
        handed_over = len(runs())
        successor = states[follower]["identity"]

        async def successor_ran() -> bool:
            return any(r["runner"] == successor for r in runs())

        await async_eventually(
            successor_ran,
            timeout=20,
            interval=0.2,
            message="the other replica inspects",
            ignore=NOT_YET,
        )
        order = [r["runner"] for r in runs()]
        # One hand-over: the old leader's runs, then only the successor's.
        assert order[:handed_over] == [identity] * handed_over
        assert set(order[handed_over:]) == {successor}
        assert (await health(ports[follower]))["leader"] is True
    finally:
        history.close()
        for replica in replicas:
            await replica.stop()
