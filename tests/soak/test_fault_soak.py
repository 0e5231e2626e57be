"""The fault soak (``make soak``): rounds of randomly chosen real faults under
concurrent writers, each round checked object by object.

Faults: an API server restart, an etcd compaction (with a defragmentation, and the
API server restart that makes the compaction visible to watches), and connection
resets by a loopback TCP proxy that every client of the soak goes through.  A
member cluster stopped is not applicable until multi-cluster sync lands.

Each round, writers create, update and delete ConfigMaps (and delete the previous
round's survivors) while one or two faults strike; then:

(a) a SharedInformer that lives through every round has a store equal to a fresh
    LIST, and the last event each of its handlers got carries each object's final
    state (the checks of tests/informer_soak.py);
(b) ``kubeops watch configmaps -o jsonl``, a subprocess started with the round, ends
    with every object's final state and its stream never contradicts itself.

(c) ``kubeops inspect serve``, a daemon through every round, lost no scheduled run and
    ran none twice (tests/soak/serve_daemon.py).
  ``KUBEOPS_SOAK_ROUNDS`` sets the count (a short soak by default, as CI runs);
``KUBEOPS_SOAK_SEED`` replays a soak.  The figures go to stdout (``pytest -s``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import yaml

from informer_soak import (
    Obj,
    Recorder,
    Soak,
    await_quiescence,
    cm,
    last_event_differences,
    soak_clients,
    store_differences,
    writer_differences,
)
from kubeops.api import Client
from kubeops.cache import ReflectorBackoff, SharedInformer, SharedInformerFactory
from kubeops.config import load_config, write_kubeconfig
from kubeops.testenv import Cluster, Environment, async_eventually

from .proxy import ResettingProxy
from .serve_daemon import ServeProcess, schedule_differences
from .watch_cli import WatchProcess

ROUNDS = int(os.environ.get("KUBEOPS_SOAK_ROUNDS", "3"))
SEED = int(os.environ.get("KUBEOPS_SOAK_SEED", "17"))
OBJECTS = int(os.environ.get("KUBEOPS_SOAK_ROUND_OBJECTS", "50"))  # new objects per round
WRITERS = 16
SERVE_INTERVAL = 5  # seconds between inspect serve's scheduled runs
NAMESPACE = "soak"
FAULT_KINDS = ("restart", "compact", "reset")
NOT_APPLICABLE = {"member cluster stopped": "multi-cluster sync has not landed"}


@dataclass
class Figures:
    """What the soak did and found, for its summary line."""

    rounds: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    writes: int = 0
    retries: int = 0
    replayed: int = 0
    connections_reset: int = 0
    fault_seconds: Counter[str] = field(default_factory=Counter)
    watch_lines: int = 0
    serve_runs: int = 0
    serve_errors: int = 0
    stale_deletes: int = 0
    unseen: int = 0
    mismatched_rounds: int = 0
    mismatches: list[str] = field(default_factory=list)
    slowest_round: float = 0.0
    slowest_watch: float = 0.0
    seconds: float = 0.0

    def fault_means(self) -> dict[str, float]:
        """Mean seconds each kind of fault took to inflict (a restart: until ready again)."""
        return {k: round(self.fault_seconds[k] / n, 1) for k, n in self.faults.items() if n}

    def summary(self) -> str:
        """The figures in a few lines."""
        skipped = "; ".join(f"{k}: N/A ({why})" for k, why in NOT_APPLICABLE.items())
        return "\n".join(
            [
                f"fault soak (seed {SEED}): {self.rounds} rounds, {self.seconds:.0f}s "
                f"(slowest round {self.slowest_round:.1f}s, slowest watch catch-up "
                f"{self.slowest_watch:.1f}s)",
                f"  faults: {dict(self.faults)} (mean seconds each: {self.fault_means()}); {skipped}",
                f"  writes {self.writes} (retried {self.retries}, deletes replayed by the "
                f"transport {self.replayed}); connections reset "
                f"{self.connections_reset}; kubeops watch lines {self.watch_lines}",
                f"  inspect serve: {self.serve_runs} scheduled runs every {SERVE_INTERVAL}s "
                f"({self.serve_errors} without a document)",
                f"  deletes seen only by a relist (older state): {self.stale_deletes}; "
                f"objects created and deleted unseen: {self.unseen}",
                f"  rounds with a mismatch: {self.mismatched_rounds} of {self.rounds}; "
                f"mismatches: {len(self.mismatches)}",
                *(f"    {m}" for m in self.mismatches[:30]),
            ]
        )


def proxied_kubeconfig(cluster: Cluster, port: int, path: Path) -> Path:
    """The cluster's kubeconfig with its server moved to the proxy's port."""
    document = yaml.safe_load(cluster.kubeconfig.read_text())
    for entry in document["clusters"]:
        entry["cluster"]["server"] = f"https://127.0.0.1:{port}"
    return write_kubeconfig(path, document)


def compact_and_defragment(env: Environment) -> None:
    """etcd compaction and defragmentation, and the API server restarts that make the
    compacted history visible (Environment.compact)."""
    env.compact()
    assert env.etcd is not None
    response = httpx.post(f"{env.etcd.url}/v3/maintenance/defragment", json={}, timeout=60)
    response.raise_for_status()


@dataclass
class Faults:
    """One round's faults: kinds and the share of the writes done before each."""

    plan: list[tuple[float, str]]

    @classmethod
    def draw(cls, rng: random.Random) -> Faults:
        count = rng.randint(1, 2)
        return cls(sorted((rng.uniform(0.05, 0.9), rng.choice(FAULT_KINDS)) for _ in range(count)))

    async def inflict(
        self,
        soak: Soak,
        planned: int,
        env: Environment,
        proxy: ResettingProxy,
        figures: Figures,
    ) -> None:
        loop = asyncio.get_running_loop()
        cluster = env.cluster()
        for fraction, kind in self.plan:
            await async_eventually(
                lambda: soak.writes >= fraction * planned,  # noqa: B023 (awaited in this iteration)
                timeout=120,
                interval=0.05,
                message=f"{fraction:.0%} of the writes before the {kind}",
            )
            # Blocking calls go to a thread, so that the writers and the informer keep going.
            began = time.monotonic()
            if kind == "restart":
                await loop.run_in_executor(None, cluster.restart_apiserver)
            elif kind == "compact":
                await loop.run_in_executor(None, compact_and_defragment, env)
            else:
                await async_eventually(
                    lambda: proxy.live > 0, timeout=30, message="a connection open to reset"
                )
                reset = proxy.reset(soak.rng)
                figures.connections_reset += reset
            figures.faults[kind] += 1
            figures.fault_seconds[kind] += time.monotonic() - began


