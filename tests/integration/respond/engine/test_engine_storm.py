"""The engine against a real API server, with real actions and the in-cluster ledger:
a storm of 5,000 Warning events gives exactly the configured number of actions, the
rest audited as suppressed; a second replica (or a new leader) does none again; dry
run changes nothing."""

from __future__ import annotations

import datetime
import time
from pathlib import Path
from typing import Any

from kubeops.api import Client
from kubeops.respond.audit import AuditLog
from kubeops.respond.engine import Decision, Engine, decisions_summary
from kubeops.respond.event import Event
from kubeops.respond.ledger import LEDGER_LABEL, Ledger
from kubeops.respond.metrics import RespondMetrics
from kubeops.respond.outcome import (
    ALREADY_DONE,
    DRY_RUN,
    FIRED,
    PAUSED,
    RULE_RATE,
    SUCCEEDED,
    SUPPRESSED,
)
from kubeops.respond.rules import RuleSet, load_rules
from kubeops.respond.sources.events import to_event

STORM = 5_000
ALLOWED = 3
RULES = """\
rules:
  - name: mark-on-backoff
    trigger: {{source: event, names: [BackOff], params: {{type: Warning}}}}
    actions:
      - annotate:
          target: {{kind: ConfigMap, name: storm-target, namespace: {ns}}}
          annotations: {{storm.kubeops.io/last: "${{payload.involvedObject.name}}"}}
    safety: {{maxActions: {{count: {allowed}, per: 1h}}}}
limits: {{namespace: {ns}}}
"""


class Audit:
    """Collects the engine's audit records (the audit log's own tests cover storage)."""

    def __init__(self) -> None:
        self.records: list[Any] = []

    def record(self, record: Any) -> None:
        self.records.append(record)


def warning(n: int, ns: str) -> Event:
    """The respond event of a Kubernetes Warning Event about Pod ``crash-<n>``."""
    stamp = datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")
    return to_event({
        "apiVersion": "v1", "kind": "Event", "type": "Warning", "reason": "BackOff", "count": 1,
        "message": "Back-off restarting failed container",
        "metadata": {"name": f"crash-{n}.17a", "namespace": ns, "uid": f"storm-uid-{n}"},
        "involvedObject": {"kind": "Pod", "name": f"crash-{n}", "namespace": ns},
        "firstTimestamp": stamp, "lastTimestamp": stamp,
    })  # fmt: skip


async def ruleset_in(ns: str, tmp_path: Path) -> RuleSet:
    path = tmp_path / "storm.yaml"
    path.write_text(RULES.format(ns=ns, allowed=ALLOWED))
    return load_rules([path])


async def storm(engine: Engine, events: list[Event]) -> None:
    for event in events:
        await engine.submit(event)
    await engine.drain()


async def ledger_entries(client: Client, ns: str) -> list[dict[str, Any]]:
    found = await client.list("ConfigMap", ns, label_selector=f"{LEDGER_LABEL}=true")
    return list(found.get("items") or [])


def outcomes(records: list[Any]) -> dict[str, int]:
    return decisions_summary(
        Decision(
            r.time,
            r.rule,
            r.event_name,
            r.event_source,
            r.event_identity,
            r.subject,
            r.outcome,
            r.action,
            reason=r.reason,
        )
        for r in records
    )


async def test_a_storm_of_warnings_gives_exactly_the_allowed_actions_once_across_replicas(
    client: Client, kube_namespace: str, tmp_path: Path
) -> None:
    ns = kube_namespace
    await client.create(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "storm-target"}}, ns
    )
    ruleset = await ruleset_in(ns, tmp_path)
    events = [warning(n, ns) for n in range(STORM)]
    metrics = RespondMetrics()
    audit = await AuditLog.open(f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}")
    engine = Engine(
        client,
        ruleset,
        audit=audit,
        ledger=Ledger(client, ns, "replica-a"),
        metrics=metrics,
        replica="replica-a",
    )
    started = time.perf_counter()
    await storm(engine, events)
    elapsed = time.perf_counter() - started
    print(f"\nstorm: {STORM} events through submit() in {elapsed:.1f} s")
    await audit.flush()
    records = await audit.query(limit=None)
    await audit.close()

    assert outcomes(records) == {
        FIRED: STORM,
        SUCCEEDED: ALLOWED,
        f"{SUPPRESSED}/{RULE_RATE}": STORM - ALLOWED,
    }
    assert {r.replica for r in records} == {"replica-a"}
    rule = "mark-on-backoff"
    counted = {
        (outcome, reason): metrics.value(
            "kubeops_respond_decisions_total", {"rule": rule, "outcome": outcome, "reason": reason}
        )
        for outcome, reason in [(FIRED, ""), (SUCCEEDED, ""), (SUPPRESSED, RULE_RATE)]
    }
    assert counted == {
        (FIRED, ""): STORM,
        (SUCCEEDED, ""): ALLOWED,
        (SUPPRESSED, RULE_RATE): STORM - ALLOWED,
    }
    entries = await ledger_entries(client, ns)
    assert len(entries) == ALLOWED
    assert {e["data"]["state"] for e in entries} == {"succeeded"}
    target = await client.get("ConfigMap", "storm-target", ns)
    assert target["metadata"]["annotations"]["storm.kubeops.io/last"].startswith("crash-")

    # A new leader rebuilds its limits from the ledger: nothing more runs.
    leader = Engine(client, ruleset, audit=Audit(), ledger=Ledger(client, ns, "replica-b"))
    assert await leader.resume() == []
    decided = await leader.handle(warning(STORM + 1, ns))
    assert (decided[1].outcome, decided[1].reason) == (SUPPRESSED, RULE_RATE)
    # A replica without those windows still cannot repeat an action: the ledger says done.
    acted = {r.event_identity for r in records if r.outcome == SUCCEEDED}
    again = Engine(client, ruleset, audit=Audit(), ledger=Ledger(client, ns, "replica-c"))
    repeated = [await again.handle(e) for e in events if e.identity in acted]
    assert [(d[1].outcome, d[1].reason) for d in repeated] == [(SUPPRESSED, ALREADY_DONE)] * ALLOWED
    assert len(await ledger_entries(client, ns)) == ALLOWED


