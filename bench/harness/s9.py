"""S9: event to action under a storm -- kubeops' respond daemon against the loop a user
would write instead, each started as its own process and measured from outside.

The harness owns both ends: it writes a probe ConfigMap (``data.kind: probe``, a
sequence number) and receives the action's webhook, so the lag is taken on one
clock from just before the write is sent to the webhook request's arrival -- from
the change on the API server to the action's request, with the write's own
latency counted against the contender.  Meanwhile a storm of writes to other
ConfigMaps in the same namespace (every one an event the contender sees and must
judge) runs at a fixed rate.  A contender is ready once a warm-up probe comes
back; its CPU time (``/proc/PID/stat``) is taken over the measured window and
its RSS at the end, with the high-water mark (``VmHWM``) of its whole life.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from harness import dataset
from harness.procfs import alive as _alive
from harness.procfs import cpu_seconds as _cpu_seconds
from harness.procfs import memory as _memory
from harness.procfs import stop as _stop
from harness.stats import percentile

NAMESPACE = "bench-s9"
NOISE = 100  # storm ConfigMaps, written round-robin
READY_TIMEOUT = 120.0
DRAIN = 5.0  # after the window, how long the last probes may take to arrive
STORM_INFLIGHT = 16


@dataclass(frozen=True)
class Settings:
    """One S9 run's sizes."""

    seconds: float
    storm_per_minute: int
    probe_interval: float


@dataclass
class Run:
    """What one contender's run measured."""

    ok: bool
    lags_ms: list[float] = field(default_factory=list)
    probes: int = 0
    missed: int = 0
    storm_writes: int = 0
    window_seconds: float = 0.0
    cpu_seconds: float = 0.0
    rss_bytes: int = 0
    peak_rss_bytes: int = 0
    wall_seconds: float = 0.0
    error: str = ""
    stderr_tail: str = ""

    @property
    def p99_ms(self) -> float:
        return percentile(self.lags_ms, 99) if self.lags_ms else float("nan")

    def extra(self) -> dict[str, Any]:
        window = self.window_seconds or 1.0
        return {
            "lags_ms": [round(v, 2) for v in self.lags_ms],
            "writes": self.probes,
            "missed": self.missed,
            "storm_writes": self.storm_writes,
            "storm_per_minute": round(self.storm_writes / window * 60),
            "window_seconds": round(self.window_seconds, 2),
            "cpu_seconds": round(self.cpu_seconds, 3),
            "cpu_percent": round(self.cpu_seconds / window * 100, 1),
        }


async def prepare(kubeconfig: Path) -> None:
    """The namespace, its storm ConfigMaps and the probe; the daemon's state namespace."""
    async with dataset.client(kubeconfig) as c:
        await dataset.namespace(c, NAMESPACE)
        await dataset.namespace(c, f"{NAMESPACE}-state")
        for i in range(NOISE):
            body = _configmap(f"s9-noise-{i}", {"kind": "noise", "n": "0"})
            with contextlib.suppress(dataset.AlreadyExists):
                await c.create(body, NAMESPACE)
        with contextlib.suppress(dataset.AlreadyExists):
            await c.create(_configmap("s9-probe", {"kind": "probe", "seq": "0"}), NAMESPACE)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(argv_for: Any, kubeconfig: Path, settings: Settings) -> Run:
    """Start the contender (``argv_for(params_json)`` gives its command line), measure, stop it."""
    return asyncio.run(_run(argv_for, kubeconfig, settings))


