"""``kubeops respond run`` as an operator starts it: probes, metrics, the receiver's
authentication and its answers to bad bodies, a posted event acted on exactly once,
and a graceful stop on SIGTERM."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import aiohttp

from kubeops.api import Client
from kubeops.respond import outcome
from kubeops.testenv import async_eventually

from .harness import NOT_YET, Spawn, audit_records, token_file, write_rules

TOKEN = "s3cret-" + uuid.uuid4().hex


def ping_rules(namespace: str) -> dict[str, Any]:
    """``server_down`` posted over HTTP annotates the ConfigMap ``target`` with the
    payload's server."""
    return {
        "rules": [
            {
                "name": "mark-server-down",
                "trigger": {"source": "http", "names": ["server_down"]},
                "conditions": ["payload.server != ''"],
                "actions": [
                    {
                        "annotate": {
                            "target": {
                                "kind": "ConfigMap",
                                "name": "target",
                                "namespace": namespace,
                            },
                            "annotations": {"example.com/down": "${payload.server}"},
                        }
                    }
                ],
            }
        ],
        "limits": {"namespace": namespace},
    }


async def configmap(client: Client, namespace: str) -> None:
    await client.create(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "target"}, "data": {}},
        namespace,
    )


async def test_probes_receiver_and_graceful_stop(
    spawn: Spawn,
    http: aiohttp.ClientSession,
    kubeconfig: str,
    kube_namespace: str,
    client: Client,
    tmp_path: Path,
) -> None:
    await configmap(client, kube_namespace)
    rules = write_rules(tmp_path / "rules", ping_rules(kube_namespace))
    audit = f"sqlite:///{tmp_path / 'audit.db'}"
    daemon = await spawn(
        "--kubeconfig",
        kubeconfig,
        "--rules",
        str(rules),
        "--audit-url",
        audit,
        "--event-token-file",
        str(token_file(tmp_path, TOKEN)),
        "--log-format",
        "json",
        "--record",
        str(tmp_path / "events.jsonl"),
    )
    await async_eventually(
        lambda: daemon.ready(http), timeout=30, interval=0.2, message="ready", ignore=NOT_YET
    )
    status = await daemon.healthz(http)
    assert status["leader"] is True
    assert status["rules"] == 1
    code, text = await daemon.get(http, "/metrics")
    assert code == 200
    assert "kubeops_respond_leader 1.0" in text

    url = daemon.url + "/events"
    good = {"name": "server_down", "payload": {"server": "db-1"}, "id": "probe-1"}
    bearer = {"Authorization": f"Bearer {TOKEN}"}

    async def post(
        body: Any, headers: dict[str, str] | None = None, raw: bytes | None = None
    ) -> tuple[int, str]:
        kwargs: dict[str, Any] = {"data": raw} if raw is not None else {"json": body}
        async with http.post(url, headers=headers or {}, **kwargs) as response:
            return response.status, await response.text()

    # Without the token, with a wrong one: refused, nothing acted on.
    assert (await post(good))[0] == 401
    assert (await post(good, {"Authorization": "Bearer wrong"}))[0] == 401
    # Bad bodies: one line naming the field and the cause.
    cases: list[tuple[Any, bytes | None, int, str]] = [
        (None, b"{not json", 400, "body: not JSON"),
        ([1, 2], None, 400, "body: expected a JSON object"),
        ({"payload": {}}, None, 400, "name: expected a non-empty string"),
        ({"name": "x", "payload": [1]}, None, 400, "payload: expected a JSON object"),
        ({"name": "x", "extra": 1}, None, 400, "unknown field 'extra'"),
        ({"name": "x", "id": True}, None, 400, "id: expected a string or a number"),
        (None, b"{" + b" " * (1 << 20) + b"}", 413, "larger than"),
    ]
    for body, raw, status, words in cases:
        got, text = await post(body, bearer, raw)
        assert got == status, (body, got, text)
        assert words in text, (body, text)
        assert text.count("\n") == 1, text
    cm = await client.get("v1/ConfigMap", "target", kube_namespace)
    assert "example.com/down" not in (cm["metadata"].get("annotations") or {})

    # The good post is acted on before it is answered, and once however often it is sent.
    got, text = await post(good, bearer)
    assert got == 200, text
    cm = await client.get("v1/ConfigMap", "target", kube_namespace)
    assert cm["metadata"]["annotations"]["example.com/down"] == "db-1"
    got, text = await post(good, bearer)
    assert got == 200, text

    assert await daemon.stop() == 0, daemon.log
    assert '"message"' in daemon.log  # JSON lines
    assert TOKEN not in daemon.log
    records = await audit_records(audit, rule="mark-server-down")
    done = [r for r in records if r.outcome == outcome.SUCCEEDED]
    assert len(done) == 1, records
    assert {r.reason for r in records if r.outcome == outcome.SUPPRESSED} == {outcome.ALREADY_DONE}

    # What was recorded replays through the same rules: one decision per post, nothing done.
    replay = subprocess.run(
        [sys.executable, "-m", "kubeops", "respond", "replay", "--rules", str(rules),
         "--events", str(tmp_path / "events.jsonl"), "-o", "json"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert replay.returncode == 0, replay.stderr
    decisions = json.loads(replay.stdout)
    items = decisions["decisions"] if isinstance(decisions, dict) else decisions
    assert [d["outcome"] for d in items if d["outcome"] != outcome.FIRED] == [
        outcome.DRY_RUN,
        outcome.DRY_RUN,
    ], replay.stdout


async def test_rule_errors_stop_the_daemon_before_it_starts(
    spawn: Spawn, kubeconfig: str, tmp_path: Path
) -> None:
    rules = write_rules(
        tmp_path / "rules",
        {
            "rules": [
                {"name": "bad", "trigger": {"source": "nowhere"}, "actions": [{"explode": {}}]}
            ]
        },
    )
    daemon = await spawn("--kubeconfig", kubeconfig, "--rules", str(rules))
    assert await daemon.wait(30) == 1
    assert "rules.yaml" in daemon.log
    assert "Traceback" not in daemon.log


async def test_https_metrics_behind_a_token_and_the_receiver_behind_its_own(
    spawn: Spawn, kubeconfig: str, kube_namespace: str, client: Client, tmp_path: Path
) -> None:
    """The port as `inspect serve` serves it (TLS, --auth token, JSON logs), the receiver
    taking only the event token and the probes open."""
    from kubeops.testenv.pki import create_cluster_pki

    await configmap(client, kube_namespace)
    pki = create_cluster_pki(tmp_path / "pki", "respond")
    scrape_token = "scrape-" + uuid.uuid4().hex
    scrape_file = tmp_path / "scrape-token"
    scrape_file.write_text(scrape_token)
    rules = write_rules(tmp_path / "rules", ping_rules(kube_namespace))
    daemon = await spawn(
        "--kubeconfig", kubeconfig, "--rules", str(rules),
        "--audit-url", f"sqlite:///{tmp_path / 'audit.db'}",
        "--auth", "token", "--auth-token-file", str(scrape_file),
        "--event-token-file", str(token_file(tmp_path, TOKEN)),
        "--tls-cert-file", str(pki.apiserver.cert_file),
        "--tls-private-key-file", str(pki.apiserver.key_file),
        "--log-format", "json",
    )  # fmt: skip
    base = daemon.url.replace("http://", "https://")
    context = ssl.create_default_context(cafile=str(pki.ca.cert_file))
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:

        async def call(method: str, path: str, token: str | None = None) -> int:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            body = {"name": "server_down", "payload": {"server": "db-9"}}
            async with http.request(
                method, base + path, headers=headers, ssl=context, json=body
            ) as response:
                return response.status

        async def ready() -> bool:
            assert daemon.running, daemon.log
            return await call("GET", "/readyz") == 200

        await async_eventually(ready, timeout=30, interval=0.2, message="ready", ignore=NOT_YET)
        assert await call("GET", "/healthz") == 200
        assert await call("GET", "/metrics") == 401
        assert await call("GET", "/metrics", TOKEN) == 401  # the event token reads nothing
        assert await call("GET", "/metrics", scrape_token) == 200
        assert await call("POST", "/events", scrape_token) == 401  # nor posts the other
        assert await call("POST", "/events", TOKEN) == 200
    cm = await client.get("v1/ConfigMap", "target", kube_namespace)
    assert cm["metadata"]["annotations"]["example.com/down"] == "db-9"
    assert await daemon.stop() == 0, daemon.log
    lines = [json.loads(line) for line in daemon.log.splitlines()]  # every line one object
    assert any(e["message"].startswith("serving https://127.0.0.1") for e in lines)
    assert scrape_token not in daemon.log
    assert TOKEN not in daemon.log


async def test_dry_run_decides_and_audits_and_changes_nothing(
    spawn: Spawn,
    http: aiohttp.ClientSession,
    kubeconfig: str,
    kube_namespace: str,
    client: Client,
    tmp_path: Path,
) -> None:
    await configmap(client, kube_namespace)
    before = await client.get("v1/ConfigMap", "target", kube_namespace)
    rules = write_rules(tmp_path / "rules", ping_rules(kube_namespace))
    audit = f"sqlite:///{tmp_path / 'audit.db'}"
    daemon = await spawn(
        "--kubeconfig", kubeconfig, "--rules", str(rules), "--audit-url", audit, "--dry-run"
    )  # fmt: skip
    await async_eventually(
        lambda: daemon.ready(http), timeout=30, interval=0.2, message="ready", ignore=NOT_YET
    )
    assert (await daemon.healthz(http))["dryRun"] is True
    async with http.post(
        daemon.url + "/events", json={"name": "server_down", "payload": {"server": "db-1"}}
    ) as response:
        assert response.status == 200, (await response.text()) + daemon.log
    assert await daemon.stop() == 0, daemon.log
    after = await client.get("v1/ConfigMap", "target", kube_namespace)
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    ledger = await client.list(
        "v1/ConfigMap", kube_namespace, label_selector="respond.kubeops.io/ledger=true"
    )
    assert ledger["items"] == []
    records = await audit_records(audit, rule="mark-server-down")
    assert sorted(r.outcome for r in records) == [outcome.DRY_RUN, outcome.FIRED]
    assert "example.com/down" in next(r.detail for r in records if r.outcome == outcome.DRY_RUN)