async def test_dry_run_decides_everything_and_changes_nothing(
    client: Client, kube_namespace: str, tmp_path: Path
) -> None:
    ns = kube_namespace
    created = await client.create(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "storm-target"}}, ns
    )
    ruleset = await ruleset_in(ns, tmp_path)
    audit = Audit()
    engine = Engine(client, ruleset, audit=audit, ledger=Ledger(client, ns, "dry"), dry_run=True)
    await storm(engine, [warning(n, ns) for n in range(200)])
    assert outcomes(audit.records) == {
        FIRED: 200,
        DRY_RUN: ALLOWED,
        f"{SUPPRESSED}/{RULE_RATE}": 200 - ALLOWED,
    }
    assert all(r.dry_run for r in audit.records)
    planned = [r for r in audit.records if r.outcome == DRY_RUN]
    assert all(f"configmap/{ns}/storm-target" in r.detail for r in planned), planned[0].detail
    assert await ledger_entries(client, ns) == []
    after = await client.get("ConfigMap", "storm-target", ns)
    assert after["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


async def test_a_new_leader_re_seeing_done_events_counts_them_once(
    client: Client, kube_namespace: str, tmp_path: Path
) -> None:
    ns = kube_namespace
    await client.create(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "storm-target"}}, ns
    )
    old = Engine(client, await ruleset_in(ns, tmp_path), ledger=Ledger(client, ns, "old"))
    seen = [warning(n, ns) for n in range(ALLOWED)]
    for event in seen:
        assert (await old.handle(event))[1].outcome == SUCCEEDED
    # The new leader allows 5 an hour: 3 are in the ledger, so 2 more -- however many of
    # the old leader's events it sees again (a relist, the watermark's overlap).
    path = tmp_path / "storm.yaml"
    path.write_text(RULES.format(ns=ns, allowed=5))
    new = Engine(client, load_rules([path]), ledger=Ledger(client, ns, "new"))
    assert await new.resume() == []
    again = [(await new.handle(e))[1] for e in seen]
    assert {(d.outcome, d.reason) for d in again} == {(SUPPRESSED, ALREADY_DONE)}
    fresh = [(await new.handle(warning(100 + n, ns)))[1] for n in range(3)]
    assert [(d.outcome, d.reason) for d in fresh] == [
        (SUCCEEDED, ""),
        (SUCCEEDED, ""),
        (SUPPRESSED, RULE_RATE),
    ]
    assert len(await ledger_entries(client, ns)) == 5


async def test_resume_re_runs_a_claim_the_old_leader_left_unfinished(
    client: Client, kube_namespace: str, tmp_path: Path
) -> None:
    ns = kube_namespace
    await client.create(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "storm-target"}}, ns
    )
    ruleset = await ruleset_in(ns, tmp_path)
    event = warning(7, ns)
    rule = ruleset.rules[0]
    # The old leader claimed the action and died before running it.
    from kubeops.respond.ledger import LedgerEntry

    entry = LedgerEntry.for_action(rule.name, 0, "annotate", event)
    assert await Ledger(client, ns, "old").claim(entry)

    # A leader that finds the kill switch on leaves the claim for later.
    class Paused:
        paused = True

    held = Engine(client, ruleset, ledger=Ledger(client, ns, "held"), kill_switch=Paused())
    assert [(d.outcome, d.reason) for d in await held.resume()] == [(SUPPRESSED, PAUSED)]
    assert [e["data"]["state"] for e in await ledger_entries(client, ns)] == ["claimed"]
    audit = Audit()
    new = Engine(client, ruleset, audit=audit, ledger=Ledger(client, ns, "new"))
    resumed = await new.resume()
    assert [(d.outcome, d.action_id) for d in resumed] == [(SUCCEEDED, entry.action_id)]
    assert resumed[0].detail.startswith("resumed: ")
    target = await client.get("ConfigMap", "storm-target", ns)
    assert target["metadata"]["annotations"]["storm.kubeops.io/last"] == "crash-7"
    (stored,) = await ledger_entries(client, ns)
    assert stored["data"]["state"] == "succeeded"
    # Seen again, the event does nothing more.
    assert (await new.handle(event))[1].reason == ALREADY_DONE


async def test_an_action_whose_target_is_annotated_paused_does_not_run(
    client: Client, kube_namespace: str, tmp_path: Path
) -> None:
    ns = kube_namespace
    paused = {"respond.kubeops.io/paused": "true"}
    target = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "storm-target", "annotations": paused},
    }
    created = await client.create(target, ns)
    audit = Audit()
    engine = Engine(
        client, await ruleset_in(ns, tmp_path), audit=audit, ledger=Ledger(client, ns, "p")
    )
    decided = await engine.handle(warning(1, ns))
    assert (decided[1].outcome, decided[1].reason) == (SUPPRESSED, PAUSED)
    assert decided[1].detail.endswith("(target paused)")
    assert await ledger_entries(client, ns) == []
    after = await client.get("ConfigMap", "storm-target", ns)
    assert after["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
