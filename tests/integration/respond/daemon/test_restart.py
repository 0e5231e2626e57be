"""Nothing is missed across a restart: an object created while the daemon was down
fires its ``added`` rule when it comes back (from the watermark the daemon keeps in the
cluster), an object it handled before is not handled again, and one that existed
before the daemon ever ran never fires."""

from __future__ import annotations

import collections
import datetime
import time
from pathlib import Path
from typing import Any

import aiohttp

from kubeops.api import Client
from kubeops.respond import outcome
from kubeops.respond.daemon import WATERMARK_OVERLAP
from kubeops.testenv import async_eventually

from .harness import NOT_YET, Daemon, Spawn, audit_records, write_rules

SEEN = "example.com/seen"


def seen_rules(namespace: str) -> dict[str, Any]:
    return {
        "rules": [
            {
                "name": "mark-new-configmaps",
                "trigger": {
                    "source": "resource",
                    "kind": "ConfigMap",
                    "names": ["added"],
                    "namespaces": [namespace],
                    "selector": "app=watched",
                },
                "actions": [{"annotate": {"annotations": {SEEN: "yes"}}}],
            }
        ],
        "limits": {"namespace": namespace},
    }


async def test_objects_added_while_down_fire_on_restart_and_nothing_fires_twice(
    spawn: Spawn,
    http: aiohttp.ClientSession,
    kubeconfig: str,
    kube_namespace: str,
    client: Client,
    tmp_path: Path,
) -> None:
    rules = write_rules(tmp_path / "rules", seen_rules(kube_namespace))
    audit = f"sqlite:///{tmp_path / 'audit.db'}"

    async def configmap(name: str) -> datetime.datetime:
        made = await client.create(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": name, "labels": {"app": "watched"}},
            },
            kube_namespace,
        )
        stamp = made["metadata"]["creationTimestamp"]
        return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))

    async def seen() -> set[str]:
        listed = await client.list("v1/ConfigMap", kube_namespace, label_selector="app=watched")
        return {
            cm["metadata"]["name"]
            for cm in listed["items"]
            if (cm["metadata"].get("annotations") or {}).get(SEEN) == "yes"
        }

    async def start() -> Daemon:
        daemon = await spawn(
            "--kubeconfig", kubeconfig, "--rules", str(rules), "--audit-url", audit
        )
        await async_eventually(
            lambda: daemon.ready(http), timeout=30, interval=0.2, message="ready", ignore=NOT_YET
        )
        return daemon

    before = await configmap("before")
    # Creation times have whole seconds: start in the next one.
    await async_eventually(lambda: time.time() >= before.timestamp() + 1.5, interval=0.1)
    daemon = await start()
    await configmap("while-up")
    await async_eventually(
        lambda: _equal(seen(), {"while-up"}), timeout=30, interval=0.2, message="while-up seen"
    )

    async def watermark_past_before() -> bool:
        listed = await client.list(
            "v1/ConfigMap", kube_namespace, label_selector="respond.kubeops.io/watermark=true"
        )
        times = [
            datetime.datetime.fromisoformat(cm["data"]["time"].replace("Z", "+00:00"))
            for cm in listed["items"]
        ]
        return any(t - WATERMARK_OVERLAP > before + datetime.timedelta(seconds=1) for t in times)

    await async_eventually(
        watermark_past_before, timeout=60, interval=0.5, message="the watermark moves on"
    )
    assert await daemon.stop() == 0, daemon.log

    await configmap("while-down")
    daemon = await start()
    await async_eventually(
        lambda: _equal(seen(), {"while-up", "while-down"}),
        timeout=30, interval=0.2, message="while-down seen after the restart",
    )  # fmt: skip
    assert await daemon.stop() == 0, daemon.log

    assert await seen() == {"while-up", "while-down"}  # "before" predates the daemon
    records = await audit_records(audit, rule="mark-new-configmaps")
    done = collections.Counter(r.subject for r in records if r.outcome == outcome.SUCCEEDED)
    assert sorted(done.values()) == [1, 1], records


async def _equal(found: Any, expected: set[str]) -> bool:
    return bool(await found == expected)
