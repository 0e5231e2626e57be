"""KafkaSource when the brokers are away: it keeps trying, says so once per change of
state (not once per attempt), and consumes again when they are back."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from kubeops.bus import kafka
from kubeops.bus.consumer import KafkaSource
from kubeops.testenv import async_eventually
from kubeops.testenv.ports import free_port

from .test_consume import Recorder, committed, config, plain, produce, running, source

pytestmark = pytest.mark.asyncio

LOGGER = "kubeops.bus.consumer"


def lines(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and text in r.getMessage()]


async def test_no_broker_at_start_is_said_once_while_it_keeps_trying(
    caplog: pytest.LogCaptureFixture,
) -> None:
    nowhere = f"127.0.0.1:{free_port()}"
    settings = config(nowhere, "t", "g")
    attempts: list[Any] = []

    def connect() -> Any:
        attempts.append(kafka.consumer(settings, (), "g", enable_auto_commit=False))
        return attempts[-1]

    src = KafkaSource(settings, registry=CollectorRegistry(), connect=connect)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        task = asyncio.create_task(src.run(Recorder()))
        await async_eventually(lambda: len(attempts) >= 3, message="three attempts")
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    [line] = lines(caplog, "failed")
    assert line.startswith("bus: joining consumer group 'g' failed: bus.brokers:")
    assert nowhere in line
    assert line.endswith("; retrying")
    assert not src.ready.is_set()


async def test_an_outage_is_said_once_and_consuming_resumes(
    kafka_broker: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    broker = await asyncio.to_thread(kafka_broker)
    topic = await asyncio.to_thread(broker.create_topic, f"outage.{uuid.uuid4().hex[:6]}")
    emit = Recorder()
    src = source(broker, topic, "g-outage", probe_interval=0.3)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        async with running(src, emit):
            [(partition, _)] = await produce(broker.bootstrap, topic, [plain(0)], partition=1)
            await async_eventually(lambda: committed(src, topic, partition) == 1)
            await asyncio.to_thread(broker.kill)
            await async_eventually(lambda: lines(caplog, "failed"), message="the outage said")
            await asyncio.to_thread(broker.start)
            await async_eventually(lambda: lines(caplog, "works again"), message="the end said")
            await produce(broker.bootstrap, topic, [plain(1), plain(2)], partition=1)
            await async_eventually(lambda: committed(src, topic, partition) == 3)
    # (A rebalance as the broker comes back may hand 1 and 2 over again: at least once.)
    assert list(dict.fromkeys(e.payload["i"] for e in emit.handled)) == [0, 1, 2]
    [failed] = lines(caplog, "failed")
    assert failed.startswith("bus: reaching the brokers failed: ")
    assert len(lines(caplog, "works again")) == 1