@dataclass
class Informer:
    """The informer that lives through the whole soak, and its handlers' records."""

    informer: SharedInformer
    first: Recorder
    resyncing: Recorder
    registrations: list[object]
    seen_problems: int = 0

    def differences(self, listed: dict[str, Obj], soak: Soak, figures: Figures) -> list[str]:
        found = store_differences(self.informer, listed)
        for recorder in (self.first, self.resyncing):
            more, stale, unseen = last_event_differences(recorder, self.informer, listed, soak)
            found += more
            if recorder is self.first:
                figures.stale_deletes += stale
                figures.unseen += unseen
        problems = self.first.problems + self.resyncing.problems
        found += problems[self.seen_problems :]
        self.seen_problems = len(problems)
        return found


async def soak_round(
    number: int,
    survivors: list[Obj],
    env: Environment,
    proxy: ResettingProxy,
    kubeconfig: Path,
    writer_client: Client,
    watched: Informer,
    figures: Figures,
    logs: Path,
) -> list[Obj]:
    """One round; returns the objects it leaves for the next to delete."""
    started = time.monotonic()
    rng = random.Random(SEED * 100_003 + number)
    soak = Soak(writer_client, f"r{number:03d}", OBJECTS, rng)
    planned = soak.plan() + soak.adopt(survivors)
    names = list(soak.plans)
    rng.shuffle(names)
    faults = Faults.draw(rng)
    watch = WatchProcess(kubeconfig, NAMESPACE, logs / f"watch-{number:03d}.stderr")
    await watch.start()
    mismatches: list[str] = []
    try:
        # The watch has listed (the sentinel at least) before the writes start, so that
        # every object of the round is one it should see.
        before = await soak.fresh_list()
        try:
            await async_eventually(
                lambda: not watch.running or watch.converged(before),
                timeout=60,
                interval=0.2,
                message="kubeops watch lists the namespace",
            )
        except AssertionError:
            mismatches.append("[kubeops watch] never listed the namespace before the writes")
        striking = asyncio.create_task(faults.inflict(soak, planned, env, proxy, figures))
        writers = asyncio.gather(*(soak.writer(names[i::WRITERS]) for i in range(WRITERS)))
        try:
            await writers
            await striking
        finally:
            writers.cancel()  # after a failure: no writer or fault outlives the round
            striking.cancel()
        written = time.monotonic()

        # (a) the informer: store against a fresh LIST, handlers' last events.
        await await_quiescence(watched.informer, watched.registrations, soak, timeout=60)
        listed = await soak.fresh_list()
        mismatches += writer_differences(soak, listed)
        mismatches += watched.differences(listed, soak, figures)

        # (b) kubeops watch: its last line per object.
        async def watch_caught_up() -> bool:
            return not watch.running or watch.converged(await soak.fresh_list())

        with contextlib.suppress(AssertionError):  # the comparison below says what it lacks
            await async_eventually(
                watch_caught_up, timeout=90, interval=0.5, message="kubeops watch catches up"
            )
        figures.slowest_watch = max(figures.slowest_watch, time.monotonic() - written)
        listed = await soak.fresh_list()
        if not watch.running:
            mismatches.append(f"[kubeops watch] exited during the round; see {watch.stderr_path}")
        found, stale, unseen = watch.differences(listed, soak)
        mismatches += found
        figures.stale_deletes += stale
        figures.unseen += unseen
    finally:
        await watch.stop()
    figures.watch_lines += watch.lines
    figures.rounds += 1
    figures.writes += soak.writes
    figures.retries += soak.retries
    figures.replayed += soak.replayed
    if mismatches:
        figures.mismatched_rounds += 1
        plan = ", ".join(f"{kind} at {share:.0%}" for share, kind in faults.plan)
        figures.mismatches += [f"round {number} ({plan}): {m}" for m in mismatches]
    seconds = time.monotonic() - started
    figures.slowest_round = max(figures.slowest_round, seconds)
    plan = ", ".join(f"{kind} at {share:.0%}" for share, kind in faults.plan)
    print(
        f"round {number}: {plan}; {soak.writes} writes, {seconds:.1f}s, "
        f"{len(mismatches)} mismatches",
        flush=True,
    )
    return soak.survivors()


