"""SASL against a real broker: the right password publishes, a wrong one is one line
naming the setting at start, and with every logger at DEBUG the password appears in no
log line and no error."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from kubeops.bus.config import (
    BusConfig,
    BusConfigError,
    Credential,
    PublishSettings,
    SaslSettings,
    resolve_credentials,
)
from kubeops.bus.publisher import Publisher
from kubeops.respond.event import Event, now
from kubeops.testenv.kafka import Kafka

PASSWORD = "kubeops-pw-7f3a9c"  # the test broker's own
WRONG = "wrong-pw-41d2e8"


@pytest.fixture
def sasl_bootstrap() -> Iterator[str]:
    """A broker of the test's own with a second listener taking SASL/PLAIN (user
    ``kubeops``); its address."""
    broker = Kafka()
    address = broker.add_sasl_plain("kubeops", PASSWORD)
    try:
        broker.start()
        yield address
    finally:
        broker.close()


def config(bootstrap: str, password_file: Path, spool: Path) -> BusConfig:
    return BusConfig(
        brokers=(bootstrap,),
        publish=PublishSettings(topic="sasl", cluster="c", spool_dir=str(spool)),
        sasl=SaslSettings("PLAIN", "kubeops", Credential(file=str(password_file))),
    )


@pytest.mark.asyncio
async def test_sasl_publishes_refuses_a_wrong_password_and_logs_neither(
    sasl_bootstrap: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, the client library's included
    (tmp_path / "good").write_text(PASSWORD + "\n")
    (tmp_path / "bad").write_text(WRONG + "\n")

    good = config(sasl_bootstrap, tmp_path / "good", tmp_path / "spool-good")
    publisher = Publisher(good, await resolve_credentials(good), CollectorRegistry())
    await publisher.start()
    assert publisher.publish(Event("ping", "http", now(), {"n": 1}, identity="p1"))
    assert await publisher.flush(30)
    assert publisher.metrics.value("kubeops_bus_published_total") == 1
    await publisher.close()

    bad = config(sasl_bootstrap, tmp_path / "bad", tmp_path / "spool-bad")
    credentials = await resolve_credentials(bad)
    refused = Publisher(bad, credentials, CollectorRegistry())
    with pytest.raises(BusConfigError) as caught:
        await asyncio.wait_for(refused.start(), 60)
    await refused.close()
    message = str(caught.value)
    assert message.startswith(f"bus.sasl: publishing to sasl: {sasl_bootstrap} refused 'kubeops': ")
    assert "\n" not in message

    texts = [message, repr(credentials), repr(bad)]
    texts += [record.getMessage() for record in caplog.records]
    texts += [str(record.exc_info[1]) for record in caplog.records if record.exc_info]
    assert len(caplog.records) > 10  # DEBUG really was on
    for text in texts:
        assert PASSWORD not in text
        assert WRONG not in text
