"""The ``SyncClient``'s hand-off while its loop never sleeps: calls submitted without
waking it are still taken, and finished calls still reach their callers (the loop
meets its callers at its ``select``, which a busy loop passes with a zero timeout)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from kubeops.api import SyncClient
from kubeops.config import ClusterConfig
from kubeops.testenv import eventually

NOWHERE = ClusterConfig(server="http://127.0.0.1:9", namespace="default", context="t", source="t")


@pytest.fixture
def sync() -> Iterator[SyncClient]:
    with SyncClient(NOWHERE) as client:
        yield client


async def _echo(value: int) -> tuple[int, int | None]:
    await asyncio.sleep(0)
    return value, threading.get_ident()


def test_calls_complete_while_another_task_keeps_the_loop_busy(sync: SyncClient) -> None:
    spins = [0]
    stop = threading.Event()
    spinners: list[asyncio.Task[None]] = []

    async def spin() -> None:  # never lets the loop sleep: every select has a zero timeout
        while not stop.is_set():
            spins[0] += 1
            await asyncio.sleep(0)

    # Started without a blocking call, so that a broken hand-off fails below, not here.
    sync.loop.call_soon_threadsafe(lambda: spinners.append(sync.loop.create_task(spin())))
    eventually(lambda: spins[0] > 0, timeout=10, message="the spinning task started")
    pool = ThreadPoolExecutor(16)
    try:
        futures = [pool.submit(sync.run, _echo(i)) for i in range(800)]
        results = [future.result(timeout=60) for future in futures]
        spun = spins[0]
    finally:
        stop.set()  # an idle loop wakes every caller: a failure here fails, it does not hang
        pool.shutdown()
    assert [value for value, _ in results] == list(range(800))
    assert {ident for _, ident in results} == {sync._loop_thread.thread.ident}
    assert spun > 800  # the loop was busy all along, not idle between calls
    sync.run(asyncio.wait_for(spinners[0], 10))
