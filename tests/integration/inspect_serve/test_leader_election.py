"""Two replicas of ``kubeops inspect serve --leader-elect`` sharing one history (an
SQLite file on one host; a real PostgreSQL, as replicas in a cluster share it): only
the Lease holder inspects, the other serves the same history and trend, and when
the leader stops the other takes over and continues the same history."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from kubeops.inspect.history import History
from kubeops.testenv import async_eventually

from .conftest import CONTEXTS, NOT_YET, Serve, free_port, secret_of, url_file


async def test_one_replica_inspects_and_the_other_takes_over(
    kubeconfig: str,
    spawn: Callable[..., Awaitable[Serve]],
    http: aiohttp.ClientSession,
    history_url: str,
    tmp_path: Path,
) -> None:
    # As in a cluster: the URL (with its password) comes from a mounted Secret.
    secret_file = str(url_file(history_url, tmp_path))
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
            "--history-url-file",
            secret_file,
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
    history = await History.open(history_url)

    async def get(port: int, path: str) -> Any:
        async with http.get(f"http://127.0.0.1:{port}{path}") as response:
            assert response.status == 200, f"{path}: {response.status} {await response.text()}"
            return await response.json()

    async def runs() -> list[dict[str, Any]]:
        return await history.runs(1000)

    async def runs_at_least(n: int) -> bool:
        for replica in replicas:
            assert replica.process is not None
            assert replica.process.returncode is None, replica.log
        return len(await runs()) >= n

    try:
        await async_eventually(
            lambda: runs_at_least(4),
            timeout=30,
            interval=0.2,
            message="four runs recorded",
            ignore=NOT_YET,
        )
        states = [await get(port, "/healthz") for port in ports]
        assert sorted(s["leader"] for s in states) == [False, True], states
        leader = next(i for i, s in enumerate(states) if s["leader"])
        follower = 1 - leader
        identity = states[leader]["identity"]
        assert {r["runner"] for r in await runs()} == {identity}  # nobody else inspected
        assert states[follower]["runs"] == 0
        assert states[follower]["history"] == states[leader]["history"] == history.url

        # The follower serves the leader's runs: the same history, the same documents
        # with the same trend as the leader's own pages.
        recorded = await runs()
        last = recorded[-1]["id"]
        served = await get(ports[follower], "/history.json?limit=1000")
        assert [r["id"] for r in served if r["id"] <= last] == [r["id"] for r in recorded]
        assert [r for r in served if r["id"] <= last] == recorded
        mine = await get(ports[leader], f"/runs/{last}.json")
        theirs = await get(ports[follower], f"/runs/{last}.json")
        assert theirs == mine
        assert [e["generated"] for e in theirs["history"]] == [r["generated"] for r in recorded]
        latest = await get(ports[follower], "/report.json")
        assert latest["generated"] in {r["generated"] for r in await runs()}

        assert await replicas[leader].stop() == 0, replicas[leader].log
        successor = states[follower]["identity"]

        async def successor_ran() -> bool:
            return any(r["runner"] == successor for r in await runs())

        await async_eventually(
            successor_ran,
            timeout=20,
            interval=0.2,
            message="the other replica inspects",
            ignore=NOT_YET,
        )
        final = await runs()
        order = [r["runner"] for r in final]
        # One hand-over: the old leader's runs, then only the successor's (which may have
        # started before the old leader's process was done exiting).
        handed = order.index(successor)
        assert handed >= len(recorded)
        assert order[:handed] == [identity] * handed
        assert set(order[handed:]) == {successor}
        handed_over = final[:handed]
        assert (await get(ports[follower], "/healthz"))["leader"] is True
        # The same history goes on: the successor's report charts the old leader's runs.
        report = await get(ports[follower], "/report.json")
        charted = [e["generated"] for e in report["history"]]
        assert charted[: len(handed_over)] == [r["generated"] for r in handed_over]
        assert report["generated"] == charted[-1]
    finally:
        await history.close()
        for replica in replicas:
            await replica.stop()
    secret = secret_of(history_url)
    for replica in replicas:
        assert secret is None or secret not in replica.log
