"""The guide's CPU overload: a Deployment's Pods at 95% of their CPU request for longer
than the window (read from a real metrics.k8s.io: metrics-server scraping kwok's
kubelets) are scaled out within the rule's bounds, and not again during the cooldown
though the new Pods are as busy."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from integration.respond.daemon.harness import NOT_YET, Spawn, audit_records
from kubeops.api import Client
from kubeops.config import load_config
from kubeops.respond import outcome
from kubeops.testenv import Cluster, async_eventually

from .conftest import example_rules

pytestmark = pytest.mark.timeout(900)

WINDOW = "20s"
"""The example's `for: 1m`, shortened to keep the test short: a run of three busy samples
at metrics-server's 10 s resolution (the usage source's own test uses the same)."""


def deployment(replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": "nginx:1.27",
                            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
                        }
                    ]
                },
            },
        },
    }


async def test_busy_pods_are_scaled_out_within_bounds_once_per_cooldown(
    spawn: Spawn,
    http: aiohttp.ClientSession,
    metrics_cluster: Cluster,
    metrics_namespace: str,
    tmp_path: Path,
) -> None:
    kubeconfig = str(metrics_cluster.kubeconfig)
    async with Client(load_config(kubeconfig)) as client:
        await _scenario(
            spawn, http, metrics_cluster, client, kubeconfig, metrics_namespace, tmp_path
        )


async def _scenario(
    spawn: Spawn,
    http: aiohttp.ClientSession,
    cluster: Cluster,
    client: Client,
    kubeconfig: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    await client.create(deployment(2), namespace)

    async def busy_pods(count: int) -> list[dict[str, Any]]:
        """The Deployment's running Pods, each made to use 95m of its 100m (at least ``count``)."""
        listed = await client.list("v1/Pod", namespace, label_selector="app=web")
        running = [p for p in listed["items"] if (p.get("status") or {}).get("phase") == "Running"]
        assert len(running) >= count, [p["metadata"]["name"] for p in running]
        for pod in running:
            if "usage.testenv.kubeops.io/cpu" not in (pod["metadata"].get("annotations") or {}):
                await asyncio.to_thread(cluster.set_usage, {**pod, "kind": "Pod"}, cpu="95m")
        return running

    pods = await async_eventually(
        lambda: busy_pods(2), timeout=90, interval=0.5, message="two busy Pods", ignore=NOT_YET
    )
    await asyncio.to_thread(cluster.wait_usage, {**pods[0], "kind": "Pod"}, cpu="95m")

    rules = example_rules("cpu-overload", tmp_path / "rules", namespace, {"1m": WINDOW})
    audit = f"sqlite:///{tmp_path / 'audit.db'}"
    daemon = await spawn(
        "--kubeconfig", kubeconfig, "--rules", str(rules), "--audit-url", audit,
        "--usage-interval", "5s",
    )  # fmt: skip
    await async_eventually(
        lambda: daemon.ready(http), timeout=60, interval=0.2, message="ready", ignore=NOT_YET
    )

    async def replicas() -> int:
        found = await client.get("apps/v1/Deployment", "web", namespace)
        return int(found["spec"]["replicas"])

    async def scaled_to(count: int) -> bool:
        assert daemon.running, daemon.log
        return await replicas() == count

    # factor 2 within [2, 10]: 2 -> 4, once the window is full of busy samples.
    await async_eventually(lambda: scaled_to(4), timeout=180, interval=1, message="scaled out to 4")
    # The new Pods are as busy: the next window breaches again, and the cooldown holds.
    await async_eventually(
        lambda: busy_pods(4), timeout=90, interval=0.5, message="four busy Pods", ignore=NOT_YET
    )

    async def held_by_cooldown() -> bool:
        assert await replicas() == 4, daemon.log
        records = await audit_records(audit, rule="scale-out-on-cpu")
        return any(r.reason == outcome.COOLDOWN for r in records)

    await async_eventually(
        held_by_cooldown, timeout=180, interval=2, message="a second breach held by the cooldown"
    )
    assert await replicas() == 4
    assert await daemon.stop() == 0, daemon.log
    records = await audit_records(audit, rule="scale-out-on-cpu")
    done = [r for r in records if r.outcome == outcome.SUCCEEDED]
    assert len(done) == 1, records
    assert "from 2 to 4" in done[0].detail, done[0].detail
