"""Responders scaled out through Kafka: three ``kubeops respond run`` replicas in one
consumer group (distributed mode: the leader publishes the cluster's events, every
replica consumes and acts), a stream of ConfigMaps created, one replica SIGKILLed
mid-stream.  Every event is acted on exactly once -- counted in the cluster (the
label the action sets), in the ledger (one succeeded entry per action) and in the
audit log the replicas share (no action id succeeded twice) -- and the global rate
limit holds across the replicas."""

from __future__ import annotations

import asyncio
import collections
import os
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from integration.respond.daemon.harness import NOT_YET, Daemon, Spawn, audit_records, write_rules
from kubeops.api import Client
from kubeops.respond import outcome
from kubeops.respond.ledger import LEDGER_LABEL, from_configmap
from kubeops.testenv import async_eventually
from kubeops.testenv.kafka import Kafka

STREAM = 90
"""ConfigMaps created (one event, one action each)."""
FIRST = 45
"""ConfigMaps created before the kill (the rest after it)."""
KILL_AFTER = 20
"""Actions done when a replica is killed."""
RATE = 12
"""The global limit of the rate test: actions per window."""


def bus_rules(
    namespace: str, bootstrap: str, topic: str, group: str, spool: Path, **limits: Any
) -> dict[str, Any]:
    return {
        "bus": {
            "brokers": [bootstrap],
            "publish": {"topic": topic, "cluster": "testenv", "sources": ["resource"],
                        "spool": {"dir": str(spool)}},
            "consume": {"topics": [topic], "group": group},
        },
        "rules": [
            {
                "name": "mark-new",
                "trigger": {"source": "resource", "kind": "ConfigMap", "names": ["added"],
                            "namespaces": [namespace], "selector": "stream=yes"},
                "actions": [{"label": {"labels": {"handled": "yes"}}}],
            }
        ],
        "limits": {"namespace": namespace, **limits},
    }  # fmt: skip


async def start_replicas(
    spawn: Spawn, http: aiohttp.ClientSession, kubeconfig: str, rules: Path, audit: str,
    namespace: str,
) -> list[Daemon]:  # fmt: skip
    lease = f"respond-{uuid.uuid4().hex[:8]}"
    replicas = [
        await spawn(
            "--kubeconfig", kubeconfig, "--rules", str(rules), "--audit-url", audit,
            "--leader-elect", "--lease-name", lease, "--lease-namespace", namespace,
            "--lease-duration", "6s",
        )
        for _ in range(3)
    ]  # fmt: skip

    async def all_ready() -> bool:
        states = [await r.healthz(http) for r in replicas]
        assert sum(s["leader"] for s in states) == 1, states
        assert all([await r.ready(http) for r in replicas]), states
        assigned = [len(s["bus"]["consumer"]["partitions"]) for s in states]
        assert sum(assigned) == 3, assigned  # the group settled: every partition owned
        return True

    await async_eventually(
        all_ready, timeout=60, interval=0.2, message="three ready replicas", ignore=NOT_YET
    )
    return replicas


async def create(client: Client, namespace: str, first: int, count: int) -> None:
    semaphore = asyncio.Semaphore(8)

    async def one(i: int) -> None:
        async with semaphore:
            await client.create(
                {"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": f"event-{i:04d}", "labels": {"stream": "yes"}}},
                namespace,
            )  # fmt: skip

    await asyncio.gather(*(one(i) for i in range(first, first + count)))


async def handled(client: Client, namespace: str) -> int:
    listed = await client.list("configmaps", namespace, label_selector="stream=yes,handled=yes")
    return len(listed["items"])


async def ledger(client: Client, namespace: str) -> list[Any]:
    listed = await client.list("configmaps", namespace, label_selector=f"{LEDGER_LABEL}=true")
    return [e for e in (from_configmap(o) for o in listed["items"]) if e is not None]


STOP_SECONDS = 45
"""A replica's graceful stop: the consumer settles and commits (5 s at most each),
leaves its group (10 s at most), and the engine drains; on a loaded machine, past
the harness's default 30 s."""


async def stop_all(replicas: list[Daemon]) -> None:
    """SIGTERM every replica at once (a Deployment deleted), each exits 0 in time."""
    codes = await asyncio.gather(*(r.stop(STOP_SECONDS) for r in replicas))
    for r, code in zip(replicas, codes, strict=True):
        assert code == 0, r.log[-3000:]


@pytest.fixture
def audit(postgres_url: str) -> str:
    """The audit database every replica writes (as replicas in a cluster share one)."""
    return postgres_url


# The leader's death is the harder case: the group rebalances *and* a new leader's sweep
# resumes the dead one's claims.  A follower's death takes the same sweep and rebalance
# paths; it runs when asked for (KUBEOPS_BUS_VICTIMS=follower,leader), to keep CI short.
VICTIMS = os.environ.get("KUBEOPS_BUS_VICTIMS", "leader").split(",")


