"""Two replicas of ``kubeops respond run --leader-elect``; the leader is SIGKILLed in the
middle of a storm of Warning Events.  Across the hand-over no action is taken twice
and none is lost: every action id has exactly one ``succeeded`` in the audit log the
replicas share (a real PostgreSQL, as replicas in a cluster share it), and there are
exactly as many as the rule's limit allows."""

from __future__ import annotations

import asyncio
import collections
import datetime
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import make_url

from kubeops.api import Client
from kubeops.respond import outcome
from kubeops.respond.ledger import WATERMARK_LABEL
from kubeops.testenv import async_eventually

from .harness import NOT_YET, Daemon, Spawn, audit_records, write_rules

STORM = 500
"""Warning Events raised."""
ALLOWED = 375
"""Actions the rule may take in its window: the rest are suppressed (rule-rate)."""
KILL_AFTER = {"early": (100, False), "late": (250, True)}
"""When the leader is killed -- (actions done, whether its watermark must have moved on
first): early in the storm, and once the leader has written a watermark while events
still wait in its engine (the kill comes before the last allowed action)."""


def storm_rules(namespace: str) -> dict[str, Any]:
    return {
        "rules": [
            {
                "name": "answer-storm",
                "trigger": {
                    "source": "event",
                    "names": ["StormWarning"],
                    "namespaces": [namespace],
                    "params": {"type": "Warning"},
                },
                "actions": [
                    {
                        "recordEvent": {
                            "reason": "StormHandled",
                            "message": "handled ${object.metadata.name}",
                            "type": "Normal",
                        }
                    }
                ],
                "safety": {"maxActions": {"count": ALLOWED, "per": "1h"}},
            }
        ],
        "limits": {"namespace": namespace},
    }


def warning(namespace: str, index: int) -> dict[str, Any]:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"storm-{index:05d}", "namespace": namespace},
        "involvedObject": {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "name": "stormy",
            "namespace": namespace,
        },
        "reason": "StormWarning",
        "message": f"warning {index}",
        "type": "Warning",
        "count": 1,
        "firstTimestamp": now,
        "lastTimestamp": now,
        "source": {"component": "storm-test"},
    }


async def handled(client: Client, namespace: str) -> int:
    listed = await client.list("v1/Event", namespace, field_selector="reason=StormHandled")
    return len(listed["items"])


