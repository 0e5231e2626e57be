"""The leader's watermark on a real API server never passes an event still spooled
for an absent broker: a successor's sources start before it and see it again."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from kubeops.api import Client
from kubeops.bus.config import BusConfig, PublishSettings
from kubeops.bus.publisher import Publisher
from kubeops.respond import daemon as daemon_module
from kubeops.respond.daemon import Daemon, RunOptions
from kubeops.respond.event import Event, identity_of
from kubeops.respond.ledger import Ledger
from kubeops.respond.limits import Limits
from kubeops.respond.rules import load_rules
from kubeops.testenv import async_eventually
from kubeops.testenv.ports import free_port


async def test_the_watermark_waits_for_what_the_spool_holds(
    client: Client, kube_namespace: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(daemon_module, "WATERMARK_EVERY", 0.1)
    (tmp_path / "rules.yaml").write_text(
        "rules:\n  - name: r\n    trigger: {source: http, names: [x]}\n"
        "    actions: [{notify: {webhook: {url: 'http://127.0.0.1:9/x'}}}]\n"
        f"limits: {{namespace: {kube_namespace}}}\n"
    )
    ruleset = load_rules([tmp_path / "rules.yaml"])
    leader = Daemon(RunOptions(rules=(str(tmp_path),)), ruleset, client, port=None)  # type: ignore[arg-type]
    bus = BusConfig(
        brokers=(f"127.0.0.1:{free_port()}",),  # nobody there: events stay spooled
        publish=PublishSettings(topic="t", cluster="c", spool_dir=str(tmp_path / "spool")),
    )
    leader.publisher = Publisher(bus, registry=CollectorRegistry())
    before = time.time()
    assert leader.publisher.publish(
        Event("x", "resource", datetime.datetime.now(datetime.UTC), identity=identity_of(1))
    )
    ledger = Ledger(client, kube_namespace, "leader")
    task = asyncio.create_task(leader._watermarks(ledger, Limits()))
    try:
        # Written every 0.1 s, and held at the spooled event's time however long it waits.
        async def written_twice() -> datetime.datetime:
            mark = await ledger.watermark(leader.name)
            assert mark is not None
            assert time.time() - before > 0.5
            return mark

        mark = await async_eventually(written_twice, timeout=10, interval=0.1)
        assert mark.timestamp() <= leader.publisher.spool.oldest() + 1e-6
        assert mark.timestamp() >= before - 1
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        leader.publisher.spool.close()
