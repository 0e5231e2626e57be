"""KafkaSource against a real broker: what any producer sends arrives as the right
event in per-partition order, an offset is committed only once its event was
handled, group members share the partitions and hand them over without losing a
message, and a message that is no event is skipped and committed past."""

from __future__ import annotations

import asyncio
import collections
import datetime
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry

from kubeops.bus import kafka as bus_kafka
from kubeops.bus.cloudevents import key_of, to_cloudevent
from kubeops.bus.config import BusConfig, ConsumeSettings
from kubeops.bus.consumer import KafkaSource
from kubeops.respond import event as ev
from kubeops.respond.event import Event, identity_of
from kubeops.testenv import async_eventually

pytestmark = pytest.mark.asyncio

Sent = tuple[int, int]  # partition, offset


def config(bootstrap: str, topic: str, group: str) -> BusConfig:
    return BusConfig(brokers=(bootstrap,), consume=ConsumeSettings(topics=(topic,), group=group))


async def produce(
    bootstrap: str,
    topic: str,
    values: list[bytes],
    *,
    partition: int | None = None,
    pace: float = 0,
    into: list[Sent] | None = None,
) -> list[Sent]:
    """Send ``values`` in order (keyed by index unless a partition is given), one every
    ``pace`` seconds, appending where each landed to ``into``."""
    producer = bus_kafka.producer(BusConfig(brokers=(bootstrap,)))
    await producer.start()
    sent = into if into is not None else []
    try:
        for i, value in enumerate(values):
            key = None if partition is not None else f"k{i}".encode()
            meta = await producer.send_and_wait(topic, value, key=key, partition=partition)
            sent.append((meta.partition, meta.offset))
            if pace:
                await asyncio.sleep(pace)
        return sent
    finally:
        await producer.stop()


def plain(i: int) -> bytes:
    return orjson.dumps({"name": "server_down", "payload": {"host": f"db-{i}", "i": i}})


class Recorder:
    """An emit that records what it was handed, optionally blocking on some events
    or taking a while over each (so that messages are in flight at a rebalance)."""

    def __init__(self, block: Callable[[Event], bool] = lambda e: False, delay: float = 0) -> None:
        self.seen: list[Event] = []
        self.handled: list[Event] = []
        self.block = block
        self.delay = delay
        self.release = asyncio.Event()

    async def __call__(self, event: Event) -> None:
        self.seen.append(event)
        if self.block(event):
            await self.release.wait()
        if self.delay:
            await asyncio.sleep(self.delay)
        self.handled.append(event)


@asynccontextmanager
async def running(
    source: KafkaSource, emit: Callable[[Event], Awaitable[None]]
) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(source.run(emit))
    try:
        await async_eventually(
            lambda: source.ready.is_set() or task.done(), message="the source joined its group"
        )
        assert not task.done(), task
        yield task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def source(kafka: Any, topic: str, group: str, **kw: Any) -> KafkaSource:
    kw.setdefault("commit_interval", 0.2)
    kw.setdefault("stop_wait", 0.5)
    kw.setdefault("heartbeat_interval_ms", 300)  # a rebalance is noticed at the next heartbeat
    return KafkaSource(config(kafka.bootstrap, topic, group), registry=CollectorRegistry(), **kw)


def committed(src: KafkaSource, topic: str, partition: int) -> float | None:
    return src.metrics.registry.get_sample_value(
        "kubeops_bus_committed_offset", {"topic": topic, "partition": str(partition)}
    )


