"""S10: multi-cluster sync -- 1,000 Deployments on a source kept on N targets, measured from
outside by watching the targets (:mod:`harness.s10_fleet`).

Three contenders, each started as its own process: kubeops' push controller
(``kubeops sync run`` against a hub holding the members and, once the controller
holds its lease, the ClusterSyncPolicy), the floor (the same applies sent straight
with kubeops' ``Client``) and the loop users write by hand (the official
``kubernetes`` client).  One run measures, in order:

- convergence: from the word (the policy's create; the others: a line on stdin)
  until every target holds every Deployment at its revision;
- propagation: changes to the source at a steady rate, each timed from just before
  its write is sent until the last target shows it;
- (with ``outage``) the first target's API server stopped for ``outage_seconds``
  while the changes go on (the other targets' lags are kept apart), then started
  again: catch-up is from the ``start_apiserver()`` call until that target holds
  every Deployment at its revision.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from harness import s10_fleet as fleet
from harness.procfs import alive, cpu_seconds, memory, stop
from harness.stats import percentile, summary
from kubeops.testenv import Cluster, async_eventually
from kubeops.transport.errors import NotFound

HUB = "hub"
SOURCE = "source"
POLICY = "s10"
GROUP = "sync.kubeops.io/v1alpha1"
SYSTEM_NAMESPACE = "kubeops-sync"
LEASE = "kubeops-sync"
READY_TIMEOUT = 120.0
DRAIN = 10.0  # after the last change, how long its arrival may take before it counts as missed
SETTLE = 1.0  # between convergence and the first change


@dataclass(frozen=True)
class Settings:
    """One S10 run's sizes."""

    deployments: int
    changes: int
    rate: float  # changes a second
    outage_seconds: float
    converge_timeout: float
    catchup_timeout: float
    workers: int = 4


def target_names(count: int) -> list[str]:
    return [f"t{i:02d}" for i in range(1, count + 1)]


class Contender(Protocol):
    """A process that keeps the targets in sync once told to start."""

    name: str
    pid: int

    async def start(self, targets: Sequence[Cluster]) -> None: ...
    async def go(self) -> None: ...
    async def stop(self) -> str: ...


class StdinContender:
    """A runner (the floor, the hand-written loop) that says ready, then starts on a stdin line."""

    def __init__(self, name: str, argv_for: Callable[[str], list[str]], source: Cluster) -> None:
        self.name = name
        self.argv_for = argv_for
        self.source = source
        self.pid = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: Any = None

    async def start(self, targets: Sequence[Cluster]) -> None:
        params = {
            "kubeconfig": str(self.source.kubeconfig),
            "targets": [str(t.kubeconfig) for t in targets],
            "namespace": fleet.NAMESPACE,
            "source_cluster": SOURCE,
        }
        self._proc, self._stderr = _spawn(self.argv_for(json.dumps(params)), stdio=subprocess.PIPE)
        self.pid = self._proc.pid
        assert self._proc.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(self._proc.stdout.readline), READY_TIMEOUT)
        if b'"ready"' not in line:
            raise RuntimeError(f"not ready: {line.decode(errors='replace')[:300] or 'exited'}")

    async def go(self) -> None:
        assert self._proc is not None
        assert self._proc.stdin is not None
        self._proc.stdin.write(b"go\n")
        self._proc.stdin.flush()

    async def stop(self) -> str:
        tail = _stop(self._proc, self._stderr)
        self._proc = self._stderr = None
        return tail


