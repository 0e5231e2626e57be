"""The orphan sweep on a real API server: a claim left by a replica whose heartbeat
stopped is adopted and resumed once (two sweepers racing), and a claim whose holder
keeps beating is never touched."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from kubeops.api import Client
from kubeops.errors import NotFound
from kubeops.respond.engine import Engine
from kubeops.respond.event import Event, identity_of
from kubeops.respond.heartbeat import LEASE_KIND, Heartbeat, OrphanSweep, lease_name
from kubeops.respond.ledger import CLAIMED, SUCCEEDED, Ledger, LedgerEntry
from kubeops.respond.rules import load_rules
from kubeops.testenv import async_eventually

RULES = """\
rules:
  - name: mark-new
    trigger: {{source: resource, kind: ConfigMap, names: [added], namespaces: [{ns}]}}
    actions:
      - label: {{labels: {{resumed-by: "${{event.name}}"}}}}
limits: {{namespace: {ns}}}
"""
DURATION = 4.0
"""The test's heartbeat duration (the daemon's is 10 s)."""


def added(obj: dict[str, Any]) -> Event:
    meta = obj["metadata"]
    return Event(
        name="added",
        source="resource",
        time=datetime.datetime.now(datetime.UTC),
        object=obj,
        identity=identity_of(meta["uid"], meta["resourceVersion"]),
    )


async def test_a_dead_replicas_claim_is_resumed_once_a_live_ones_never(
    client: Client, kube_namespace: str, tmp_path: Path
) -> None:
    ns = kube_namespace
    (tmp_path / "rules.yaml").write_text(RULES.format(ns=ns))
    rules = load_rules([tmp_path / "rules.yaml"])
    objects = [
        await client.create(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}, ns
        )
        for name in ("left-by-dead", "held-by-live")
    ]
    dead_entry, live_entry = (
        LedgerEntry.for_action("mark-new", 0, "label", added(o)) for o in objects
    )
    # The dead replica beat once, claimed, and stopped (SIGKILL: nothing ran after).
    dead = Ledger(client, ns, "replica-dead")
    await Heartbeat(client, ns, dead.identity, dead.run, duration=DURATION).start()
    assert await dead.claim(dead_entry)
    # The live one claimed and keeps beating.
    live = Ledger(client, ns, "replica-live")
    live_beat = Heartbeat(client, ns, live.identity, live.run, every=0.25, duration=DURATION)
    await live_beat.start()
    beating = asyncio.create_task(live_beat.run())
    assert await live.claim(live_entry)

    # Two leaders for a moment (an old one that has not noticed yet): both sweep.
    sweepers = []
    reported: list[str] = []

    async def on_dead(identities: Sequence[str]) -> None:
        reported.extend(identities)

    for name in ("leader-a", "leader-b"):
        ledger = Ledger(client, ns, name)
        engine = Engine(client, rules, ledger=ledger, replica=name)
        sweepers.append(
            OrphanSweep(client, ns, ledger, engine.resume_entry, every=0.2, on_dead=on_dead)
        )
    sweeping = [asyncio.create_task(s.run()) for s in sweepers]
    try:

        async def resumed() -> bool:
            entry = await live.get(dead_entry.action_id)
            assert entry is not None
            assert entry.state == SUCCEEDED, entry
            return entry.holder in ("leader-a", "leader-b")

        await async_eventually(resumed, timeout=30, interval=0.2, message="resumed by a leader")
        # The live replica's heartbeat was seen for longer than its duration meanwhile.
        still = await live.get(live_entry.action_id)
        assert still is not None
        assert (still.state, still.holder, still.run) == (CLAIMED, "replica-live", live.run)
        # One more sweep each after the verdict: still nothing for the live one, nothing twice.
        for sweeper in sweepers:
            assert await sweeper.sweep() == []
    finally:
        for task in (*sweeping, beating):
            task.cancel()
        for task in (*sweeping, beating):
            with contextlib.suppress(asyncio.CancelledError):
                await task
    assert sum(s.resumed for s in sweepers) == 1
    # The stopped replica was reported (to audit what it finished) and its Lease deleted.
    assert set(reported) == {"replica-dead"}, reported
    with pytest.raises(NotFound):
        await client.get(LEASE_KIND, lease_name("replica-dead"), ns)
    labelled = await client.get("configmaps", "left-by-dead", ns)
    assert labelled["metadata"]["labels"] == {"resumed-by": "added"}
    untouched = await client.get("configmaps", "held-by-live", ns)
    assert "labels" not in untouched["metadata"]

    # A replica that restarted under the same identity (another run) left its claims too.
    await live_beat.stop()
    assert await live.get(live_entry.action_id) is not None
    restarted = Ledger(client, ns, "replica-live")
    await Heartbeat(client, ns, restarted.identity, restarted.run, duration=DURATION).start()
    lease = await client.get(LEASE_KIND, lease_name("replica-live"), ns)
    assert lease["spec"]["holderIdentity"] == restarted.run
    decisions = await sweepers[0].sweep()
    assert [d.outcome for d in decisions] == [SUCCEEDED]
    finished = await live.get(live_entry.action_id)
    assert finished is not None
    assert finished.state == SUCCEEDED
