"""The action ledger on a real API server: one claim wins a race, unfinished claims
are found and adopted once, entries page, prune and the watermark hold, and a
missing permission is one line naming the verb and the namespace."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import AsyncIterator

import pytest

from kubeops.api import Client
from kubeops.config import load_config
from kubeops.respond import ledger as ledger_module
from kubeops.respond.event import Event, ObjectRef, identity_of
from kubeops.respond.ledger import (
    CLAIMED,
    FAILED,
    LEDGER_LABEL,
    RULE_LABEL,
    SUCCEEDED,
    Ledger,
    LedgerEntry,
    LedgerError,
)
from kubeops.respond.limits import Limits
from kubeops.respond.model import ActionSpec, Rule, Safety, Trigger
from kubeops.respond.outcome import COOLDOWN
from kubeops.testenv import Cluster


def event(i: int, name: str = "BackOff") -> Event:
    return Event(
        name=name,
        source="event",
        time=datetime.datetime.now(datetime.UTC),
        object={
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": {"name": f"web-{i}", "namespace": "prod"},
        },
        payload={"count": i},
        identity=identity_of("uid", i),
    )


def entry(i: int, rule: str = "restart on crash") -> LedgerEntry:
    return LedgerEntry.for_action(
        rule, 0, "restart", event(i), target=ObjectRef("Deployment", "web", "prod"), nodes=("n1",)
    )


@pytest.fixture
async def other_client(kube_cluster: Cluster, kube_namespace: str) -> AsyncIterator[Client]:
    """A second connection: another replica on another node."""
    async with Client(load_config(kube_cluster.kubeconfig, namespace=kube_namespace)) as opened:
        yield opened


async def test_two_replicas_racing_for_the_same_actions_claim_each_exactly_once(
    client: Client, other_client: Client, kube_namespace: str
) -> None:
    a = Ledger(client, kube_namespace, "replica-a")
    b = Ledger(other_client, kube_namespace, "replica-b")
    entries = [entry(i) for i in range(20)]
    results = await asyncio.gather(*(ledger.claim(e) for e in entries for ledger in (a, b)))
    pairs = list(zip(results[::2], results[1::2], strict=True))
    assert all(x != y for x, y in pairs), pairs  # exactly one of the two won each
    stored = await a.entries()
    assert sorted(e.action_id for e in stored) == sorted(e.action_id for e in entries)
    winners = {e.action_id: e.holder for e in stored}
    for e, (won_a, _) in zip(entries, pairs, strict=True):
        assert winners[e.action_id] == ("replica-a" if won_a else "replica-b")
    # Claimed again later, by either: already done.
    assert not await a.claim(entries[0])
    assert not await b.claim(entries[0])


async def test_an_entry_keeps_what_a_new_leader_needs(client: Client, kube_namespace: str) -> None:
    ledger = Ledger(client, kube_namespace, "replica-a")
    e = entry(1, rule="Scale On CPU/prod")
    assert await ledger.claim(e)
    cm = await client.get("configmaps", e.name, kube_namespace)
    assert cm["metadata"]["name"] == f"respond-{e.action_id}"
    assert cm["metadata"]["labels"][LEDGER_LABEL] == "true"
    assert cm["metadata"]["labels"][RULE_LABEL].startswith("Scale-On-CPU-prod-")
    got = await ledger.get(e.action_id)
    assert got is not None
    assert (got.rule, got.action, got.event_name, got.event_identity) == (
        "Scale On CPU/prod",
        "restart",
        "BackOff",
        e.event_identity,
    )
    assert got.subject == ObjectRef("Pod", "web-1", "prod", api_version="v1")
    assert got.target == ObjectRef("Deployment", "web", "prod")
    assert (got.holder, got.state, got.nodes, got.payload) == (
        "replica-a",
        CLAIMED,
        ("n1",),
        {"count": 1},
    )
    done = await ledger.finish(e.action_id, FAILED, 'patch deployments "web":\n Forbidden')
    assert (done.state, done.detail) == (FAILED, 'patch deployments "web": Forbidden')
    again = await ledger.get(e.action_id)
    assert again is not None
    assert again.state == FAILED
    assert again.finished_at is not None
    assert await ledger.get("0" * 32) is None


async def test_unfinished_claims_are_found_by_a_new_leader_and_adopted_once(
    client: Client, other_client: Client, kube_namespace: str
) -> None:
    old = Ledger(client, kube_namespace, "replica-a")
    for i in range(3):
        assert await old.claim(entry(i))
    await old.finish(entry(0).action_id, SUCCEEDED, "restarted")
    # The old leader's own view: its young claims are in flight, not unfinished.
    assert await old.unfinished() == []
    # Its next run (same identity, a new process) and another replica see both.
    restarted = Ledger(other_client, kube_namespace, "replica-a")
    new = Ledger(other_client, kube_namespace, "replica-b")
    third = Ledger(client, kube_namespace, "replica-c")
    expected = sorted([entry(1).action_id, entry(2).action_id])
    assert sorted(e.action_id for e in await restarted.unfinished()) == expected
    found = await new.unfinished()
    assert sorted(e.action_id for e in found) == expected
    # Two replicas adopting the same claims: each is adopted exactly once.
    adopted = await asyncio.gather(*(r.adopt(e) for e in found for r in (new, third)))
    assert [x != y for x, y in zip(adopted[::2], adopted[1::2], strict=True)] == [True, True]
    for e in found:
        await new.finish(e.action_id, SUCCEEDED, "resumed")
    assert await new.unfinished() == []
    assert not await new.adopt(found[0])  # finished: nothing to adopt
    # An own claim older than a lease period counts as unfinished too.
    assert await new.claim(entry(9))
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=60)
    assert [e.action_id for e in await new.unfinished(now=later)] == [entry(9).action_id]


async def test_entries_are_listed_in_pages_and_restore_the_limits(
    client: Client, kube_namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ledger_module, "PAGE_SIZE", 4)
    ledger = Ledger(client, kube_namespace, "replica-a")
    start = datetime.datetime.now(datetime.UTC)
    for i in range(11):
        assert await ledger.claim(entry(i))
    listed = await ledger.entries(since=start - datetime.timedelta(seconds=1))
    assert len(listed) == 11
    assert [e.claimed_at for e in listed] == sorted(e.claimed_at for e in listed)
    assert (
        await ledger.entries(since=datetime.datetime.now(datetime.UTC) + datetime.timedelta(1))
        == []
    )
    rule = Rule(
        "restart on crash",
        Trigger("event"),
        (ActionSpec("restart"),),
        safety=Safety(cooldown=600),
    )
    limits = Limits([rule])
    assert limits.restore(listed) == 11
    assert (
        limits.check(rule, event(42), _plan(), datetime.datetime.now(datetime.UTC).timestamp())
        == COOLDOWN
    )


def _plan() -> object:
    from kubeops.respond.action import Plan

    return Plan("restart", ObjectRef("Deployment", "web", "prod"), "restart deployment/prod/web")


async def test_prune_deletes_old_entries_in_batches(client: Client, kube_namespace: str) -> None:
    ledger = Ledger(client, kube_namespace, "replica-a")
    for i in range(12):
        assert await ledger.claim(entry(i))
    assert await ledger.prune(3600) == 0
    assert await ledger.prune(0, batch=5) == 12
    assert await ledger.entries() == []
    # The watermark is not a ledger entry and is never pruned.
    when = datetime.datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=datetime.UTC)
    await ledger.set_watermark("respond", when)
    assert await ledger.prune(0) == 0
    assert await ledger.watermark("respond") == when


async def test_the_watermark_only_moves_forward(client: Client, kube_namespace: str) -> None:
    ledger = Ledger(client, kube_namespace, "replica-a")
    assert await ledger.watermark("respond") is None
    first = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    await ledger.set_watermark("respond", first)
    await ledger.set_watermark("respond", first + datetime.timedelta(hours=1))
    await ledger.set_watermark("respond", first)  # a deposed leader, late
    assert await ledger.watermark("respond") == first + datetime.timedelta(hours=1)
    assert await ledger.watermark("other") is None
    cm = await client.get("configmaps", "respond-watermark-respond", kube_namespace)
    assert LEDGER_LABEL not in cm["metadata"]["labels"]


async def test_missing_permissions_are_one_line_naming_the_verb_and_namespace(
    kube_cluster: Cluster, kube_namespace: str
) -> None:
    kubeconfig = kube_cluster.service_account_kubeconfig(
        "ledger-reader",
        [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}],
        kube_namespace,
    )
    async with Client(load_config(kubeconfig, namespace=kube_namespace)) as reader:
        ledger = Ledger(reader, kube_namespace, "replica-a")
        assert await ledger.entries() == []
        with pytest.raises(LedgerError) as caught:
            await ledger.claim(entry(1))
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(
        f"respond ledger: forbidden to create configmaps 'respond-{entry(1).action_id}' "
        f'in namespace "{kube_namespace}"'
    )
    async with Client(load_config(kube_cluster.kubeconfig)) as admin:
        with pytest.raises(LedgerError, match='namespace "no-such-ns" does not exist'):
            await Ledger(admin, "no-such-ns", "a").claim(entry(1))


async def test_finishing_a_claim_changed_meanwhile_reads_it_again(
    client: Client, other_client: Client, kube_namespace: str
) -> None:
    old = Ledger(client, kube_namespace, "replica-a")
    new = Ledger(other_client, kube_namespace, "replica-b")
    e = entry(1)
    assert await old.claim(e)
    assert await new.adopt(e)  # the version the old leader remembers is stale now
    done = await old.finish(e.action_id, SUCCEEDED, "restarted")
    assert (done.state, done.holder) == (SUCCEEDED, "replica-b")
    stored = await new.get(e.action_id)
    assert stored is not None
    assert stored.state == SUCCEEDED
    with pytest.raises(LedgerError, match="it is not there"):
        await new.finish("f" * 32, SUCCEEDED)