class EngineContender:
    """``kubeops sync run`` against the hub; members are joined once, the policy made per run."""

    name = "kubeops-sync-run"

    def __init__(self, argv_for: Callable[[str], list[str]], hub: Cluster, source: Cluster) -> None:
        self.argv_for = argv_for
        self.hub = hub
        self.source = source
        self.pid = 0
        self.joined: set[str] = set()
        self.targets: list[str] = []
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: Any = None

    @staticmethod
    def available() -> str:
        """Why ``kubeops sync run`` cannot be measured here, or "" when it can."""
        done = subprocess.run(
            [_kubeops(), "sync", "run", "--help"], capture_output=True, text=True, check=False
        )
        if done.returncode == 0:
            return ""
        last = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        return f"`kubeops sync run --help` failed: {last[-300:]}"

    def install(self) -> None:
        """The CRDs and RBAC on the hub, then a wait until the hub serves the new kinds (their
        storage starts after the CRDs are established: a controller started earlier backs off)."""
        _cli("sync", "install", "--kubeconfig", str(self.hub.kubeconfig))

        async def served() -> None:
            async with fleet.client(self.hub.kubeconfig) as c:
                for plural in ("clustersyncpolicies", "memberclusters"):
                    await async_eventually(
                        lambda plural=plural: c.request("GET", f"/apis/{GROUP}/{plural}"),
                        timeout=READY_TIMEOUT,
                        message=f"the hub serving {plural}",
                    )

        asyncio.run(served())

    def join(self, clusters: Sequence[Cluster]) -> None:
        for cluster in clusters:
            if cluster.name in self.joined:
                continue
            _cli(
                "sync",
                "join",
                cluster.name,
                "--member-kubeconfig",
                str(cluster.kubeconfig),
                "--kubeconfig",
                str(self.hub.kubeconfig),
            )
            self.joined.add(cluster.name)

    async def start(self, targets: Sequence[Cluster]) -> None:
        await asyncio.to_thread(self.join, [self.source, *targets])
        self.targets = [t.name for t in targets]
        async with fleet.client(self.hub.kubeconfig) as c:
            with contextlib.suppress(NotFound):  # a lease left by the run before: not ours
                await c.delete("leases", LEASE, SYSTEM_NAMESPACE)
        params = {"kubeconfig": str(self.hub.kubeconfig), "listen": f"127.0.0.1:{_free_port()}"}
        self._proc, self._stderr = _spawn(
            self.argv_for(json.dumps(params)), stdio=subprocess.DEVNULL
        )
        self.pid = self._proc.pid

        async with fleet.client(self.hub.kubeconfig) as c:

            async def leader() -> bool:
                if not alive(self.pid):
                    raise RuntimeError("`kubeops sync run` exited")  # not retried: ends the wait
                try:
                    lease = await c.get("leases", LEASE, SYSTEM_NAMESPACE)
                except NotFound:
                    return False
                return bool(lease.get("spec", {}).get("holderIdentity"))

            await async_eventually(
                leader,
                timeout=READY_TIMEOUT,
                message="kubeops sync run holding its lease",
                ignore=(NotFound, OSError),
            )

    async def go(self) -> None:
        policy = {
            "apiVersion": GROUP,
            "kind": "ClusterSyncPolicy",
            "metadata": {"name": POLICY},
            "spec": {
                "sourceCluster": SOURCE,
                "targetClusters": self.targets,
                "resources": [
                    {"apiGroup": "apps", "kind": "Deployment", "namespaces": [fleet.NAMESPACE]}
                ],
            },
        }
        async with fleet.client(self.hub.kubeconfig) as c:
            await c.create(policy)

    async def stop(self) -> str:
        tail = _stop(self._proc, self._stderr)
        self._proc = self._stderr = None
        async with fleet.client(self.hub.kubeconfig) as c:
            with contextlib.suppress(NotFound):
                await c.delete("clustersyncpolicies", POLICY)
                # Nothing runs to honour a finalizer now: the next run creates the policy anew.
                await c.patch("clustersyncpolicies", POLICY, {"metadata": {"finalizers": None}})
        return tail


def _spawn(argv: list[str], stdio: int) -> tuple[subprocess.Popen[bytes], Any]:
    """The contender in a session of its own (stopped as a group), stderr kept in a file."""
    stderr = tempfile.TemporaryFile()  # noqa: SIM115 -- outlives this call; _stop() closes it
    proc = subprocess.Popen(argv, stdin=stdio, stdout=stdio, stderr=stderr, start_new_session=True)
    return proc, stderr


def _stop(proc: subprocess.Popen[bytes] | None, stderr: Any) -> str:
    """Stop the process; the end of its stderr."""
    if proc is None:
        return ""
    stop(proc)
    if stderr is None:
        return ""
    stderr.seek(0)
    tail = stderr.read()[-4000:].decode(errors="replace")
    stderr.close()
    return str(tail)


def _kubeops() -> str:
    return str(Path(sys.executable).with_name("kubeops"))


