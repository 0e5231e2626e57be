"""The trace context rides with the work: an informer event and the reconciles it
caused (a failed one and its retry included) are one trace, and so are a respond
event, its rule evaluation, the action it fired and that action's API requests --
across the work queue and the engine's own queue.  A log line written inside a span
carries that span's trace id."""

from __future__ import annotations

import asyncio
import datetime
import io
import json
import logging
from collections import Counter
from pathlib import Path

from kubeops import telemetry
from kubeops.api import Client
from kubeops.cache import SharedInformer
from kubeops.controller.reconciler import Controller, Request, Result
from kubeops.controller.serving.logs import JsonLogFormatter
from kubeops.respond.engine import Engine
from kubeops.respond.outcome import FIRED, SUCCEEDED
from kubeops.respond.rules import load_rules
from kubeops.respond.sources.events import to_event
from kubeops.testenv import async_eventually

from .receiver import ReceivedSpan, Receiver


def _configmap(name: str, labels: dict[str, str] | None = None) -> dict[str, object]:
    metadata: dict[str, object] = {"name": name, "labels": labels or {}}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": {}}


async def test_an_informer_event_and_its_reconciles_with_their_retry_are_one_trace(
    traced: Receiver, client: Client
) -> None:
    informer = SharedInformer(
        client, "configmaps", namespace=client.namespace, label_selector="traced=yes"
    )
    attempts: Counter[str] = Counter()

    async def reconcile(request: Request) -> Result | None:
        attempts[request.name] += 1
        if attempts[request.name] == 1:
            raise RuntimeError("first attempt fails")
        await client.get("configmaps", request.name)
        return None

    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(JsonLogFormatter())
    logger = logging.getLogger("kubeops.controller.reconciler")
    logger.addHandler(handler)
    controller = Controller("traced", reconcile, workers=2)
    controller.watch(informer)
    run = asyncio.create_task(controller.run(sync_timeout=20))
    try:
        await async_eventually(informer.has_synced, message="the informer synced")
        await client.create(_configmap("watched", {"traced": "yes"}))
        await async_eventually(lambda: attempts["watched"] >= 2, message="the retry")

        def spans() -> tuple[ReceivedSpan, list[ReceivedSpan], ReceivedSpan]:
            event = traced.one("controller.event", **{"kubeops.name": "watched"})
            reconciles = traced.named("reconcile", **{"kubeops.name": "watched"})
            assert len(reconciles) == 2, traced.names()
            read = traced.one("GET configmaps", **{"kubeops.name": "watched"})
            return event, reconciles, read

        event, reconciles, read = await async_eventually(spans, message="the spans exported")
    finally:
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)
        logger.removeHandler(handler)

    assert event.attributes["kubeops.event.type"] == "add"
    assert event.attributes["k8s.namespace.name"] == client.namespace
    assert event.parent_id == ""  # the informer event starts the trace
    first, second = sorted(reconciles, key=lambda s: s.attributes["kubeops.reconcile.attempt"])
    assert first.parent_id == event.span_id  # the queued key carried the event's context
    assert first.error
    assert first.attributes["error.type"] == "RuntimeError"
    assert second.attributes["kubeops.reconcile.attempt"] == 2
    assert second.parent_id == first.span_id  # the retry continues the failed attempt's trace
    assert not second.error
    assert read.parent_id == second.span_id
    assert {s.trace_id for s in (event, first, second, read)} == {event.trace_id}

    # The failure's log line, written inside the first reconcile's span, names its trace.
    logged = [json.loads(line) for line in lines.getvalue().splitlines()]
    failure = next(entry for entry in logged if "first attempt fails" in entry["message"])
    assert failure["trace_id"] == first.trace_id


RULES = """\
rules:
  - name: mark-backoff
    trigger: {{source: event, names: [BackOff], params: {{type: Warning}}}}
    actions:
      - annotate:
          target: {{kind: ConfigMap, name: marked, namespace: {ns}}}
          annotations: {{traced.kubeops.io/pod: "${{payload.involvedObject.name}}"}}
  - name: never-fires
    trigger: {{source: event, names: [BackOff]}}
    conditions: ["payload.count > 1000"]
    actions:
      - annotate:
          target: {{kind: ConfigMap, name: marked, namespace: {ns}}}
          annotations: {{traced.kubeops.io/never: "yes"}}
limits: {{namespace: {ns}}}
"""


async def test_a_respond_event_its_rule_its_action_and_the_actions_requests_are_one_trace(
    traced: Receiver, client: Client, tmp_path: Path
) -> None:
    ns = client.namespace
    await client.create(_configmap("marked"))
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES.format(ns=ns))
    engine = Engine(client, load_rules([rules]))
    stamp = datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")
    event = to_event({
        "apiVersion": "v1", "kind": "Event", "type": "Warning", "reason": "BackOff", "count": 1,
        "message": "Back-off restarting failed container",
        "metadata": {"name": "crash.17a", "namespace": ns, "uid": f"uid-{ns}"},
        "involvedObject": {"kind": "Pod", "name": "crash", "namespace": ns},
        "firstTimestamp": stamp, "lastTimestamp": stamp,
    })  # fmt: skip
    with telemetry.span("test.source"):  # a source that traces its own work
        await engine.submit(event)  # handled on the engine's task, after this returns
    await engine.drain()
    marked = await client.get("configmaps", "marked")
    assert marked["metadata"]["annotations"] == {"traced.kubeops.io/pod": "crash"}

    def spans() -> tuple[ReceivedSpan, ...]:
        source = traced.one("test.source")
        root = traced.one("respond.event", **{"kubeops.event.name": "BackOff"})
        rule = traced.one("respond.rule", **{"kubeops.rule": "mark-backoff"})
        quiet = traced.one("respond.rule", **{"kubeops.rule": "never-fires"})
        action = traced.one("respond.action", **{"kubeops.rule": "mark-backoff"})
        patch = traced.one("PATCH configmaps", **{"kubeops.name": "marked"})
        return source, root, rule, quiet, action, patch

    source, root, rule, quiet, action, patch = await async_eventually(spans, message="the spans")
    assert root.parent_id == source.span_id  # the engine's queue carried the submitter's context
    assert root.attributes["kubeops.event.source"] == "event"
    assert rule.parent_id == root.span_id
    assert rule.attributes["kubeops.rule.outcome"] == FIRED
    assert quiet.parent_id == root.span_id
    assert quiet.attributes["kubeops.rule.outcome"] == "not-matched"
    assert action.parent_id == rule.span_id
    assert action.attributes["kubeops.action.kind"] == "annotate"
    assert action.attributes["kubeops.action.outcome"] == SUCCEEDED
    assert patch.parent_id == action.span_id
    assert patch.attributes["http.response.status_code"] == 200
    assert {s.trace_id for s in (source, root, rule, quiet, action, patch)} == {source.trace_id}
    assert not traced.named("respond.action", **{"kubeops.rule": "never-fires"})
