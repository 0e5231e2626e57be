"""``kubeops events export`` as an operator runs it, against testenv and a real broker:
the rules' sources publish the cluster's changes to the topic in order and act on
nothing; probes, metrics and JSON logs; SIGTERM stops it; a bad bus: is one line
and exit 1, the SASL password in none of it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from integration.respond.daemon.harness import NOT_YET, Daemon
from kubeops.api import Client
from kubeops.bus import kafka as bus_kafka
from kubeops.bus.cloudevents import from_message
from kubeops.bus.config import BusConfig
from kubeops.respond.event import Event
from kubeops.testenv import Cluster, async_eventually
from kubeops.testenv.kafka import Kafka
from kubeops.testenv.ports import free_port

pytestmark = pytest.mark.asyncio


def export(*argv: str) -> Daemon:
    port = free_port()
    daemon = Daemon(port=port)
    daemon.argv = ["-m", "kubeops", "events", "export", "--listen", f"127.0.0.1:{port}", *argv]
    return daemon


def bus(bootstrap: str, topic: str, spool: Path, **extra: Any) -> dict[str, Any]:
    return {
        "brokers": [bootstrap],
        "publish": {"topic": topic, "cluster": "e2e", "spool": {"dir": str(spool)}},
        **extra,
    }


async def read_events(bootstrap: str, topic: str, done: Any) -> list[Event]:
    consumer = bus_kafka.consumer(
        BusConfig(brokers=(bootstrap,)), [topic], None, auto_offset_reset="earliest"
    )
    await consumer.start()
    events: list[Event] = []
    try:

        async def enough() -> bool:
            batch = await consumer.getmany(timeout_ms=300)
            for messages in batch.values():
                events.extend(
                    from_message(
                        m.value, topic=topic, partition=m.partition, offset=m.offset, key=m.key
                    )
                    for m in messages
                )
            return bool(done(events))

        await async_eventually(enough, timeout=60, message=f"the events on {topic}")
    finally:
        await consumer.stop()
    return events


async def test_export_publishes_a_rules_sources_and_acts_on_nothing(
    kube_cluster: Cluster,
    client: Client,
    kube_namespace: str,
    kafka: Kafka,
    kafka_topic: str,
    tmp_path: Path,
) -> None:
    rules = {
        "rules": [
            {
                "name": "note-configmaps",
                "trigger": {
                    "source": "resource",
                    "kind": "ConfigMap",
                    "namespaces": [kube_namespace],
                },
                "actions": [{"recordEvent": {"reason": "ShouldNotHappen", "message": "acted"}}],
            }
        ],
        "bus": bus(kafka.bootstrap, kafka_topic, tmp_path / "spool"),
    }
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules))
    daemon = await export(
        "-f",
        str(tmp_path / "rules.yaml"),
        "--kubeconfig",
        str(kube_cluster.kubeconfig),
        "-n",
        kube_namespace,
        "--leader-elect",
        "--lease-duration",
        "5s",
        "--log-format",
        "json",
    ).start()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:

        async def leading_and_publishing() -> bool:
            status, why = await daemon.get(http, "/readyz")
            return status == 200 and "publishing" in why

        # Ready at once (standing by), publishing once elected and the sources synced.
        await async_eventually(
            leading_and_publishing, timeout=60, ignore=NOT_YET, message="elected and publishing"
        )
        await client.create(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "web"},
                "data": {"v": "1"},
            }
        )
        await client.patch("configmaps", "web", {"data": {"v": "2"}})
        await client.delete("configmaps", "web")

        def about_web(events: list[Event]) -> list[Event]:
            return [e for e in events if e.object and e.object["metadata"]["name"] == "web"]

        events = await read_events(
            kafka.bootstrap, kafka_topic, lambda got: len(about_web(got)) >= 3
        )
        web = about_web(events)
        assert [e.name for e in web] == ["added", "modified", "deleted"]
        assert {e.origin["key"] for e in web} == {f"e2e/{kube_namespace}/ConfigMap/web"}
        _, metrics = await daemon.get(http, "/metrics")
        published = [
            line for line in metrics.splitlines() if line.startswith("kubeops_bus_published_total")
        ]
        assert published
        assert float(published[0].split()[-1]) >= 3
        assert "kubeops_bus_spool_bytes" in metrics
    assert await daemon.stop() == 0
    lines = [json.loads(line) for line in daemon.log.splitlines() if line.strip()]
    assert any("publishing to" in str(line.get("message", line)) for line in lines), daemon.log
    recorded = (await client.list("events", namespace=kube_namespace))["items"]
    assert not [e for e in recorded if e.get("reason") == "ShouldNotHappen"], "it acted"


async def test_export_watches_kinds_given_on_the_command_line(
    kube_cluster: Cluster,
    client: Client,
    kube_namespace: str,
    kafka: Kafka,
    kafka_topic: str,
    tmp_path: Path,
) -> None:
    (tmp_path / "bus.yaml").write_text(
        yaml.safe_dump({"bus": bus(kafka.bootstrap, kafka_topic, tmp_path / "spool")})
    )
    daemon = await export(
        "--watch",
        "Secret,ConfigMap",
        "--bus",
        str(tmp_path / "bus.yaml"),
        "--kubeconfig",
        str(kube_cluster.kubeconfig),
        "-n",
        kube_namespace,
    ).start()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        await async_eventually(
            lambda: daemon.ready(http), timeout=60, ignore=NOT_YET, message="ready"
        )
    await client.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s1"}})
    events = await read_events(
        kafka.bootstrap,
        kafka_topic,
        lambda got: any(e.object and e.object["metadata"]["name"] == "s1" for e in got),
    )
    assert [e.name for e in events if e.object and e.object["kind"] == "Secret"] == ["added"]
    assert await daemon.stop() == 0


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"brokers": ["127.0.0.1:1"]}, "kubeops: error: bus.brokers: "),
        ({"sasl": {"mechanism": "PLAIN", "username": "u", "passwordFile": "PW"}}, "kubeops: error: bus.sasl: "),
        ({"publsh": {}}, ": bus: publsh: unknown key (did you mean 'publish'?)"),
    ],
)  # fmt: skip
async def test_a_bad_bus_is_one_line_and_exit_1(
    kube_cluster: Cluster, kafka: Kafka, tmp_path: Path, extra: dict[str, Any], expected: str
) -> None:
    password = "hunter2-not-to-be-logged"
    (tmp_path / "pw").write_text(password)
    settings = bus(kafka.bootstrap, "t", tmp_path / "spool")
    if "sasl" in extra:
        extra = {"sasl": {**extra["sasl"], "passwordFile": str(tmp_path / "pw")}}
    settings.update(extra)
    (tmp_path / "bus.yaml").write_text(yaml.safe_dump({"bus": settings}))
    daemon = await export(
        "--watch",
        "ConfigMap",
        "--bus",
        str(tmp_path / "bus.yaml"),
        "--kubeconfig",
        str(kube_cluster.kubeconfig),
    ).start()
    assert await asyncio.wait_for(daemon.wait(60), 70) == 1
    # A static problem is listed as `respond check` lists it, then counted.
    lines = [line for line in daemon.log.strip().splitlines() if "problem in the rules" not in line]
    assert len(lines) == 1, daemon.log
    assert expected in lines[0]
    assert password not in daemon.log
