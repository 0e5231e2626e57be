"""Publishing to a real broker: a cluster's changes arrive on the topic as CloudEvents in
per-object order; a broker stopped for 30 s while events keep coming -- and a publisher
restarted meanwhile -- loses none and duplicates none once it is back; the spool's
metrics show the outage."""

from __future__ import annotations

import asyncio
import collections
import datetime
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from kubeops.api import Client
from kubeops.bus import kafka as bus_kafka
from kubeops.bus.cloudevents import from_message
from kubeops.bus.config import BusConfig, BusConfigError, PublishSettings
from kubeops.bus.publisher import Publisher
from kubeops.respond.event import RESOURCE, Event
from kubeops.respond.model import Trigger
from kubeops.respond.sources.resources import ResourceSource
from kubeops.testenv import async_eventually
from kubeops.testenv.kafka import Kafka

pytestmark = pytest.mark.asyncio

Message = tuple[int, int, bytes, bytes]  # partition, offset, key, value


def config(bootstrap: str, topic: str, spool: Path, cluster: str = "testenv") -> BusConfig:
    return BusConfig(
        brokers=(bootstrap,),
        publish=PublishSettings(topic=topic, cluster=cluster, spool_dir=str(spool)),
    )


async def read_topic(
    bootstrap: str,
    topic: str,
    at_least: int,
    timeout: float = 60,
    key_part: bytes = b"",
) -> list[Message]:
    """Every message on ``topic`` once at least ``at_least`` whose key holds ``key_part``
    arrived -- all of them: the partitions' end offsets say how many there are,
    duplicates included."""
    consumer = bus_kafka.consumer(
        BusConfig(brokers=(bootstrap,)), [topic], None, auto_offset_reset="earliest"
    )
    await consumer.start()
    got: list[Message] = []
    try:

        async def enough() -> bool:
            batch = await consumer.getmany(timeout_ms=500)
            for messages in batch.values():
                got.extend((m.partition, m.offset, m.key, m.value) for m in messages)
            if sum(key_part in (m[2] or b"") for m in got) < at_least:
                return False
            ends = await consumer.end_offsets(list(consumer.assignment()))
            return len(got) >= sum(ends.values())

        await async_eventually(enough, timeout=timeout, message=f"{at_least} messages on {topic}")
    finally:
        await consumer.stop()
    return got


def decoded(messages: list[Message], topic: str) -> list[Event]:
    return [
        from_message(value, topic=topic, partition=p, offset=o, key=key)
        for p, o, key, value in sorted(messages)
    ]


