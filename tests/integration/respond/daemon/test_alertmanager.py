"""A real Alertmanager (built from its Go module, v0.31.1) firing into
``kubeops respond run``: its webhook payload taken as it is, one event per alert, the
bearer token from Alertmanager's ``http_config``, the rule acting once per alert
however often Alertmanager repeats the group, and labels and status narrowing it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from kubeops.api import Client
from kubeops.respond import outcome
from kubeops.testenv import async_eventually
from kubeops.testenv.alertmanager import Alertmanager

from .harness import NOT_YET, Spawn, audit_records, token_file, write_rules

TOKEN = uuid.uuid4().hex


def alert_rules(namespace: str) -> dict[str, Any]:
    return {
        "rules": [
            {
                "name": "mark-server-down",
                "trigger": {
                    "source": "alert",
                    "names": ["ServerDown"],
                    "params": {"labels": {"severity": "critical"}},
                },
                "actions": [
                    {
                        "annotate": {
                            "target": {
                                "kind": "ConfigMap",
                                "name": "down-${payload.labels.instance}",
                                "namespace": namespace,
                            },
                            "annotations": {"example.com/alert": "${payload.status}"},
                        }
                    }
                ],
            }
        ],
        "limits": {"namespace": namespace},
    }


async def test_alertmanager_fires_into_the_daemon(
    spawn: Spawn,
    http: aiohttp.ClientSession,
    kubeconfig: str,
    kube_namespace: str,
    client: Client,
    tmp_path: Path,
    start_alertmanager: Callable[..., Alertmanager],
) -> None:
    for instance in ("db-1", "db-2", "db-3"):
        await client.create(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"down-{instance}"}},
            kube_namespace,
        )
    rules = write_rules(tmp_path / "rules", alert_rules(kube_namespace))
    audit = f"sqlite:///{tmp_path / 'audit.db'}"
    daemon = await spawn(
        "--kubeconfig", kubeconfig, "--rules", str(rules), "--audit-url", audit,
        "--event-token-file", str(token_file(tmp_path, TOKEN)),
    )  # fmt: skip
    await async_eventually(
        lambda: daemon.ready(http), timeout=30, interval=0.2, message="ready", ignore=NOT_YET
    )
    # Not Alertmanager's payload: one line naming the field.
    async with http.post(
        daemon.url + "/alertmanager",
        headers={"Authorization": f"Bearer {TOKEN}"},
        json={"alerts": "all of them"},
    ) as response:
        assert response.status == 400
        assert (
            await response.text()
            == "400: alerts: expected a list (is this an Alertmanager webhook?)\n"
        )

    manager = await asyncio.to_thread(
        start_alertmanager, daemon.url + "/alertmanager", bearer_token=TOKEN
    )

    async def alerted() -> set[str]:
        listed = await client.list("v1/ConfigMap", kube_namespace)
        return {
            cm["metadata"]["name"].removeprefix("down-")
            for cm in listed["items"]
            if (cm["metadata"].get("annotations") or {}).get("example.com/alert") == "firing"
        }

    manager.fire("ServerDown", severity="critical", instance="db-1")
    manager.fire("ServerDown", severity="warning", instance="db-2")  # not this rule's labels
    await async_eventually(
        lambda: _has(alerted(), "db-1"),
        timeout=60, interval=0.2, message="the critical alert acted on",
    )  # fmt: skip
    # A third alert in the same group: Alertmanager sends the group again, db-1 included.
    manager.fire("ServerDown", severity="critical", instance="db-3")
    await async_eventually(
        lambda: _has(alerted(), "db-3"),
        timeout=60, interval=0.2, message="the second critical alert acted on",
    )  # fmt: skip
    assert await alerted() == {"db-1", "db-3"}  # db-2 is not critical

    assert await daemon.stop() == 0, daemon.log
    records = await audit_records(audit, rule="mark-server-down")
    succeeded = [r for r in records if r.outcome == outcome.SUCCEEDED]
    assert len(succeeded) == 2, records  # db-1 once, however often it was sent, and db-3
    assert {r.event_source for r in records} == {"alert"}
    repeats = [r for r in records if r.outcome == outcome.SUPPRESSED]
    assert {r.reason for r in repeats} <= {outcome.ALREADY_DONE}
    assert TOKEN not in daemon.log


async def _has(found: Any, key: str) -> bool:
    return key in await found