@pytest.mark.parametrize(("kill_after", "watermarked"), KILL_AFTER.values(), ids=KILL_AFTER)
async def test_leader_killed_mid_storm_no_duplicate_no_missing_action(
    kill_after: int,
    watermarked: bool,
    spawn: Spawn,
    http: aiohttp.ClientSession,
    kubeconfig: str,
    kube_namespace: str,
    client: Client,
    tmp_path: Path,
    postgres_url: str,
) -> None:
    # The Warning Events are about this ConfigMap; each action records an Event on it.
    await client.create(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "stormy"}}, kube_namespace
    )
    rules = write_rules(tmp_path / "rules", storm_rules(kube_namespace))
    lease = f"respond-{uuid.uuid4().hex[:8]}"
    audit = postgres_url
    # As in a cluster: the URL, password included, comes from a mounted Secret.
    url_file = tmp_path / "audit-url"
    url_file.write_text(audit + "\n")
    url_file.chmod(0o600)
    replicas: list[Daemon] = [
        await spawn(
            "--kubeconfig",
            kubeconfig,
            "--rules",
            str(rules),
            "--audit-url-file",
            str(url_file),
            "--leader-elect",
            "--lease-name",
            lease,
            "--lease-namespace",
            kube_namespace,
            "--lease-duration",
            "6s",
        )
        for _ in range(2)
    ]

    async def one_leader_ready() -> list[int]:
        states = [await r.healthz(http) for r in replicas]
        leaders = [i for i, s in enumerate(states) if s["leader"]]
        assert len(leaders) == 1, states
        assert await replicas[leaders[0]].ready(http)
        return leaders

    (leader,) = await async_eventually(
        one_leader_ready, timeout=60, interval=0.2, message="one ready leader", ignore=NOT_YET
    )
    follower = 1 - leader
    # The follower serves its probes but sends events to the leader.
    async with http.post(
        replicas[follower].url + "/events", json={"name": "StormWarning", "payload": {}}
    ) as response:
        assert response.status == 503, await response.text()
        assert response.headers["Retry-After"]

    semaphore = asyncio.Semaphore(32)

    async def raise_one(index: int) -> None:
        async with semaphore:
            await client.create(warning(kube_namespace, index), kube_namespace)

    async def raise_all() -> None:
        await asyncio.gather(*(raise_one(i) for i in range(STORM)))

    storm = asyncio.create_task(raise_all())

    async def watermark_written() -> bool:
        found = await client.list("v1/ConfigMap", kube_namespace, label_selector=WATERMARK_LABEL)
        return bool(found["items"])

    async def some_handled() -> bool:
        assert replicas[leader].running, replicas[leader].log
        if watermarked and not await watermark_written():
            return False
        return await handled(client, kube_namespace) >= kill_after

    try:
        await async_eventually(some_handled, timeout=120, interval=0.1, message="actions under way")
    except AssertionError as err:
        raise AssertionError(f"{err}\nleader's log:\n{replicas[leader].log[-6000:]}") from None
    replicas[leader].kill()
    killed_at = await handled(client, kube_namespace)
    watermark_at_kill = await watermark_written()
    # Mid-storm: the successor has allowed actions left to take.
    assert killed_at < ALLOWED, f"the leader took all {killed_at} actions before it was killed"
    await storm

    async def all_handled() -> bool:
        assert replicas[follower].running, replicas[follower].log
        return await handled(client, kube_namespace) >= ALLOWED

    await async_eventually(
        all_handled, timeout=240, interval=0.5, message=f"{ALLOWED} actions in all"
    )
    assert (await replicas[follower].healthz(http))["leader"] is True

    # Settle: the successor has seen every storm Event (and suppresses the rest).
    async def every_event_decided() -> bool:
        records = await audit_records(audit, rule="answer-storm")
        identities = {r.event_identity for r in records if r.outcome != outcome.FIRED}
        return len(identities) >= STORM

    await async_eventually(
        every_event_decided, timeout=240, interval=1, message="every storm event decided"
    )
    assert await replicas[follower].stop() == 0, replicas[follower].log

    records = await audit_records(audit, rule="answer-storm")
    succeeded = collections.Counter(r.action_id for r in records if r.outcome == outcome.SUCCEEDED)
    twice = {a: n for a, n in succeeded.items() if n > 1}
    assert twice == {}, f"actions taken more than once: {twice}"
    assert len(succeeded) == ALLOWED, f"{len(succeeded)} actions, expected {ALLOWED}"
    assert await handled(client, kube_namespace) == ALLOWED
    reasons = collections.Counter(r.reason for r in records if r.outcome == outcome.SUPPRESSED)
    by_replica = collections.Counter(r.replica for r in records if r.outcome == outcome.SUCCEEDED)
    password = make_url(audit).password
    assert password
    assert all(password not in r.log for r in replicas)
    recovered = sum("audited from the ledger" in r.detail for r in records)
    print(
        f"\nstorm {STORM} events, limit {ALLOWED}: leader killed after {killed_at} actions "
        f"({'after' if watermark_at_kill else 'before'} its first watermark); "
        f"succeeded per replica {sorted(by_replica.values())}; suppressed {dict(reasons)}; "
        f"{recovered} audited by the successor from the ledger"
    )


async def test_sigterm_releases_the_lease_for_the_other_replica_at_once(
    spawn: Spawn,
    http: aiohttp.ClientSession,
    kubeconfig: str,
    kube_namespace: str,
    tmp_path: Path,
) -> None:
    """A replica stopped as Kubernetes stops a Pod hands over within a retry, not after
    the lease runs out: it stops its sources, lets actions finish and releases the Lease."""
    lease_seconds = 30
    rules = write_rules(tmp_path / "rules", storm_rules(kube_namespace))
    lease = f"respond-{uuid.uuid4().hex[:8]}"
    replicas = [
        await spawn(
            "--kubeconfig",
            kubeconfig,
            "--rules",
            str(rules),
            "--audit-url",
            f"sqlite:///{tmp_path / f'audit-{i}.db'}",
            "--leader-elect",
            "--lease-name",
            lease,
            "--lease-namespace",
            kube_namespace,
            "--lease-duration",
            f"{lease_seconds}s",
        )
        for i in range(2)
    ]

    async def ready_leader() -> list[int]:
        states = [await r.healthz(http) for r in replicas if r.running]
        leaders = [i for i, s in enumerate(states) if s["leader"]]
        assert len(leaders) == 1, states
        assert await replicas[leaders[0]].ready(http)
        return leaders

    (leader,) = await async_eventually(
        ready_leader, timeout=60, interval=0.2, message="one ready leader", ignore=NOT_YET
    )
    successor = replicas[1 - leader]
    stopped = time.monotonic()
    assert await replicas[leader].stop() == 0, replicas[leader].log
    assert "released lease" in replicas[leader].log

    async def took_over() -> bool:
        return bool((await successor.healthz(http))["leader"]) and await successor.ready(http)

    await async_eventually(
        took_over,
        timeout=lease_seconds,
        interval=0.2,
        message="the successor leads",
        ignore=NOT_YET,
    )
    assert time.monotonic() - stopped < lease_seconds / 2
    assert await successor.stop() == 0, successor.log
