"""S12: event to action through Kafka -- kubeops' respond daemon in distributed mode
(the elected leader publishes the cluster's events to a topic, every replica of one
consumer group consumes and acts) with 1 and 3 replicas, beside S9's in-process path
(the same daemon with no bus), each arm on the same event stream in the same run.

Each run has two parts, both driven and timed by the harness as S9 is (it writes the
probe ConfigMaps and receives the actions' webhooks, one clock):

* latency: S9's stream -- a probe change every ``probe_interval`` (round-robin over
  PROBES ConfigMaps, so every partition and replica gets some) under a storm of
  ``storm_per_minute`` other changes, p99 from just before the write to the webhook;
* throughput: a burst of ``burst`` probe changes over the PROBES ConfigMaps, written
  as fast as the API server takes them (BURST_INFLIGHT at once); actions a second from
  the first write to the last action (the write rate alone is reported too: it bounds
  every arm).

Every arm gets a fresh topic (3 partitions), group and Lease, so no run sees another's
events.  A webhook that arrives twice for one probe is counted (``duplicates``): the
ledger should make it 0.  CPU and RSS are summed over the arm's processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from harness import dataset
from harness.procfs import alive as _alive
from harness.procfs import cpu_seconds as _cpu_seconds
from harness.procfs import memory as _memory
from harness.procfs import stop as _stop
from harness.s9 import NOISE, free_port
from harness.s9 import _storm as storm_writes
from harness.stats import percentile

NAMESPACE = "bench-s12"
PROBES = 30  # probe ConfigMaps: their keys spread over every partition
BURST_BASE = 1_000_000  # the burst's sequence numbers start here
BURST_INFLIGHT = 32
READY_TIMEOUT = 120.0
DRAIN = 10.0
ARMS = {"in-process": 0, "bus-1": 1, "bus-3": 3}  # arm -> replicas on the bus (0: no bus)
PARTITIONS = 3
QPS, BURST_QPS = 1000, 2000  # every arm's API client: the machine bounds the burst, not a limiter
LABELS = {
    "in-process": "kubeops respond, in-process (S9's path, no bus)",
    "bus-1": "kubeops respond via Kafka, 1 replica",
    "bus-3": "kubeops respond via Kafka, 3 replicas",
}


@dataclass(frozen=True)
class Settings:
    """One S12 run's sizes."""

    seconds: float
    storm_per_minute: int
    probe_interval: float
    burst: int
    burst_timeout: float = 120.0


@dataclass
class Run:
    """What one arm's run measured."""

    ok: bool
    replicas: int = 1
    lags_ms: list[float] = field(default_factory=list)
    topic_lags_ms: list[float] = field(default_factory=list)  # write -> on the topic (bus arms)
    probes: int = 0
    missed: int = 0
    storm_writes: int = 0
    window_seconds: float = 0.0
    burst_actions: int = 0
    burst_seconds: float = 0.0
    burst_write_seconds: float = 0.0
    burst_topic_seconds: float = 0.0  # first write to the last burst event on the topic
    duplicates: int = 0
    cpu_seconds: float = 0.0
    rss_bytes: int = 0
    peak_rss_bytes: int = 0
    group_ready_seconds: float = 0.0
    sent: dict[int, float] = field(default_factory=dict, repr=False)
    wall_seconds: float = 0.0
    error: str = ""
    stderr_tail: str = ""

    @property
    def p99_ms(self) -> float:
        return percentile(self.lags_ms, 99) if self.lags_ms else float("nan")

    @property
    def actions_per_second(self) -> float:
        return self.burst_actions / self.burst_seconds if self.burst_seconds else 0.0

    def extra(self) -> dict[str, Any]:
        window = self.window_seconds or 1.0
        return {
            "replicas": self.replicas,
            "lags_ms": [round(v, 2) for v in self.lags_ms],
            "topic_lags_ms": [round(v, 2) for v in self.topic_lags_ms],
            "writes": self.probes,
            "missed": self.missed,
            "storm_writes": self.storm_writes,
            "storm_per_minute": round(self.storm_writes / window * 60),
            "window_seconds": round(self.window_seconds, 2),
            "burst": {
                "actions": self.burst_actions,
                "seconds": round(self.burst_seconds, 3),
                "actions_per_second": round(self.actions_per_second, 1),
                "write_seconds": round(self.burst_write_seconds, 3),
                "topic_seconds": round(self.burst_topic_seconds, 3),
            },
            "duplicates": self.duplicates,
            "group_ready_seconds": round(self.group_ready_seconds, 2),
            "cpu_seconds": round(self.cpu_seconds, 3),
            "cpu_percent": round(self.cpu_seconds / window * 100, 1),
        }


