"""testenv's Kafka is a real broker: a message goes round trip through it, and a
graceful stop or a SIGKILL followed by a start keeps its topics, messages and the
offsets a consumer group committed -- the outages the event bus's tests rely on."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from kubeops.testenv import AssetsError, PortInUse
from kubeops.testenv.kafka import Kafka
from kubeops.testenv.kafka_probe import metadata_brokers
from kubeops.testenv.ports import HOST


async def produce(bootstrap: str, topic: str, *values: bytes, key: bytes = b"k") -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def consume(
    bootstrap: str, topic: str, group: str, count: int, *, commit: bool = False
) -> list[bytes]:
    """The next ``count`` values the group reads (earliest when it has no offset yet)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=1,
    )
    await consumer.start()
    try:
        values = [(await consumer.getone()).value for _ in range(count)]
        if commit:
            await consumer.commit()
        return values
    finally:
        await consumer.stop()


async def committed(bootstrap: str, topic: str, group: str) -> int | None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        offset: int | None = await consumer.committed(TopicPartition(topic, 0))
        return offset
    finally:
        await consumer.stop()


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def test_a_message_goes_round_trip(kafka: Kafka, kafka_topic: str) -> None:
    assert kafka.bootstrap.startswith(f"{HOST}:")
    assert metadata_brokers(HOST, kafka.port) == [1]
    await produce(kafka.bootstrap, kafka_topic, b"hello", key=b"pod/default/web")
    assert await consume(kafka.bootstrap, kafka_topic, "round-trip", 1) == [b"hello"]


async def test_a_graceful_stop_and_start_keep_topics_and_committed_offsets(
    kafka_broker: Callable[..., Kafka],
) -> None:
    broker = kafka_broker()
    broker.create_topic("orders", partitions=1)
    await produce(broker.bootstrap, "orders", b"m0", b"m1", b"m2")
    assert await consume(broker.bootstrap, "orders", "g", 1, commit=True) == [b"m0"]
    (pid,) = broker.pids()

    broker.stop()
    assert broker.pids() == []
    assert gone(pid)
    assert not broker.answers()
    broker.start()

    assert broker.running()
    assert await committed(broker.bootstrap, "orders", "g") == 1
    assert await consume(broker.bootstrap, "orders", "g", 2) == [b"m1", b"m2"]


async def test_a_killed_broker_starts_again_with_what_it_acknowledged(
    kafka_broker: Callable[..., Kafka],
) -> None:
    broker = kafka_broker()
    broker.create_topic("events", partitions=1)
    await produce(broker.bootstrap, "events", b"before", b"crash")
    assert await consume(broker.bootstrap, "events", "g", 1, commit=True) == [b"before"]
    (pid,) = broker.pids()

    broker.kill()
    assert gone(pid)
    broker.start()

    assert await consume(broker.bootstrap, "events", "g", 1) == [b"crash"]
    await produce(broker.bootstrap, "events", b"after")
    assert await consume(broker.bootstrap, "events", "fresh", 3) == [b"before", b"crash", b"after"]


def test_a_taken_port_moves_a_new_broker_but_refuses_a_restart() -> None:
    broker = Kafka()
    try:
        with socket.socket() as squatter:
            squatter.bind((HOST, broker.port))
            squatter.listen()
            taken = broker.port
            broker.start()  # never ran: no client knows its address yet, so it moves
            assert broker.port != taken
            assert broker.answers()
        broker.stop()
        with socket.socket() as squatter:
            squatter.bind((HOST, broker.port))
            squatter.listen()
            with pytest.raises(PortInUse, match=f"port {HOST}:{broker.port} is already in use"):
                broker.start()
    finally:
        broker.close()


def test_without_java_the_start_says_so_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    broker = Kafka(tmp_path, tmp_path / "run")
    with pytest.raises(AssetsError, match="found no `java` on PATH") as caught:
        broker.start()
    assert "\n" not in str(caught.value)
    assert broker.pids() == []


def test_jars_that_are_not_kafka_are_refused_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBEOPS_KAFKA_LIBS", str(tmp_path))
    with pytest.raises(AssetsError, match=r"KUBEOPS_KAFKA_LIBS=.* holds no kafka_2\.13") as caught:
        Kafka(run_dir=tmp_path / "run").start()
    assert "\n" not in str(caught.value)