async def test_messages_from_any_producer_arrive_as_events_in_partition_order(
    kafka: Any, kafka_topic: str
) -> None:
    moment = datetime.datetime(2026, 12, 5, 9, 0, tzinfo=datetime.UTC)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "prod"}}
    ours = Event("added", ev.RESOURCE, moment, object=pod, identity="uid-1/42")
    foreign = {
        "specversion": "1.0",
        "id": "a-1",
        "source": "//monitoring",
        "type": "com.example.disk_full",
        "data": {"host": "db-2"},
    }
    values = [plain(i) for i in range(30)]
    values += [orjson.dumps(foreign), to_cloudevent(ours, "prod-eu")]
    sent = await produce(kafka.bootstrap, kafka_topic, values)
    assert len({p for p, _ in sent}) > 1  # the order test needs several partitions

    emit = Recorder()
    src = source(kafka, kafka_topic, f"g-{uuid.uuid4().hex[:8]}")
    async with running(src, emit):
        await async_eventually(lambda: len(emit.handled) >= len(values), message="all handled")

    by_offset = {(e.origin["partition"], e.origin["offset"]): e for e in emit.seen}
    assert set(by_offset) == set(sent)
    assert len(emit.seen) == len(values)
    order: dict[int, list[int]] = collections.defaultdict(list)
    for e in emit.seen:
        order[e.origin["partition"]].append(e.origin["offset"])
    assert all(offsets == sorted(offsets) for offsets in order.values()), order

    first = by_offset[sent[0]]
    assert (first.source, first.name, dict(first.payload)) == (
        ev.KAFKA,
        "server_down",
        {"host": "db-0", "i": 0},
    )
    assert first.origin == {
        "topic": kafka_topic,
        "partition": sent[0][0],
        "offset": sent[0][1],
        "key": "k0",
    }
    disk = by_offset[sent[30]]
    assert (disk.source, disk.name, dict(disk.payload)) == (
        ev.KAFKA,
        "com.example.disk_full",
        {"host": "db-2"},
    )
    back = by_offset[sent[31]]
    assert (back.source, back.name, back.identity, back.object) == (
        ev.RESOURCE,
        "added",
        "uid-1/42",
        pod,
    )
    assert back.time == moment
    consumed = src.metrics.registry.get_sample_value(
        "kubeops_bus_consumed_total", {"topic": kafka_topic}
    )
    assert consumed == len(values)
    assert key_of(ours, "prod-eu") == b"prod-eu/prod/Pod/web"


async def test_an_offset_is_committed_only_after_emit_returns(kafka: Any, kafka_topic: str) -> None:
    group = f"g-{uuid.uuid4().hex[:8]}"
    await produce(kafka.bootstrap, kafka_topic, [plain(0), plain(1), plain(2)], partition=0)
    blocked = Recorder(block=lambda e: e.payload["i"] == 1)
    first = source(kafka, kafka_topic, group)
    async with running(first, blocked):
        await async_eventually(
            lambda: [e.payload["i"] for e in blocked.handled] == [0, 2],
            message="0 and 2 handled while 1 hangs",
        )
        # 2 is done, but 1 is not: the partition commits past 0 only.
        await async_eventually(lambda: committed(first, kafka_topic, 0) == 1)
    assert committed(first, kafka_topic, 0) == 1  # stopping did not commit more

    again = Recorder()
    second = source(kafka, kafka_topic, group)
    async with running(second, again):
        await async_eventually(lambda: len(again.handled) == 2, message="1 and 2 read again")
        await async_eventually(lambda: committed(second, kafka_topic, 0) == 3)
    assert [e.payload["i"] for e in again.handled] == [1, 2]