async def prepare(kubeconfig: Path) -> None:
    """The namespace, its storm and probe ConfigMaps; the daemons' state namespace."""
    async with dataset.client(kubeconfig) as c:
        await dataset.namespace(c, NAMESPACE)
        await dataset.namespace(c, f"{NAMESPACE}-state")
        names = [(f"s12-noise-{i}", "noise") for i in range(NOISE)]
        names += [(f"s12-probe-{i}", "probe") for i in range(PROBES)]
        for name, kind in names:
            with contextlib.suppress(dataset.AlreadyExists):
                await c.create(_configmap(name, {"kind": kind, "seq": "0"}), NAMESPACE)


def run(
    argv_for: Callable[[str], list[str]],
    kubeconfig: Path,
    settings: Settings,
    arm: str,
    bootstrap: str | None,
) -> Run:
    """One arm: its processes started (``argv_for(params_json)`` each), measured, stopped."""
    return asyncio.run(_run(argv_for, kubeconfig, settings, arm, bootstrap))


async def _run(
    argv_for: Callable[[str], list[str]],
    kubeconfig: Path,
    settings: Settings,
    arm: str,
    bootstrap: str | None,
) -> Run:
    arrivals: Counter[int] = Counter()
    arrived: dict[int, float] = {}
    got_one = asyncio.Event()

    async def hook(request: web.Request) -> web.Response:
        now = time.monotonic()
        body = await request.json()
        with contextlib.suppress(TypeError, ValueError):
            seq = int(body.get("message", ""))
            arrivals[seq] += 1
            arrived.setdefault(seq, now)
            got_one.set()
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    replicas = ARMS[arm]
    tag = uuid.uuid4().hex[:8]
    base: dict[str, Any] = {
        "kubeconfig": str(kubeconfig),
        "namespace": NAMESPACE,
        "url": f"http://127.0.0.1:{port}/hook",
        "qps": QPS,
        "burst": BURST_QPS,
    }
    group = f"s12-{tag}"
    if replicas:
        if bootstrap is None:
            raise ValueError("S12's bus arms need a broker")
        topic = f"bench.s12.{tag}"
        await _create_topic(bootstrap, topic)
        base["bus"] = {"brokers": [bootstrap], "topic": topic, "group": group}
        base["lease"] = f"s12-{tag}"
    started = time.perf_counter()
    procs: list[subprocess.Popen[bytes]] = []
    with contextlib.ExitStack() as files:
        stderrs = [files.enter_context(tempfile.TemporaryFile()) for _ in range(max(1, replicas))]
        for i, stderr in enumerate(stderrs):
            params = {**base, "replica": i, "listen": f"127.0.0.1:{free_port()}"}
            procs.append(
                subprocess.Popen(
                    argv_for(json.dumps(params)),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                    start_new_session=True,
                )
            )
        pids = [p.pid for p in procs]
        on_topic: dict[int, float] = {}
        tap = (
            asyncio.create_task(_tap(bootstrap, base["bus"]["topic"], group, on_topic))
            if replicas and bootstrap
            else None
        )
        try:
            async with dataset.client(kubeconfig) as c:
                result = await _measure(
                    c,
                    pids,
                    settings,
                    (arrived, on_topic),
                    got_one,
                    bootstrap if replicas > 1 else None,
                    group,
                )
        except Exception as err:
            result = Run(ok=False, error=f"{type(err).__name__}: {err}")
        finally:
            for proc in procs:
                _stop(proc)
            await runner.cleanup()
            if tap is not None:
                tap.cancel()
                await asyncio.gather(tap, return_exceptions=True)
        if result.ok and tap is not None:
            result.topic_lags_ms = [
                (on_topic[n] - result.sent[n]) * 1e3
                for n in range(1, result.probes + 1)
                if n in on_topic
            ]
        result.replicas = max(1, replicas)
        result.duplicates = sum(n - 1 for n in arrivals.values() if n > 1)
        result.wall_seconds = time.perf_counter() - started
        if not result.ok:
            tails = []
            for i, stderr in enumerate(stderrs):
                stderr.seek(0)
                tails.append(f"[replica {i}] " + stderr.read()[-1500:].decode(errors="replace"))
            result.stderr_tail = "\n".join(tails)[-4000:]
    return result