def cm(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


async def test_a_clusters_changes_arrive_in_per_object_order(
    client: Client, kube_namespace: str, kafka: Kafka, kafka_topic: str, tmp_path: Path
) -> None:
    publisher = Publisher(
        config(kafka.bootstrap, kafka_topic, tmp_path), registry=CollectorRegistry()
    )
    await publisher.start()
    trigger = Trigger(RESOURCE, kind="ConfigMap", namespaces=(kube_namespace,))
    source = ResourceSource(client, [trigger])
    running = asyncio.create_task(source.run(publisher.emit))
    try:
        await async_eventually(source.ready.wait, message="the source's informers synced")
        names = [f"cm-{i}" for i in range(6)]
        for name in names:
            await client.create(cm(name, v="0"))
        for round_ in range(1, 5):
            for name in names:
                await client.patch("configmaps", name, {"data": {"v": str(round_)}})
        for name in names:
            await client.delete("configmaps", name)
        # 6 added + 24 modified + 6 deleted (+ kube-root-ca.crt's added, if it came late)
        messages = await read_topic(
            kafka.bootstrap, kafka_topic, at_least=36, key_part=b"/ConfigMap/cm-"
        )
    finally:
        running.cancel()
        await asyncio.wait([running])
        await publisher.close()
    mine = [m for m in messages if b"/ConfigMap/cm-" in m[2]]
    events = decoded(mine, kafka_topic)
    assert len(events) == 36
    assert len({e.identity for e in events}) == 36  # none twice
    by_key: dict[bytes, list[tuple[int, int]]] = collections.defaultdict(list)
    for partition, offset, key, _ in mine:
        by_key[key].append((partition, offset))
    assert sorted(by_key) == [f"testenv/{kube_namespace}/ConfigMap/{n}".encode() for n in names]
    for key, places in by_key.items():
        assert len({p for p, _ in places}) == 1, f"{key!r}'s events are in one partition"
    for name in names:
        its = sorted(
            (e for e in events if e.object is not None and e.object["metadata"]["name"] == name),
            key=lambda e: e.origin["offset"],
        )
        assert [e.name for e in its] == ["added"] + ["modified"] * 4 + ["deleted"]
        assert [e.object["data"]["v"] for e in its[1:5] if e.object] == ["1", "2", "3", "4"]
        assert all(e.source == RESOURCE for e in its)
    assert publisher.metrics.value("kubeops_bus_published_total") == len(messages)


OUTAGE = 16.0
"""Seconds the broker is away: each half (before and after the publisher's restart) is
longer than the send timeout and the acknowledgement warning (5 s each), so the first
publisher's sends time out and both retry with backoff, spooling, before it returns."""


async def test_a_broker_outage_and_a_publisher_restart_lose_and_duplicate_nothing(
    kafka_broker: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Events keep coming at ~50/s over 20 keys: 5 s with the broker, 16 s without it
    (the publisher restarted halfway through), 5 s after; the consumer then sees every
    event once, each key's in the order sent."""
    caplog.set_level(logging.INFO, logger="kubeops.bus")
    broker: Kafka = await asyncio.to_thread(kafka_broker)
    topic = await asyncio.to_thread(broker.create_topic, "outage", 3)
    settings = config(broker.bootstrap, topic, tmp_path / "spool")
    registry = CollectorRegistry()
    publisher = Publisher(settings, registry=registry, request_timeout_ms=5000)
    await publisher.start()
    sent = 0

    def event(i: int) -> Event:
        return Event(
            "tick",
            "http",
            datetime.datetime.now(datetime.UTC),
            {"key": i % 20, "n": i},
            {"kind": "Thing", "metadata": {"name": f"k{i % 20}", "namespace": "ns"}},
            identity=f"tick-{i}",
        )

    async def keep_sending(seconds: float) -> None:
        nonlocal sent
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            assert publisher.publish(event(sent))
            sent += 1
            await asyncio.sleep(0.02)

    await keep_sending(5)
    await asyncio.to_thread(broker.stop)
    down_at = sent
    await keep_sending(OUTAGE / 2)
    spooled = publisher.metrics.value("kubeops_bus_spool_events")
    assert spooled > 0
    assert publisher.metrics.value("kubeops_bus_spool_bytes") > 0
    assert publisher.metrics.value("kubeops_bus_spool_oldest_seconds") > 1
    # A restart while the broker is away: what is spooled stays on disk.
    await publisher.close(timeout=0.5)
    publisher = Publisher(settings, registry=CollectorRegistry(), request_timeout_ms=5000)
    assert len(publisher.spool) >= spooled
    await publisher.start(check=False)
    await keep_sending(OUTAGE / 2)
    during = sent - down_at
    await asyncio.to_thread(broker.start)
    await keep_sending(5)
    assert await publisher.flush(60)
    assert publisher.metrics.value("kubeops_bus_spool_events") == 0
    assert publisher.metrics.value("kubeops_bus_spool_oldest_seconds") == 0
    await publisher.close()

    messages = await read_topic(broker.bootstrap, topic, at_least=sent)
    events = decoded(messages, topic)
    ids = [e.identity for e in events]
    duplicates = len(ids) - len(set(ids))
    missing = {f"tick-{i}" for i in range(sent)} - set(ids)
    order_violations = 0
    last: dict[int, int] = {}
    for e in sorted(events, key=lambda e: (e.origin["partition"], e.origin["offset"])):
        key, n = e.payload["key"], e.payload["n"]
        order_violations += n < last.get(key, -1)
        last[key] = n
    print(
        f"\noutage: {sent} events sent, {during} during the {OUTAGE:.0f} s outage; "
        f"{len(events)} received, {duplicates} duplicates, {len(missing)} missing, "
        f"{order_violations} order violations"
    )
    assert (duplicates, len(missing), order_violations) == (0, 0, 0)
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("kubeops.bus")]
    assert any("spooling" in line for line in lines), lines
    assert any("takes events again" in line for line in lines), lines
    assert len(lines) < 20, "one line per state change, not per event or retry"


async def test_an_unreachable_broker_is_one_line_at_start(tmp_path: Path) -> None:
    publisher = Publisher(config("127.0.0.1:1", "t", tmp_path), registry=CollectorRegistry())
    with pytest.raises(BusConfigError) as caught:
        await publisher.start()
    assert str(caught.value).startswith(
        "bus.brokers: publishing to t: no broker reachable at 127.0.0.1:1: "
    )
    assert "\n" not in str(caught.value)
    await publisher.close()
