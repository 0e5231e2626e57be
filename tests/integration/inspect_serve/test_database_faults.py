"""``kubeops inspect serve`` over a real PostgreSQL that goes away: a database stopped
while a run is being inspected, and restarted while runs go on, loses no run and
doubles none, and the service keeps serving its pages and metrics throughout."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import aiohttp
import pytest

from kubeops.inspect.history import History
from kubeops.inspect.serve import Interval, ServeOptions, serve
from kubeops.testenv import async_eventually
from kubeops.testenv.postgres import PostgresServer

from .conftest import CONTEXTS, NOT_YET, free_port

RUN_LINE = re.compile(r"^run (\d+|\(not recorded\)) (\w+): ")
CHECKED = "objects read; running checks"


async def test_a_database_restart_mid_run_loses_no_run_and_doubles_none(
    kubeconfig: str,
    postgres: PostgresServer,
    postgres_url: str,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="kubeops.inspect")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    stop = asyncio.Event()
    options = ServeOptions(
        schedule=Interval(1),
        kubeconfig=kubeconfig,
        contexts=CONTEXTS,
        history=postgres_url,
        listen=("127.0.0.1", port),
    )
    task = asyncio.create_task(serve(options, stop))

    async def status() -> dict[str, Any]:
        if task.done():
            task.result()
        async with http.get(f"{base}/healthz") as response:
            assert response.status == 200
            result: dict[str, Any] = await response.json()
            return result

    async def runs_reach(n: int) -> int | None:
        runs = int((await status())["runs"])
        return runs if runs >= n else None

    def inspected_clusters() -> int:
        """Clusters whose objects the service has read so far; each run's checks and its
        history write follow at once."""
        return sum(CHECKED in r.getMessage() for r in caplog.records)

    def retried_writes() -> int:
        """Writes of a run that failed and are being retried."""
        return sum(
            record.name == "kubeops.inspect.history"
            and "cannot record the run" in record.getMessage()
            for record in caplog.records
        )

    try:
        await async_eventually(
            lambda: runs_reach(2), timeout=60, interval=0.2, message="two runs", ignore=NOT_YET
        )

        # 1. The database is down while a run is inspected: its write fails and is
        #    retried, and the run is recorded once the database is back.
        await asyncio.to_thread(postgres.stop)
        down = inspected_clusters()
        await async_eventually(
            lambda: inspected_clusters() > down and retried_writes() > 0,
            timeout=30,
            interval=0.1,
            message="a run inspected, and its write retried, while the database is down",
        )
        while_down = (await status())["runs"]
        # Meanwhile: not ready, saying why (without the password); metrics still served.
        async with http.get(f"{base}/readyz") as response:
            assert response.status == 503
            unready = await response.text()
        assert "127.0.0.1" in unready
        async with http.get(f"{base}/metrics") as response:
            assert response.status == 200
            metrics = await response.text()
        await asyncio.to_thread(postgres.start)
        await async_eventually(
            lambda: runs_reach(while_down + 2),
            timeout=90,
            interval=0.2,
            message="runs recorded after the database came back",
            ignore=NOT_YET,
        )

        # 2. A restart while runs go on: pooled connections die under the service.
        before = (await status())["runs"]
        await asyncio.to_thread(postgres.restart)
        await async_eventually(
            lambda: runs_reach(before + 3),
            timeout=90,
            interval=0.2,
            message="runs after the restart",
            ignore=NOT_YET,
        )

        # It kept serving: ready, metrics, the latest report from the database.
        async with http.get(f"{base}/readyz") as response:
            assert response.status == 200, await response.text()
        async with http.get(f"{base}/metrics") as response:
            assert response.status == 200
            metrics += await response.text()
        assert "kubeops_inspect_runs_total" in metrics
        async with http.get(f"{base}/report.json") as response:
            assert response.status == 200
        made = (await status())["runs"]
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 120) == 0

    reported = [
        match.group(1)
        for record in caplog.records
        if record.name == "kubeops.inspect.serve.service"
        and (match := RUN_LINE.match(record.getMessage()))
    ]
    assert "(not recorded)" not in reported, caplog.text
    history = await History.open(postgres_url)
    try:
        stored = await history.runs(10_000)
    finally:
        await history.close()
    # Every run the service reported is in the database exactly once, and nothing else.
    assert [int(i) for i in reported] == [r["id"] for r in stored], caplog.text
    assert len(stored) >= made >= 7
    assert postgres.password not in caplog.text
    assert postgres.password not in metrics + unready