async def _measure(
    c: Any,
    pids: list[int],
    settings: Settings,
    seen: tuple[dict[int, float], dict[int, float]],
    got_one: asyncio.Event,
    bootstrap: str | None,
    group: str,
) -> Run:
    """Ready, S9's stream, then the burst.  Every write carries the run's ``tag``, so it
    is a change even where an earlier run left the same sequence number."""
    tag = group
    arrived, on_topic = seen  # when each probe's action came; when its event reached the topic
    sent: dict[int, float] = {}

    async def probe(number: int) -> None:  # over every probe object: every partition
        sent[number] = time.monotonic()
        await c.patch(
            "configmaps",
            f"s12-probe-{number % PROBES}",
            {"data": {"kind": "probe", "seq": str(number), "run": tag}},
            NAMESPACE,
        )

    def dead() -> bool:
        return not all(_alive(pid) for pid in pids)

    seq = -1_000_000  # warm-up probes are negative, measured ones count from 1
    began = time.monotonic()
    deadline = began + READY_TIMEOUT
    while not got_one.is_set():
        if time.monotonic() > deadline or dead():
            why = "a replica exited" if dead() else f"no action within {READY_TIMEOUT:.0f}s"
            return Run(ok=False, error=f"not ready: {why}")
        seq += 1
        await probe(seq)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(got_one.wait(), 1.0)
    group_ready = 0.0
    if bootstrap is not None:  # every replica holds partitions before anything is measured
        members = len(pids)
        while (await _group_members(bootstrap, group)) < members:
            if time.monotonic() > deadline or dead():
                return Run(ok=False, error=f"not ready: the group never had {members} members")
            await asyncio.sleep(0.2)
        group_ready = time.monotonic() - began
    # The warm-up's stragglers, and a rebalance's: a probe through every replica's path.
    for _ in range(3):
        seq += 1
        await probe(seq)
        await asyncio.sleep(0.3)
    cpu_before = sum(_cpu_seconds(pid) for pid in pids)
    start = time.monotonic()
    stop_at = start + settings.seconds
    storm = asyncio.create_task(
        storm_writes(c, settings.storm_per_minute, start, stop_at, NAMESPACE, "s12-noise")
    )
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
    cpu = sum(_cpu_seconds(pid) for pid in pids) - cpu_before
    if dead():
        return Run(ok=False, error="a replica exited during the window")
    lags = [(arrived[n] - sent[n]) * 1e3 for n in measured if n in arrived]
    burst = await _burst(c, settings, arrived, sent, tag)
    published = [
        on_topic[n] for n in range(BURST_BASE, BURST_BASE + settings.burst) if n in on_topic
    ]
    memory = [_memory(pid) for pid in pids]
    return Run(
        ok=True,
        lags_ms=lags,
        probes=number,
        missed=number - len(lags),
        storm_writes=writes,
        window_seconds=window,
        burst_actions=burst[0],
        burst_seconds=burst[1],
        burst_write_seconds=burst[2],
        burst_topic_seconds=(max(published) - burst[3]) if published else 0.0,
        cpu_seconds=cpu,
        rss_bytes=sum(m[0] for m in memory),
        peak_rss_bytes=sum(m[1] for m in memory),
        group_ready_seconds=group_ready,
        sent=sent,
    )


async def _burst(
    c: Any, settings: Settings, arrived: dict[int, float], sent: dict[int, float], tag: str
) -> tuple[int, float, float, float]:
    """(actions, seconds from the first write to the last action, seconds of writing,
    when the writing began)."""
    gate = asyncio.Semaphore(BURST_INFLIGHT)
    numbers = range(BURST_BASE, BURST_BASE + settings.burst)

    async def write(n: int) -> None:
        async with gate:
            sent[n] = time.monotonic()
            await c.patch(
                "configmaps",
                f"s12-probe-{n % PROBES}",
                {"data": {"kind": "probe", "seq": str(n), "run": tag}},
                NAMESPACE,
            )

    start = time.monotonic()
    await asyncio.gather(*(write(n) for n in numbers))
    written = time.monotonic() - start
    until = time.monotonic() + settings.burst_timeout
    while any(n not in arrived for n in numbers) and time.monotonic() < until:
        await asyncio.sleep(0.05)
    got = [arrived[n] for n in numbers if n in arrived]
    return len(got), (max(got) - start) if got else 0.0, written, start


def broker(run_dir: Path, progress: Callable[[str], None], smoke: bool) -> Any:
    """testenv's Kafka, started in ``run_dir`` (tuned for throughput unless a smoke run)."""
    from kubeops.testenv.assets import ensure_assets
    from kubeops.testenv.kafka import FAST_START_JVM, THROUGHPUT_JVM, Kafka

    libs = ensure_assets(["kafka"], progress)
    kafka = Kafka(
        libs,
        run_dir,
        jvm_options=FAST_START_JVM if smoke else THROUGHPUT_JVM,
        progress=progress,
    )
    kafka.start()
    return kafka


