"""``kubeops respond run`` traced by the ``OTEL_*`` variables alone, as the chart's
users set them: an event posted to it, the rule, the action and the action's API
request arrive at the test's OTLP receiver as one trace under the daemon's service
name, and the daemon's JSON log line for that request carries the same trace id."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest

from integration.respond.daemon.harness import NOT_YET, Spawn, token_file, write_rules
from kubeops.api import Client
from kubeops.testenv import async_eventually

from .receiver import ReceivedSpan, Receiver

TOKEN = "trace-token"


async def test_a_posted_event_is_one_trace_through_the_daemon_and_its_log_names_it(
    otlp_receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    spawn: Spawn,
    http: aiohttp.ClientSession,
    kubeconfig: str,
    client: Client,
    tmp_path: Path,
) -> None:
    ns = client.namespace
    await client.create(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "target"}, "data": {}}
    )
    rule = {
        "name": "mark-down",
        "trigger": {"source": "http", "names": ["server_down"]},
        "actions": [
            {
                "annotate": {
                    "target": {"kind": "ConfigMap", "name": "target", "namespace": ns},
                    "annotations": {"example.com/down": "${payload.server}"},
                }
            }
        ],
    }
    rules = write_rules(tmp_path / "rules", {"rules": [rule], "limits": {"namespace": ns}})
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", otlp_receiver.endpoint)
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
    for name in ("OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_SERVICE_NAME"):
        monkeypatch.delenv(name, raising=False)
    daemon = await spawn(
        "--kubeconfig", kubeconfig, "--rules", str(rules),
        "--event-token-file", str(token_file(tmp_path, TOKEN)),
        "--log-format", "json", "--log-level", "debug",
    )  # fmt: skip
    await async_eventually(
        lambda: daemon.ready(http), timeout=30, interval=0.2, message="ready", ignore=NOT_YET
    )
    event = {"name": "server_down", "payload": {"server": "db-1"}, "id": "traced-1"}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with http.post(daemon.url + "/events", json=event, headers=headers) as response:
        assert response.status in (200, 202), await response.text()

    def spans() -> tuple[ReceivedSpan, ...]:
        root = otlp_receiver.one("respond.event", **{"kubeops.event.name": "server_down"})
        rule_span = otlp_receiver.one("respond.rule", **{"kubeops.rule": "mark-down"})
        action = otlp_receiver.one("respond.action", **{"kubeops.rule": "mark-down"})
        patch = next(
            s for s in otlp_receiver.named("PATCH configmaps") if s.parent_id == action.span_id
        )
        return root, rule_span, action, patch

    root, rule_span, action, patch = await async_eventually(
        spans, timeout=30, message="the daemon's spans at the receiver"
    )
    assert root.service == "kubeops-respond"
    assert root.attributes["kubeops.event.source"] == "http"
    assert (rule_span.parent_id, action.parent_id) == (root.span_id, rule_span.span_id)
    assert action.attributes["kubeops.action.outcome"] == "succeeded"
    assert {s.trace_id for s in (root, rule_span, action, patch)} == {root.trace_id}

    def logged() -> dict[str, object]:
        lines = [json.loads(line) for line in daemon.log.splitlines() if line.startswith("{")]
        return next(
            entry
            for entry in lines
            if entry["logger"] == "kubeops.transport"
            and str(entry["message"]).startswith(
                f"PATCH /api/v1/namespaces/{ns}/configmaps/target "
            )
        )

    line = await async_eventually(logged, message="the request's debug line")
    assert line["trace_id"] == root.trace_id
