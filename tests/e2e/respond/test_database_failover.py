"""The guide's database failover: a prober posts failed connection probes over HTTP;
at the third failure in a row the Service is switched from the primary to the standby
(its endpoints follow), and once only."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from integration.respond.daemon.harness import NOT_YET, Spawn, audit_records, token_file
from kubeops.api import Client
from kubeops.respond import outcome
from kubeops.testenv import async_eventually

from .conftest import example_rules

pytestmark = pytest.mark.full

TOKEN = uuid.uuid4().hex


def pod(name: str, role: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "postgres", "role": role}},
        "spec": {
            "containers": [
                {"name": "db", "image": "postgres:17", "ports": [{"containerPort": 5432}]}
            ]
        },
    }


async def endpoint_pods(client: Client, namespace: str) -> set[str]:
    slices = await client.list(
        "discovery.k8s.io/v1/EndpointSlice",
        namespace,
        label_selector="kubernetes.io/service-name=orders-db",
    )
    return {
        (e.get("targetRef") or {}).get("name", "")
        for s in slices["items"]
        for e in s.get("endpoints") or []
    }


async def test_three_failed_probes_in_a_row_switch_the_service_to_the_standby(
    spawn: Spawn,
    http: aiohttp.ClientSession,
    kubeconfig: str,
    kube_namespace: str,
    client: Client,
    tmp_path: Path,
) -> None:
    for name, role in (("db-0", "primary"), ("db-1", "standby")):
        await client.create(pod(name, role), kube_namespace)
    await client.create(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "orders-db"},
            "spec": {
                "selector": {"app": "postgres", "role": "primary"},
                "ports": [{"port": 5432, "targetPort": 5432}],
            },
        },
        kube_namespace,
    )

    async def served_by(pod_name: str) -> bool:
        return await endpoint_pods(client, kube_namespace) == {pod_name}

    await async_eventually(
        lambda: served_by("db-0"), timeout=60, interval=0.5, message="orders-db on the primary"
    )

    rules = example_rules("database-failover", tmp_path / "rules", kube_namespace)
    audit = f"sqlite:///{tmp_path / 'audit.db'}"
    daemon = await spawn(
        "--kubeconfig", kubeconfig, "--rules", str(rules), "--audit-url", audit,
        "--event-token-file", str(token_file(tmp_path, TOKEN)),
    )  # fmt: skip
    await async_eventually(
        lambda: daemon.ready(http), timeout=30, interval=0.2, message="ready", ignore=NOT_YET
    )

    async def probe_failed(failures: int) -> None:
        async with http.post(
            daemon.url + "/events",
            headers={"Authorization": f"Bearer {TOKEN}"},
            json={
                "name": "db_probe_failed",
                "payload": {"service": "orders-db", "failures": failures},
            },
        ) as response:
            assert response.status == 200, await response.text()

    async def selector() -> dict[str, str]:
        service = await client.get("v1/Service", "orders-db", kube_namespace)
        return dict(service["spec"]["selector"])

    # One and two failures in a row: nothing happens (the post is answered when decided).
    await probe_failed(1)
    await probe_failed(2)
    assert await selector() == {"app": "postgres", "role": "primary"}
    # The third: switched before the post is answered; the endpoints follow.
    await probe_failed(3)
    assert await selector() == {"app": "postgres", "role": "standby"}
    await async_eventually(
        lambda: served_by("db-1"), timeout=60, interval=0.5, message="orders-db on the standby"
    )
    # A fourth failure (the prober still sees the old address) switches nothing again.
    await probe_failed(4)
    assert await selector() == {"app": "postgres", "role": "standby"}

    assert await daemon.stop() == 0, daemon.log
    records = await audit_records(audit, rule="fail-over-orders-db")
    assert [r.outcome for r in records if r.outcome == outcome.SUCCEEDED] == [outcome.SUCCEEDED]
    reasons = [r.reason for r in records if r.outcome == outcome.SUPPRESSED]
    assert len(reasons) == 1, records
    assert reasons[0] in (outcome.COOLDOWN, outcome.RULE_RATE)