@pytest.mark.parametrize("victim_role", VICTIMS)
async def test_three_replicas_act_once_per_event_across_a_sigkill(
    victim_role: str,
    spawn: Spawn,
    http: aiohttp.ClientSession,
    kubeconfig: str,
    kube_namespace: str,
    client: Client,
    kafka: Kafka,
    kafka_topic: str,
    audit: str,
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    ns = kube_namespace
    group = f"respond-{uuid.uuid4().hex[:6]}"
    document = bus_rules(ns, kafka.bootstrap, kafka_topic, group, tmp_path / "spool")
    rules = write_rules(tmp_path / "rules", document)
    replicas = await start_replicas(spawn, http, kubeconfig, rules, audit, ns)
    states = [await r.healthz(http) for r in replicas]
    # The victim: the leader (its sources and publisher hand over too), or a follower
    # that reads a partition.
    victim = next(
        i
        for i, s in enumerate(states)
        if s["leader"] == (victim_role == "leader") and s["bus"]["consumer"]["partitions"]
    )
    # The first part of the stream; the kill while it is being handled; the rest after.
    first = asyncio.create_task(create(client, ns, 0, FIRST))

    async def some_handled() -> bool:
        return await handled(client, ns) >= KILL_AFTER

    await async_eventually(some_handled, timeout=60, interval=0.1, message="actions under way")
    replicas[victim].kill()
    killed_at = await handled(client, ns)
    await first
    await create(client, ns, FIRST, STREAM - FIRST)
    survivors = [r for i, r in enumerate(replicas) if i != victim]

    async def all_handled() -> bool:
        for r in survivors:
            assert r.running, r.log[-3000:]
        entries = await ledger(client, ns)
        done = [e for e in entries if e.state == outcome.SUCCEEDED]
        return await handled(client, ns) == STREAM and len(done) == STREAM

    await async_eventually(all_handled, timeout=60, interval=0.5, message="every event handled")

    async def all_audited() -> bool:
        records = await audit_records(audit, rule="mark-new")
        return len({r.action_id for r in records if r.outcome == outcome.SUCCEEDED}) == STREAM

    await async_eventually(all_audited, timeout=30, interval=0.5, message="every action audited")
    await stop_all(survivors)

    entries = await ledger(client, ns)
    records = await audit_records(audit, rule="mark-new")
    succeeded = collections.Counter(r.action_id for r in records if r.outcome == outcome.SUCCEEDED)
    twice = {a: n for a, n in succeeded.items() if n > 1}
    suppressed = collections.Counter(r.reason for r in records if r.outcome == outcome.SUPPRESSED)
    by_replica = collections.Counter(r.replica for r in records if r.outcome == outcome.SUCCEEDED)
    resumed = sum(r.detail.startswith("resumed:") for r in records)
    recovered = sum("audited from the ledger" in r.detail for r in records)
    missing = STREAM - await handled(client, ns)
    assert twice == {}, f"actions taken more than once: {twice}"
    assert len(succeeded) == STREAM
    assert len(entries) == STREAM
    assert all(e.state == outcome.SUCCEEDED for e in entries)
    assert missing == 0
    assert not any(r.outcome == outcome.FAILED for r in records)
    print(
        f"\nbus replicas: {STREAM} events, {len(succeeded)} actions, 0 duplicates, "
        f"{missing} missed; the {victim_role} SIGKILLed after {killed_at} actions; "
        f"succeeded per replica {sorted(by_replica.values())}; {resumed} resumed from the "
        f"ledger, {recovered} audited from it; redeliveries suppressed {dict(suppressed)}; "
        f"{time.monotonic() - started:.1f}s"
    )


async def test_the_global_rate_limit_holds_across_replicas(
    spawn: Spawn,
    http: aiohttp.ClientSession,
    kubeconfig: str,
    kube_namespace: str,
    client: Client,
    kafka: Kafka,
    kafka_topic: str,
    audit: str,
    tmp_path: Path,
) -> None:
    ns = kube_namespace
    group = f"respond-{uuid.uuid4().hex[:6]}"
    document = bus_rules(
        ns, kafka.bootstrap, kafka_topic, group, tmp_path / "spool",
        maxActions={"count": RATE, "per": "1h"},
    )  # fmt: skip
    rules = write_rules(tmp_path / "rules", document)
    replicas = await start_replicas(spawn, http, kubeconfig, rules, audit, ns)
    total = 5 * RATE
    await create(client, ns, 0, total)

    async def every_event_decided() -> list[Any]:
        for r in replicas:
            assert r.running, r.log[-3000:]
        records = await audit_records(audit, rule="mark-new")
        decided = {r.event_identity for r in records if r.action}
        assert len(decided) == total, len(decided)
        return records

    records = await async_eventually(
        every_event_decided, timeout=60, interval=0.5, message="every event decided"
    )
    await stop_all(replicas)
    counts = collections.Counter(
        f"{r.outcome}/{r.reason}" if r.reason else r.outcome for r in records if r.action
    )
    by_replica = collections.Counter(r.replica for r in records if r.outcome == outcome.SUCCEEDED)
    # One replica alone would take RATE; three counting apart would take up to 3 x RATE.
    assert counts == {
        outcome.SUCCEEDED: RATE,
        f"{outcome.SUPPRESSED}/{outcome.GLOBAL_RATE}": total - RATE,
    }, counts
    assert await handled(client, ns) == RATE
    print(
        f"\nglobal limit {RATE}/1h over 3 replicas: {total} events, {counts[outcome.SUCCEEDED]} "
        f"succeeded (per replica {sorted(by_replica.values())}), "
        f"{total - RATE} suppressed global-rate"
    )