def _cli(*args: str) -> None:
    done = subprocess.run([_kubeops(), *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        raise RuntimeError(f"kubeops {' '.join(args[:2])}: {last[-500:]}")


def _free_port() -> int:
    from harness.s9 import free_port

    return free_port()


class Changes:
    """The harness's writes to the source: one Deployment's revision at a time, in turn."""

    def __init__(self, source: Cluster, revisions: dict[str, int]) -> None:
        self.source = source
        self.revisions = revisions
        self.names = sorted(revisions)
        self.next = 0
        self.revision = max(revisions.values(), default=0)

    async def steady(self, count: int, rate: float) -> list[tuple[str, int, float]]:
        """``count`` changes at ``rate`` a second; (name, revision, sent at) of each."""
        sent: list[tuple[str, int, float]] = []

        async def one(c: Any, name: str, revision: int) -> None:
            sent.append((name, revision, time.monotonic()))
            await fleet.change(c, name, revision)

        async with fleet.client(self.source.kubeconfig) as c:
            start = time.monotonic()
            tasks = []
            for i in range(count):
                await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
                name = self.names[self.next % len(self.names)]
                self.next += 1
                self.revision += 1
                self.revisions[name] = self.revision
                tasks.append(asyncio.create_task(one(c, name, self.revision)))
            await asyncio.gather(*tasks)
        return sent


async def _lags(
    views: Sequence[fleet.TargetView], sent: list[tuple[str, int, float]]
) -> tuple[list[float], int]:
    """Per change, ms until the last of ``views`` showed it; and how many never arrived."""

    def arrived() -> bool:
        return all(v.first_at(n, r) is not None for n, r, _ in sent for v in views)

    with contextlib.suppress(AssertionError):
        await async_eventually(arrived, timeout=DRAIN, interval=0.05, message="every change")
    lags, missed = [], 0
    for name, revision, at in sent:
        seen = [v.first_at(name, revision) for v in views]
        if any(s is None for s in seen):
            missed += 1
        else:
            lags.append((max(s for s in seen if s is not None) - at) * 1e3)
    return lags, missed


def _percentiles(lags: list[float]) -> dict[str, float | None]:
    if not lags:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    return {
        "p50_ms": round(percentile(lags, 50), 2),
        "p99_ms": round(percentile(lags, 99), 2),
        "max_ms": round(max(lags), 2),
    }


async def measure(
    contender: Contender,
    targets: Sequence[Cluster],
    changes: Changes,
    settings: Settings,
    outage: bool,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    """One run of one contender over ``targets``: the run's record (``ok`` False with the
    error if something failed)."""
    await fleet.clean([t.kubeconfig for t in targets])
    views = [fleet.TargetView(t.name, t.kubeconfig) for t in targets]
    record: dict[str, Any] = {"ok": False, "targets": len(targets)}
    started = time.perf_counter()
    try:
        async with fleet.watching(views):
            await async_eventually(
                lambda: all(not v.revisions for v in views),
                timeout=60,
                message="the targets emptied",
            )
            await contender.start(targets)
            await _run(contender, views, targets, changes, settings, outage, progress, record)
            record["ok"] = True
    except Exception as err:
        record["error"] = f"{type(err).__name__}: {err}"
    finally:
        for target in targets:  # a failed outage must not leave a target down
            await asyncio.to_thread(target.start_apiserver)
        tail = await contender.stop()
        if not record["ok"]:
            record["stderr_tail"] = tail[-2000:]
        record["wall_seconds"] = time.perf_counter() - started
    return record


async def _run(
    contender: Contender,
    views: list[fleet.TargetView],
    targets: Sequence[Cluster],
    changes: Changes,
    settings: Settings,
    outage: bool,
    progress: Callable[[str], None],
    record: dict[str, Any],
) -> None:
    pid = contender.pid
    for view in views:
        view.arm(changes.revisions)
    cpu_before = cpu_seconds(pid)
    began = time.monotonic()
    await contender.go()
    await async_eventually(
        lambda: all(v.converged_at is not None for v in views),
        timeout=settings.converge_timeout,
        interval=0.05,
        message=f"{len(views)} targets holding {settings.deployments:,} Deployments",
    )
    converged = {v.name: round(v.converged_at - began, 3) for v in views if v.converged_at}
    record["value"] = max(converged.values())
    progress(f"S10 {contender.name} at {len(views)} targets: converged in {record['value']:.2f}s")
    await asyncio.sleep(SETTLE)
    sent = await changes.steady(settings.changes, settings.rate)
    lags, missed = await _lags(views, sent)
    per_target = {v.name: _percentiles((await _lags([v], sent))[0]) for v in views}
    window = time.monotonic() - began
    cpu = cpu_seconds(pid) - cpu_before
    rss, _ = memory(pid)
    record["rss_bytes"] = rss
    record["extra"] = {
        "convergence_s": record["value"],
        "per_target_convergence_s": converged,
        "changes": len(sent),
        "rate": settings.rate,
        "lags_ms": [round(v, 2) for v in lags],
        "missed": missed,
        **_percentiles(lags),
        "per_target_p99_ms": {name: p["p99_ms"] for name, p in per_target.items()},
        "cpu_seconds": round(cpu, 3),
        "cpu_percent": round(cpu / window * 100, 1),
    }
    progress(
        f"S10 {contender.name} at {len(views)} targets: p99 {record['extra']['p99_ms']} ms,"
        f" {missed} missed, RSS {rss / 2**20:.0f} MiB"
    )
    if outage:
        record["extra"]["outage"] = await _outage(views, targets, changes, settings)
        caught = record["extra"]["outage"]["catch_up_s"]
        progress(f"S10 {contender.name}: caught up {caught} s after start_apiserver()")
    if not alive(pid):
        raise RuntimeError("the contender exited during the run")
    record["peak_rss_bytes"] = memory(pid)[1]


async def _outage(
    views: list[fleet.TargetView],
    targets: Sequence[Cluster],
    changes: Changes,
    settings: Settings,
) -> dict[str, Any]:
    """The first target down for ``outage_seconds`` while the changes go on, then back."""
    down, others = views[0], views[1:]
    await asyncio.to_thread(targets[0].stop_apiserver)
    sent = await changes.steady(
        max(1, round(settings.outage_seconds * settings.rate)), settings.rate
    )
    lags, missed = await _lags(others, sent) if others else ([], 0)
    down.arm(changes.revisions)
    stale = down.stale()
    restart = time.monotonic()
    await asyncio.to_thread(targets[0].start_apiserver)
    ready = time.monotonic()
    with contextlib.suppress(AssertionError):
        await async_eventually(
            lambda: down.converged_at is not None,
            timeout=settings.catchup_timeout,
            interval=0.05,
            message=f"{down.name} caught up",
        )
    caught = down.converged_at
    return {
        "target": down.name,
        "changes": len(sent),
        "stale_at_restart": stale,
        "server_start_s": round(ready - restart, 3),
        "catch_up_s": round(caught - restart, 3) if caught else None,
        "after_ready_s": round(caught - ready, 3) if caught else None,
        "stale_at_timeout": None if caught else down.stale(),
        "timeout_s": settings.catchup_timeout,
        "others_lags_ms": [round(v, 2) for v in lags],
        "others_missed": missed,
        **{f"others_{k}": v for k, v in _percentiles(lags).items()},
    }


def settings_dict(settings: Settings) -> dict[str, Any]:
    return asdict(settings)


def summarise(entry: dict[str, Any], first: int) -> None:
    """``by_targets[client][N]``: convergence, pooled propagation, RSS and catch-up at each
    number of targets; ``summary`` is the comparison size's (``first``)."""
    by: dict[str, dict[str, Any]] = {}
    for run in entry["runs"]:
        by.setdefault(run["client"], {}).setdefault(str(run["targets"]), []).append(run)
    entry["by_targets"] = {}
    for client, sizes in by.items():
        entry["by_targets"][client] = {n: _size_stats(runs) for n, runs in sizes.items()}
    entry["summary"] = {
        client: sizes[str(first)]
        for client, sizes in entry["by_targets"].items()
        if str(first) in sizes
    }


def _size_stats(runs: list[dict[str, Any]]) -> dict[str, Any]:
    good = [r for r in runs if r["ok"]]
    lags = [lag for r in good for lag in r["extra"]["lags_ms"]]
    outages = [r["extra"]["outage"] for r in good if "outage" in r["extra"]]
    caught = [o["catch_up_s"] for o in outages if o["catch_up_s"] is not None]
    others = [lag for o in outages for lag in o["others_lags_ms"]]
    stats: dict[str, Any] = {
        **summary([r["value"] for r in good]),
        "runs": len(runs),
        "failed": len(runs) - len(good),
        "wall_seconds_median": summary([r["wall_seconds"] for r in runs]).get("median"),
        "peak_rss_mib_median": (
            summary([r.get("peak_rss_bytes", 0) for r in good]).get("median") or 0
        )
        / 2**20,
        "rss_mib": summary([r["rss_bytes"] / 2**20 for r in good]),
        "cpu_percent": summary([r["extra"]["cpu_percent"] for r in good]),
        "pooled": {
            "events": len(lags),
            "writes": sum(r["extra"]["changes"] for r in good),
            "missed": sum(r["extra"]["missed"] for r in good),
            **_percentiles(lags),
        },
    }
    if outages:
        stats["outage"] = {
            "runs": len(outages),
            "caught_up": len(caught),
            "catch_up_s": summary(caught),
            "server_start_s": summary([o["server_start_s"] for o in outages]),
            "stale_at_timeout": [o["stale_at_timeout"] for o in outages if o["catch_up_s"] is None],
            "others": {"events": len(others), "missed": sum(o["others_missed"] for o in outages),
                       **_percentiles(others)},
        }  # fmt: skip
    return stats


def env_names(max_targets: int) -> list[str]:
    return [HUB, SOURCE, *target_names(max_targets)]
