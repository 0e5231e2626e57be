"""Global limits across replicas on a real API server: two engines (two connections, as
two replicas on two nodes) admitting at once through one ConfigMap never take more
than the global window allows, and a cooldown one took holds for the other."""

from __future__ import annotations

import asyncio
import collections
import datetime
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kubeops.api import Client
from kubeops.config import load_config
from kubeops.respond.action import Plan
from kubeops.respond.engine import Decision, Engine
from kubeops.respond.event import Event, identity_of
from kubeops.respond.ledger import Ledger
from kubeops.respond.outcome import COOLDOWN, GLOBAL_RATE, SUCCEEDED, SUPPRESSED
from kubeops.respond.rules import RuleSet, load_rules
from kubeops.respond.shared_limits import SharedLimits, SharedLimitsError, configmap_name
from kubeops.testenv import Cluster

ALLOWED = 7
EVENTS = 40
RULES = """\
rules:
  - name: mark-new
    trigger: {{source: resource, kind: ConfigMap, names: [added], namespaces: [{ns}],
               selector: "limits-test=yes"}}
    actions:
      - label: {{labels: {{marked: "yes"}}}}
  - name: cool-down
    trigger: {{source: http, names: [poke]}}
    actions:
      - annotate:
          target: {{kind: ConfigMap, name: cooled, namespace: {ns}}}
          annotations: {{poked: "${{payload.n}}"}}
    safety: {{cooldown: 1h}}
limits: {{namespace: {ns}, maxActions: {{count: {allowed}, per: 1h}}}}
"""


@pytest.fixture
async def other_client(kube_cluster: Cluster, kube_namespace: str) -> AsyncIterator[Client]:
    """A second connection: another replica on another node."""
    async with Client(load_config(kube_cluster.kubeconfig, namespace=kube_namespace)) as opened:
        yield opened


def ruleset(ns: str, tmp_path: Path) -> RuleSet:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES.format(ns=ns, allowed=ALLOWED))
    return load_rules([path])


def replica(client: Client, ns: str, rules: RuleSet, name: str) -> Engine:
    limits = SharedLimits(client, ns, "limits-test", rules.rules, rules.limits)
    return Engine(client, rules, ledger=Ledger(client, ns, name), limits=limits, replica=name)


def added(obj: dict[str, Any]) -> Event:
    meta = obj["metadata"]
    return Event(
        name="added",
        source="resource",
        time=datetime.datetime.now(datetime.UTC),
        object=obj,
        identity=identity_of(meta["uid"], meta["resourceVersion"]),
    )


def poke(n: int) -> Event:
    return Event(
        name="poke",
        source="http",
        time=datetime.datetime.now(datetime.UTC),
        payload={"n": n},
        identity=identity_of("poke", n),
    )


def outcomes(decisions: list[Decision], rule: str) -> collections.Counter[str]:
    return collections.Counter(
        f"{d.outcome}/{d.reason}" if d.reason else d.outcome
        for d in decisions
        if d.rule == rule and d.action
    )


async def test_two_replicas_share_the_global_window_and_the_cooldown(
    client: Client, other_client: Client, kube_namespace: str, tmp_path: Path
) -> None:
    rules = ruleset(kube_namespace, tmp_path)
    objects = await asyncio.gather(*(
        client.create(
            {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": f"new-{i}", "labels": {"limits-test": "yes"}}},
            kube_namespace,
        )
        for i in range(EVENTS)
    ))  # fmt: skip
    await client.create(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cooled"}}, kube_namespace
    )
    a = replica(client, kube_namespace, rules, "replica-a")
    b = replica(other_client, kube_namespace, rules, "replica-b")
    # Each replica gets every other event, all at once (as two consumers' partitions).
    events = [added(o) for o in objects]
    handled = await asyncio.gather(*(
        (a if i % 2 else b).handle(e) for i, e in enumerate(events)
    ))  # fmt: skip
    decisions = [d for ds in handled for d in ds]
    counts = outcomes(decisions, "mark-new")
    assert counts[SUCCEEDED] == ALLOWED, counts
    assert counts[f"{SUPPRESSED}/{GLOBAL_RATE}"] == EVENTS - ALLOWED, counts
    marked = await client.list("configmaps", kube_namespace, label_selector="marked=yes")
    assert len(marked["items"]) == ALLOWED
    # The ConfigMap holds exactly the admitted actions.
    stored = await client.get("configmaps", configmap_name("limits-test"), kube_namespace)
    assert stored["data"]["actions"].count("mark-new") == ALLOWED

    # The window is full: the other rule's action is stopped by it too, on both.
    assert outcomes(await a.handle(poke(1)), "cool-down")[f"{SUPPRESSED}/{GLOBAL_RATE}"] == 1


async def test_a_cooldown_taken_by_one_replica_stops_the_other(
    client: Client, other_client: Client, kube_namespace: str, tmp_path: Path
) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES.format(ns=kube_namespace, allowed=1000))
    rules = load_rules([path])
    await client.create(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cooled"}}, kube_namespace
    )
    a = replica(client, kube_namespace, rules, "replica-a")
    b = replica(other_client, kube_namespace, rules, "replica-b")
    handled = await asyncio.gather(*((a, b)[n % 2].handle(poke(n)) for n in range(10)))
    counts = outcomes([d for ds in handled for d in ds], "cool-down")
    assert counts == {SUCCEEDED: 1, f"{SUPPRESSED}/{COOLDOWN}": 9}, counts
    # Later, the other replica still sees it (read from the cluster, not its memory).
    late = replica(other_client, kube_namespace, rules, "replica-c")
    assert outcomes(await late.handle(poke(99)), "cool-down") == {f"{SUPPRESSED}/{COOLDOWN}": 1}


async def test_a_refused_write_names_the_verb_the_configmap_and_the_namespace(
    kube_cluster: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    rules = ruleset(kube_namespace, tmp_path)
    kubeconfig = kube_cluster.service_account_kubeconfig(
        "limits-reader",
        [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}],
        kube_namespace,
    )
    async with Client(load_config(kubeconfig, namespace=kube_namespace)) as reader:
        limits = SharedLimits(reader, kube_namespace, "limits-test", rules.rules, rules.limits)
        with pytest.raises(SharedLimitsError) as caught:
            await limits.admit_async(
                rules.rule("cool-down"), poke(1), Plan("annotate", None, ""), 1.0
            )
    assert str(caught.value) == (
        "respond limits: forbidden to create configmaps 'respond-limits-limits-test' in "
        f'namespace "{kube_namespace}": give the daemon\'s identity get, create and update '
        "on configmaps there"
    )


async def test_rules_without_windows_share_nothing_and_send_no_request(
    kube_cluster: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "rules:\n  - name: poke\n    trigger: {source: http, names: [poke]}\n"
        "    actions: [{notify: {webhook: {url: 'http://127.0.0.1:9/x'}}}]\n"
        f"limits: {{namespace: {kube_namespace}}}\n"
    )
    rules = load_rules([path])
    # No permission at all: a request would be refused.
    kubeconfig = kube_cluster.service_account_kubeconfig("nothing", [], kube_namespace)
    async with Client(load_config(kubeconfig, namespace=kube_namespace)) as nobody:
        limits = SharedLimits(nobody, kube_namespace, "limits-test", rules.rules, rules.limits)
        await limits.load()
        plan = Plan("notify", None, "")
        assert await limits.admit_async(rules.rule("poke"), poke(1), plan, 1.0) is None
        await limits.release_async(rules.rule("poke"), poke(1), plan, 1.0)
    assert limits.writes == 0
