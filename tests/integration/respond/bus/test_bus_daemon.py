"""``kubeops respond run`` with a ``bus:``: a broker that cannot be reached, a credential
that cannot be read, or a bad setting is one line at start naming the setting and the
cause (exit 1); with a broker, a replica is ready once its consumer joined, and says
so in /readyz and /healthz."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from integration.bus.test_publish import decoded, read_topic
from integration.bus.test_publish_sasl import PASSWORD as SASL_PASSWORD
from integration.bus.test_publish_sasl import sasl_bootstrap
from kubeops.api import Client
from kubeops.testenv import async_eventually
from kubeops.testenv.kafka import Kafka
from kubeops.testenv.ports import free_port

from ..daemon.harness import NOT_YET, Spawn, write_rules

__all__ = ["sasl_bootstrap"]  # the SASL broker fixture, shared with the bus tests

SECRET = "h4-never-logged-5c1e"


def rules(namespace: str, bus: dict[str, Any]) -> dict[str, Any]:
    return {
        "bus": bus,
        "rules": [
            {
                "name": "answer",
                "trigger": {"source": "kafka", "names": ["server_down"]},
                "actions": [{"label": {"target": {"kind": "ConfigMap", "name": "x"},
                                       "labels": {"a": "b"}}}],
            }
        ],
        "limits": {"namespace": namespace},
    }  # fmt: skip


async def start_failing(spawn: Spawn, kubeconfig: str, directory: Path) -> tuple[int, str]:
    daemon = await spawn("--kubeconfig", kubeconfig, "--rules", str(directory))
    code = await daemon.wait(60)
    return code, daemon.log


def unreachable(closed: int, missing: str) -> tuple[dict[str, Any], str]:
    bus = {"brokers": [f"127.0.0.1:{closed}"], "consume": {"topics": ["t"], "group": "g"}}
    return bus, (
        "kubeops: error: bus.brokers: checking the brokers: no broker reachable at "
        f"127.0.0.1:{closed}"
    )


def credential_file(closed: int, missing: str) -> tuple[dict[str, Any], str]:
    bus = {
        "brokers": [f"127.0.0.1:{closed}"],
        "consume": {"topics": ["t"], "group": "g"},
        "sasl": {"mechanism": "PLAIN", "username": "u", "passwordFile": missing},
    }
    return bus, f"bus.sasl.passwordFile {missing}: cannot read it: No such file or directory"


def unknown_key(closed: int, missing: str) -> tuple[dict[str, Any], str]:
    bus = {"brokers": ["127.0.0.1:9092"], "consume": {"topics": ["t"], "group": "g"}, "publsh": {}}
    # The rules loader's shape: the problem at file:line, then the count.
    return bus, "rules.yaml:8: bus: publsh: unknown key (did you mean 'publish'?)"


@pytest.mark.parametrize("case", [unreachable, credential_file, unknown_key])
async def test_a_bad_bus_is_one_line_at_start(
    case: Any, spawn: Spawn, kubeconfig: str, kube_namespace: str, tmp_path: Path
) -> None:
    bus, expected = case(free_port(), str(tmp_path / "no-such-password"))
    directory = write_rules(tmp_path / "rules", rules(kube_namespace, bus))
    code, log = await start_failing(spawn, kubeconfig, directory)
    lines = [line for line in log.splitlines() if line.strip()]
    assert code == 1, log
    assert len(lines) == (2 if case is unknown_key else 1), log
    assert expected in lines[0], log


async def test_a_replica_is_ready_once_its_consumer_joined(
    spawn: Spawn,
    http: aiohttp.ClientSession,
    kubeconfig: str,
    kube_namespace: str,
    kafka: Kafka,
    kafka_topic: str,
    tmp_path: Path,
) -> None:
    bus = {
        "brokers": [kafka.bootstrap],
        "consume": {"topics": [kafka_topic], "group": f"g-{uuid.uuid4().hex[:6]}"},
    }
    directory = write_rules(tmp_path / "rules", rules(kube_namespace, bus))
    daemon = await spawn(
        "--kubeconfig", kubeconfig, "--rules", str(directory), "--audit-url",
        f"sqlite:///{tmp_path / 'audit.db'}",
    )  # fmt: skip

    async def ready() -> str:
        status, text = await daemon.get(http, "/readyz")
        assert status == 200, text
        return text

    text = await async_eventually(ready, timeout=45, interval=0.2, ignore=NOT_YET)
    assert "bus: consuming 3 partition(s)" in text, text
    health = await daemon.healthz(http)
    assert health["bus"]["mode"] == "consume"
    assert health["bus"]["consumer"]["assigned"] is True
    assert health["bus"]["heartbeat"] is True
    status, metrics = await daemon.get(http, "/metrics")
    assert status == 200
    assert "kubeops_bus_decode_errors_total" in metrics, metrics
    assert await daemon.stop() == 0, daemon.log


async def test_sasl_refused_at_start_is_one_line_without_the_password(
    spawn: Spawn, kubeconfig: str, kube_namespace: str, kafka: Kafka, tmp_path: Path
) -> None:
    password = tmp_path / "password"
    password.write_text(SECRET + "\n")
    bus = {
        "brokers": [kafka.bootstrap],  # a plain listener: no SASL there
        "consume": {"topics": ["t"], "group": "g"},
        "sasl": {"mechanism": "PLAIN", "username": "kubeops", "passwordFile": str(password)},
    }
    directory = write_rules(tmp_path / "rules", rules(kube_namespace, bus))
    code, log = await start_failing(spawn, kubeconfig, directory)
    lines = [line for line in log.splitlines() if line.strip()]
    assert code == 1, log
    assert len(lines) == 1, log
    assert lines[0].startswith("kubeops: error: bus.sasl: checking the brokers: "), log
    assert SECRET not in log


async def test_publish_only_the_leader_publishes_and_handles_its_events(
    spawn: Spawn,
    http: aiohttp.ClientSession,
    kubeconfig: str,
    kube_namespace: str,
    client: Client,
    kafka: Kafka,
    kafka_topic: str,
    tmp_path: Path,
) -> None:
    ns = kube_namespace
    document = {
        "bus": {
            "brokers": [kafka.bootstrap],
            "publish": {"topic": kafka_topic, "cluster": "testenv", "sources": ["resource"],
                        "spool": {"dir": str(tmp_path / "spool")}},
        },
        "rules": [
            {
                "name": "mark-new",
                "trigger": {"source": "resource", "kind": "ConfigMap", "names": ["added"],
                            "namespaces": [ns], "selector": "watched=yes"},
                "actions": [{"label": {"labels": {"handled": "yes"}}}],
            }
        ],
        "limits": {"namespace": ns},
    }  # fmt: skip
    directory = write_rules(tmp_path / "rules", document)
    daemon = await spawn(
        "--kubeconfig", kubeconfig, "--rules", str(directory), "--audit-url",
        f"sqlite:///{tmp_path / 'audit.db'}",
    )  # fmt: skip

    async def ready() -> str:
        status, text = await daemon.get(http, "/readyz")
        assert status == 200, text
        return text

    await async_eventually(ready, timeout=45, interval=0.2, ignore=NOT_YET)
    assert (await daemon.healthz(http))["bus"]["mode"] == "publish"
    created = await client.create(
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "published", "labels": {"watched": "yes"}}},
        ns,
    )  # fmt: skip

    async def handled() -> bool:
        obj = await client.get("configmaps", "published", ns)
        return obj["metadata"]["labels"].get("handled") == "yes"

    await async_eventually(handled, timeout=30, interval=0.2, message="handled by the leader")
    messages = await read_topic(kafka.bootstrap, kafka_topic, at_least=1)
    events = decoded(messages, kafka_topic)
    added = [e for e in events if e.name == "added" and e.subject and e.subject.name == "published"]
    assert len(added) == 1, events
    assert added[0].source == "resource"
    assert added[0].object is not None
    assert added[0].object["metadata"]["uid"] == created["metadata"]["uid"]

    # Once it sent something, the publisher says it is connected, its spool drained.
    async def drained() -> bool:
        assert "publisher connected, spool 0 event(s)" in await ready()
        health = await daemon.healthz(http)
        assert health["bus"]["publisher"] == {"connected": True, "spoolEvents": 0, "spoolBytes": 0}
        return True

    await async_eventually(drained, timeout=10, interval=0.2, message="the spool drained")
    _, metrics = await daemon.get(http, "/metrics")
    assert "kubeops_bus_spool_events 0.0" in metrics, metrics
    published = re.search(r"^kubeops_bus_published_total (\S+)$", metrics, re.MULTILINE)
    assert published is not None, metrics
    assert float(published.group(1)) >= 1  # added, and modified by the label
    assert await daemon.stop() == 0, daemon.log


async def test_a_debug_log_never_shows_the_sasl_password(
    spawn: Spawn,
    http: aiohttp.ClientSession,
    kubeconfig: str,
    kube_namespace: str,
    sasl_bootstrap: str,
    tmp_path: Path,
) -> None:
    password = tmp_path / "password"
    password.write_text(SASL_PASSWORD + "\n")
    bus = {
        "brokers": [sasl_bootstrap],
        "consume": {"topics": ["sasl-consumed"], "group": "g"},
        "sasl": {"mechanism": "PLAIN", "username": "kubeops", "passwordFile": str(password)},
    }
    directory = write_rules(tmp_path / "rules", rules(kube_namespace, bus))
    daemon = await spawn(
        "--kubeconfig", kubeconfig, "--rules", str(directory), "--log-level", "debug",
        "--audit-url", f"sqlite:///{tmp_path / 'audit.db'}",
    )  # fmt: skip

    async def ready() -> bool:
        status, text = await daemon.get(http, "/readyz")
        assert status == 200, text
        return True

    await async_eventually(ready, timeout=45, interval=0.2, ignore=NOT_YET)
    assert await daemon.stop() == 0, daemon.log
    # The client's own DEBUG lines are there (every request it sent), the password not.
    assert f"Request to {sasl_bootstrap}" in daemon.log, daemon.log[-3000:]
    assert SASL_PASSWORD not in daemon.log