def kafka_version() -> str:
    """The broker's release, from its jar's name."""
    from kubeops.testenv.assets import ensure_assets

    libs = Path(ensure_assets(["kafka"]).extras["kafka"])
    for jar in sorted(libs.glob("kafka_2.13-*.jar")):
        return jar.name.removeprefix("kafka_2.13-").removesuffix(".jar")
    return "unknown"


def compare(entry: dict[str, Any]) -> None:
    """``entry["comparison"]``: per arm, the pooled latency, the burst's throughput
    (median of runs), duplicates, CPU and RSS; the bus arms' added latency over in-process."""
    rows: dict[str, dict[str, Any]] = {}
    for arm in ARMS:
        good = [r for r in entry["runs"] if r["client"] == arm and r["ok"]]
        if not good:
            continue
        lags = [lag for r in good for lag in r["extra"]["lags_ms"]]
        topic = [lag for r in good for lag in r["extra"].get("topic_lags_ms", [])]
        rates = [r["extra"]["burst"]["actions_per_second"] for r in good]
        writes = [r["extra"]["burst"]["write_seconds"] for r in good]
        published = [r["extra"]["burst"].get("topic_seconds", 0.0) for r in good]
        rows[arm] = {
            "replicas": good[0]["extra"]["replicas"],
            "runs": len(good),
            "events": len(lags),
            "missed": sum(r["extra"]["missed"] for r in good),
            "p50_ms": percentile(lags, 50) if lags else None,
            "p99_ms": percentile(lags, 99) if lags else None,
            "run_p99_ms": statistics.median(r["value"] for r in good),  # robust to one bad run
            "run_p99_range_ms": [min(r["value"] for r in good), max(r["value"] for r in good)],
            "topic_p50_ms": percentile(topic, 50) if topic else None,
            "topic_p99_ms": percentile(topic, 99) if topic else None,
            "actions_per_second": statistics.median(rates),
            "burst_actions": sum(r["extra"]["burst"]["actions"] for r in good),
            "burst_write_seconds": statistics.median(writes),
            "burst_topic_seconds": statistics.median(published),
            "duplicates": sum(r["extra"]["duplicates"] for r in good),
            "cpu_percent": statistics.median(r["extra"]["cpu_percent"] for r in good),
            "rss_mib": statistics.median(r["rss_bytes"] / 2**20 for r in good),
        }
    base = rows.get("in-process")
    for arm, row in rows.items():
        if arm == "in-process" or base is None:
            continue
        for q in ("p50", "p99", "run_p99"):
            if row[f"{q}_ms"] is not None and base[f"{q}_ms"] is not None:
                row[f"added_{q}_ms"] = row[f"{q}_ms"] - base[f"{q}_ms"]
        if base["actions_per_second"]:
            row["throughput_vs_in_process"] = row["actions_per_second"] / base["actions_per_second"]
    entry["comparison"] = rows


async def _tap(bootstrap: str, topic: str, tag: str, on_topic: dict[int, float]) -> None:
    """When each probe's event reached the topic: a reader of its own (no group) beside
    the replicas, so the bus's share of the latency is told from the consumers'."""
    from aiokafka import AIOKafkaConsumer

    reader = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await reader.start()
    try:
        while True:
            batch = await reader.getmany(timeout_ms=200)
            now = time.monotonic()
            for records in batch.values():
                for record in records:
                    with contextlib.suppress(ValueError, TypeError, AttributeError, KeyError):
                        data = json.loads(record.value)["data"]["object"]["data"]
                        if data.get("kind") == "probe" and data.get("run") == tag:
                            on_topic.setdefault(int(data["seq"]), now)
    finally:
        await reader.stop()


async def _create_topic(bootstrap: str, topic: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
    finally:
        await admin.close()


async def _group_members(bootstrap: str, group: str) -> int:
    """Members of a Stable consumer group (0 while it rebalances or does not exist)."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        responses = await admin.describe_consumer_groups([group])
    except Exception:  # no coordinator yet: the group does not exist so far
        return 0
    finally:
        await admin.close()
    for response in responses:  # DescribeGroups: (error, group, state, type, protocol, members)
        for described in response.groups:
            if described[1] == group and described[0] == 0 and described[2] == "Stable":
                return len(described[5])
    return 0


def _configmap(name: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}