async def _run(argv_for: Any, kubeconfig: Path, settings: Settings) -> Run:
    arrived: dict[int, float] = {}
    got_one = asyncio.Event()

    async def hook(request: web.Request) -> web.Response:
        now = time.monotonic()
        body = await request.json()
        with contextlib.suppress(TypeError, ValueError):
            arrived.setdefault(int(body.get("message", "")), now)
            got_one.set()
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    params = {
        "kubeconfig": str(kubeconfig),
        "namespace": NAMESPACE,
        "url": f"http://127.0.0.1:{port}/hook",
        "listen": f"127.0.0.1:{free_port()}",
    }
    started = time.perf_counter()
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(
            argv_for(json.dumps(params)),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
        try:
            async with dataset.client(kubeconfig) as c:
                result = await _measure(c, proc.pid, settings, arrived, got_one)
        except Exception as err:
            result = Run(ok=False, error=f"{type(err).__name__}: {err}")
        finally:
            _stop(proc)
            await runner.cleanup()
        result.wall_seconds = time.perf_counter() - started
        if not result.ok:
            stderr.seek(0)
            result.stderr_tail = stderr.read()[-4000:].decode(errors="replace")
    return result


async def _measure(
    c: Any, pid: int, settings: Settings, arrived: dict[int, float], got_one: asyncio.Event
) -> Run:
    sent: dict[int, float] = {}
    seq = -1_000_000  # warm-up probes are negative, measured ones count from 1

    async def probe(number: int) -> None:
        sent[number] = time.monotonic()
        await c.patch(
            "configmaps",
            "s9-probe",
            {"data": {"kind": "probe", "seq": str(number)}},
            NAMESPACE,
        )

    deadline = time.monotonic() + READY_TIMEOUT
    while not got_one.is_set():
        if time.monotonic() > deadline or not _alive(pid):
            why = "exited" if not _alive(pid) else f"no action within {READY_TIMEOUT:.0f}s"
            return Run(ok=False, error=f"not ready: {why}")
        seq += 1
        await probe(seq)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(got_one.wait(), 1.0)
    await asyncio.sleep(1.0)  # the warm-up's stragglers
    cpu_before = _cpu_seconds(pid)
    start = time.monotonic()
    stop_at = start + settings.seconds
    storm = asyncio.create_task(_storm(c, settings.storm_per_minute, start, stop_at))
    number = 0
    while True:
        at = start + number * settings.probe_interval
        if at >= stop_at:
            break
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        number += 1
        await probe(number)
    writes = await storm
    window = time.monotonic() - start
    measured = range(1, number + 1)
    drain_until = time.monotonic() + DRAIN
    while any(n not in arrived for n in measured) and time.monotonic() < drain_until:
        await asyncio.sleep(0.05)
    cpu = _cpu_seconds(pid) - cpu_before
    rss, peak = _memory(pid)
    if not _alive(pid):
        return Run(ok=False, error="the contender exited during the window")
    lags = [(arrived[n] - sent[n]) * 1e3 for n in measured if n in arrived]
    return Run(
        ok=True,
        lags_ms=lags,
        probes=number,
        missed=number - len(lags),
        storm_writes=writes,
        window_seconds=window,
        cpu_seconds=cpu,
        rss_bytes=rss,
        peak_rss_bytes=peak,
    )


async def _storm(
    c: Any,
    per_minute: int,
    start: float,
    stop_at: float,
    namespace: str = NAMESPACE,
    prefix: str = "s9-noise",
) -> int:
    """Writes at ``per_minute`` on a fixed schedule (at most STORM_INFLIGHT at once) to
    the NOISE ConfigMaps ``<prefix>-<i>`` of ``namespace``."""
    interval = 60.0 / per_minute
    gate = asyncio.Semaphore(STORM_INFLIGHT)
    tasks: list[asyncio.Task[None]] = []

    async def write(i: int) -> None:
        async with gate:
            await c.patch(
                "configmaps",
                f"{prefix}-{i % NOISE}",
                {"data": {"kind": "noise", "n": str(i)}},
                namespace,
            )

    i = 0
    while True:
        at = start + i * interval
        if at >= stop_at:
            break
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        tasks.append(asyncio.create_task(write(i)))
        i += 1
    await asyncio.gather(*tasks)
    return i


def _configmap(name: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}