async def test_a_message_the_daemon_cannot_take_is_retried_and_not_committed_meanwhile(
    kafka: Any, kafka_topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    await produce(kafka.bootstrap, kafka_topic, [plain(0), plain(1), plain(2)], partition=0)
    failures: list[float | None] = []
    handled: list[int] = []

    async def emit(event: Event) -> None:
        if event.payload["i"] == 1 and len(failures) < 2:
            failures.append(committed(src, kafka_topic, 0))
            raise RuntimeError("no engine to handle a consumed event")
        handled.append(event.payload["i"])

    src = source(kafka, kafka_topic, f"g-{uuid.uuid4().hex[:8]}")
    with caplog.at_level(logging.WARNING, logger="kubeops.bus.consumer"):
        async with running(src, emit):
            await async_eventually(lambda: committed(src, kafka_topic, 0) == 3)
    assert handled == [0, 2, 1]
    assert failures[1] == 1  # while 1 failed, nothing past 0 was committed
    [line] = [r.getMessage() for r in caplog.records if "handing over" in r.getMessage()]
    assert line == (
        f"bus: handing over the message at topic {kafka_topic} partition 0 offset 1 failed: "
        "RuntimeError: no engine to handle a consumed event; retrying"
    )


async def test_group_members_share_partitions_and_hand_them_over_losing_nothing(
    kafka: Any, kafka_topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    group = f"g-{uuid.uuid4().hex[:8]}"
    stuck: list[Event] = []

    def stuck_once(event: Event) -> bool:
        """a hangs on message 5 the first time it sees it (still running at the rebalance)."""
        if event.payload["i"] == 5 and not stuck:
            stuck.append(event)
            return True
        return False

    a_seen, b_seen = Recorder(stuck_once, delay=0.02), Recorder(delay=0.02)
    a = source(kafka, kafka_topic, group, revoke_wait=0.5)
    b = source(kafka, kafka_topic, group)
    produced: list[Sent] = []

    async def keep_producing(start: int, count: int) -> None:
        values = [plain(i) for i in range(start, start + count)]
        await produce(kafka.bootstrap, kafka_topic, values, pace=0.005, into=produced)

    def handled() -> set[Sent]:
        both = a_seen.handled + b_seen.handled
        return {(e.origin["partition"], e.origin["offset"]) for e in both}

    caplog.set_level(logging.INFO, logger="kubeops.bus.consumer")
    async with running(a, a_seen):
        await keep_producing(0, 30)
        await async_eventually(lambda: len(a_seen.handled) == 29, message="a handled all but 5")
        # b joins: a's partitions are revoked while 5 hangs; a commits what it finished
        # and gives 5 up, to be read again by the partition's next owner.
        async with running(b, b_seen):
            await async_eventually(
                lambda: (
                    a.partitions() and b.partitions() and len(a.partitions() + b.partitions()) == 3
                ),
                message="the two members split the 3 partitions",
            )
            assert not set(a.partitions()) & set(b.partitions())
            await keep_producing(30, 30)
            await async_eventually(lambda: handled() >= set(produced), message="all 60 handled")
            assert b_seen.handled
            # Stop b mid-stream: a takes every partition over.
            more = asyncio.create_task(keep_producing(60, 120))
            await async_eventually(lambda: len(produced) >= 90, message="more produced")
        await more
        await async_eventually(lambda: len(a.partitions()) == 3, message="a owns all partitions")
        await async_eventually(lambda: handled() >= set(produced), message="every message handled")
    assert len(produced) == 180
    every = a_seen.handled + b_seen.handled
    assert {e.payload["i"] for e in every} == set(range(180))
    assert {e.identity for e in every} == {
        identity_of(kafka_topic, partition, offset) for partition, offset in produced
    }
    # 5's first reading never returned: it counts as handled only by its next reading.
    assert stuck
    assert not a_seen.release.is_set()
    [given_up] = [r.getMessage() for r in caplog.records if "still being handled" in r.getMessage()]
    assert given_up.startswith(f"bus: group '{group}': 1 message(s) still being handled after 0.5s")


async def test_a_message_that_is_no_event_is_skipped_and_committed_past(
    kafka: Any, kafka_topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    await produce(kafka.bootstrap, kafka_topic, [b"{not json", b"[1]", plain(7)], partition=2)
    emit = Recorder()
    src = source(kafka, kafka_topic, f"g-{uuid.uuid4().hex[:8]}")
    with caplog.at_level(logging.WARNING, logger="kubeops.bus.consumer"):
        async with running(src, emit):
            await async_eventually(lambda: committed(src, kafka_topic, 2) == 3)
    assert [e.payload for e in emit.handled] == [{"host": "db-7", "i": 7}]
    errors = src.metrics.registry.get_sample_value(
        "kubeops_bus_decode_errors_total", {"topic": kafka_topic}
    )
    assert errors == 2
    lines = [r.getMessage() for r in caplog.records if "no event" in r.getMessage()]
    assert len(lines) == 2
    assert lines[0].startswith(
        f"bus: skipped a message that is no event: topic {kafka_topic} partition 2 offset 0: not JSON"
    )


async def test_a_member_without_partitions_is_ready_too(kafka: Any) -> None:
    topic = await asyncio.to_thread(kafka.create_topic, f"one.{uuid.uuid4().hex[:6]}", 1)
    group = f"g-{uuid.uuid4().hex[:8]}"
    first, second = source(kafka, topic, group), source(kafka, topic, group)
    async with running(first, Recorder()), running(second, Recorder()):
        await async_eventually(
            lambda: len(first.partitions() + second.partitions()) == 1,
            message="one member reads the one partition",
        )
        assert first.ready.is_set()
        assert second.ready.is_set()