async def check_serve(serve: ServeProcess, figures: Figures) -> None:
    """(c): the daemon is up, then stops cleanly; every completed run is recorded once,
    on its slot of the grid."""
    found: list[str] = []
    if not serve.running:
        found.append(f"exited during the soak; see {serve.log}")
        completed = errors = 0
    else:
        completed, errors = await serve.completed()
    if await serve.stop() != 0:
        found.append(f"stopped with status {serve.returncode}; see {serve.log}")
    runs = serve.recorded()
    figures.serve_runs, figures.serve_errors = len(runs), errors
    if len(runs) + errors < completed:
        found.append(f"{completed} runs completed, {len(runs)} recorded and {errors} failed")
    found += schedule_differences(runs, SERVE_INTERVAL)
    figures.mismatches += [f"[inspect serve] {m}" for m in found]


# The suite's ten-minute limit per test suits a short soak; a full one runs for an hour.
@pytest.mark.timeout(300 + 120 * ROUNDS)
async def test_rounds_of_random_faults_leave_informer_and_watch_exact(tmp_path: Path) -> None:
    env = Environment(["soak"], api_only=True)
    env.start()
    figures = Figures()
    started = time.monotonic()
    proxy = ResettingProxy(env.cluster().port)
    try:
        cluster = env.cluster()
        cluster.admin.create("/api/v1/namespaces", {"metadata": {"name": NAMESPACE}})
        # Never deleted: each round's kubeops watch has something to list before the writes.
        cluster.admin.create(
            f"/api/v1/namespaces/{NAMESPACE}/configmaps", cm("sentinel", {"v": "0"})
        )
        await proxy.start()
        kubeconfig = proxied_kubeconfig(cluster, proxy.port, tmp_path / "proxied.kubeconfig")
        serve = ServeProcess(kubeconfig, NAMESPACE, tmp_path, SERVE_INTERVAL)
        await serve.start()
        config = load_config(kubeconfig, namespace=NAMESPACE)
        writer_client, informer_client = soak_clients(config, WRITERS)
        async with writer_client, informer_client:
            factory = SharedInformerFactory(informer_client, namespace=NAMESPACE, resync_period=2.0)
            informer = await factory.informer("configmaps")
            informer.reflector.backoff = ReflectorBackoff(cap=4.0)
            first, resyncing = Recorder("first"), Recorder("resync", resync=True)
            registrations: list[object] = [
                informer.add_handler(
                    first.on_add, first.on_update, first.on_delete, resync_period=0
                ),
                informer.add_handler(resyncing.on_add, resyncing.on_update, resyncing.on_delete),
            ]
            watched = Informer(informer, first, resyncing, registrations)
            factory.start()
            try:
                assert set((await factory.wait_for_cache_sync(60)).values()) == {True}
                survivors: list[Obj] = []
                for number in range(ROUNDS):
                    survivors = await soak_round(
                        number,
                        survivors,
                        env,
                        proxy,
                        kubeconfig,
                        writer_client,
                        watched,
                        figures,
                        tmp_path,
                    )
            finally:
                await factory.shutdown()
        await check_serve(serve, figures)
    finally:
        figures.seconds = time.monotonic() - started
        print("\n" + figures.summary())
        await proxy.close()
        env.stop()
    assert figures.rounds == ROUNDS
    assert sum(figures.faults.values()) >= ROUNDS
    assert figures.watch_lines > 0, "kubeops watch printed nothing: nothing was checked"
    assert figures.serve_runs >= 2, "inspect serve ran less than twice: its grid was not checked"
    assert not figures.mismatches, figures.summary()
