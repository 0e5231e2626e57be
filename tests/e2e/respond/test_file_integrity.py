"""The guide's file integrity check: a watched ConfigMap whose content no longer
matches its recorded SHA-256 raises an alert -- to a webhook receiver and over SMTP,
both real servers started here -- and the Pods that mount it are isolated (out of their
Service's endpoints, fenced by a deny-all NetworkPolicy); a Pod that does not mount it
is left alone."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from integration.respond.daemon.harness import NOT_YET, Hook, Mailbox, Spawn, audit_records
from kubeops.api import Client
from kubeops.respond import outcome
from kubeops.testenv import async_eventually

from .conftest import example_rules

pytestmark = pytest.mark.full

EXAMPLE_HOOK = "http://security-hooks.security:8080/integrity"


def sha256(data: dict[str, str]) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def pod(name: str, mounts: bool) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "web", "image": "nginx:1.27"}]}
    if mounts:
        spec["volumes"] = [{"name": "config", "configMap": {"name": "app-config"}}]
        spec["containers"][0]["volumeMounts"] = [{"name": "config", "mountPath": "/etc/app"}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "web"}},
        "spec": spec,
    }


async def endpoint_pods(client: Client, namespace: str) -> set[str]:
    slices = await client.list(
        "discovery.k8s.io/v1/EndpointSlice",
        namespace,
        label_selector="kubernetes.io/service-name=web",
    )
    return {
        (e.get("targetRef") or {}).get("name", "")
        for s in slices["items"]
        for e in s.get("endpoints") or []
    }


def selects(policy: dict[str, Any], labels: dict[str, str]) -> bool:
    selector = policy["spec"].get("podSelector") or {}
    wanted = selector.get("matchLabels") or {}
    return bool(wanted) and all(labels.get(k) == v for k, v in wanted.items())


async def test_a_changed_configmap_alerts_and_isolates_the_pods_that_mount_it(
    spawn: Spawn,
    http: aiohttp.ClientSession,
    kubeconfig: str,
    kube_namespace: str,
    client: Client,
    tmp_path: Path,
) -> None:
    hook = await Hook().start()
    mailbox = Mailbox().start()
    try:
        for name, mounts in (("web-0", True), ("web-1", True), ("other", False)):
            await client.create(pod(name, mounts), kube_namespace)
        await client.create(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web"},
                "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
            },
            kube_namespace,
        )
        await async_eventually(
            lambda: _equal(endpoint_pods(client, kube_namespace), {"web-0", "web-1", "other"}),
            timeout=60, interval=0.5, message="web served by its three Pods",
        )  # fmt: skip

        rules = example_rules(
            "file-integrity", tmp_path / "rules", kube_namespace, {EXAMPLE_HOOK: hook.url}
        )
        audit = f"sqlite:///{tmp_path / 'audit.db'}"
        daemon = await spawn(
            "--kubeconfig", kubeconfig, "--rules", str(rules), "--audit-url", audit,
            "--smtp-host", "127.0.0.1", "--smtp-port", str(mailbox.port),
            "--smtp-from", "kubeops@test.example",
        )  # fmt: skip
        await async_eventually(
            lambda: daemon.ready(http), timeout=30, interval=0.2, message="ready", ignore=NOT_YET
        )

        # Approved content with its recorded hash: added after the daemon started, and fine.
        data = {"app.conf": "listen 80;\n"}
        await client.create(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": "app-config",
                    "labels": {"integrity.kubeops.io/watch": "true"},
                    "annotations": {"integrity.kubeops.io/sha256": sha256(data)},
                },
                "data": data,
            },
            kube_namespace,
        )
        # An approved change (content and hash together) is not an alert either.
        data = {"app.conf": "listen 8080;\n"}
        await client.patch(
            "v1/ConfigMap",
            "app-config",
            {
                "data": data,
                "metadata": {"annotations": {"integrity.kubeops.io/sha256": sha256(data)}},
            },
            kube_namespace,
        )
        # Tampering: the content changes, the recorded hash does not.
        await client.patch(
            "v1/ConfigMap",
            "app-config",
            {"data": {"app.conf": "listen 8080; evil;\n"}},
            kube_namespace,
        )

        await async_eventually(
            lambda: bool(hook.posts) and bool(mailbox.messages),
            timeout=60, interval=0.2, message="the webhook and the email",
        )  # fmt: skip
        assert "app-config" in json.dumps(hook.posts[0])
        assert "app-config" in str(mailbox.messages[0]["Subject"])

        await async_eventually(
            lambda: _equal(endpoint_pods(client, kube_namespace), {"other"}),
            timeout=60, interval=0.5, message="only the Pod that does not mount it is served",
        )  # fmt: skip
        policies = (await client.list("networking.k8s.io/v1/NetworkPolicy", kube_namespace))[
            "items"
        ]
        for name in ("web-0", "web-1", "other"):
            labels = (await client.get("v1/Pod", name, kube_namespace))["metadata"]["labels"]
            fenced = [
                p for p in policies
                if selects(p, labels) and not p["spec"].get("ingress") and not p["spec"].get("egress")
            ]  # fmt: skip
            assert bool(fenced) == (name != "other"), (name, labels, policies)

        assert await daemon.stop() == 0, daemon.log
        records = await audit_records(audit, rule="configmap-integrity")
        succeeded = [r for r in records if r.outcome == outcome.SUCCEEDED]
        assert sorted(r.action for r in succeeded) == ["isolate", "notify", "notify"], records
        assert len(hook.posts) == 1
        assert len(mailbox.messages) == 1
    finally:
        await hook.stop()
        mailbox.stop()


async def _equal(found: Any, expected: set[str]) -> bool:
    return bool(await found == expected)
