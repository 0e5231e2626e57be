"""What the publisher does before any broker is involved: it publishes only what it
should, and a full spool refuses events, counts them and says so once a minute."""

from __future__ import annotations

import datetime
import logging
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from kubeops.bus.config import BusConfig, PublishSettings
from kubeops.bus.publisher import Publisher
from kubeops.respond.event import Event

T = datetime.datetime(2026, 12, 5, tzinfo=datetime.UTC)


def publisher(tmp_path: Path, max_bytes: int = 1 << 20, sources: tuple[str, ...] = ()) -> Publisher:
    settings = PublishSettings(
        topic="t", cluster="c", sources=sources, spool_dir=str(tmp_path), spool_max_bytes=max_bytes
    )
    return Publisher(
        BusConfig(brokers=("127.0.0.1:1",), publish=settings), registry=CollectorRegistry()
    )


def test_only_the_listed_sources_and_never_what_came_from_the_bus(tmp_path: Path) -> None:
    p = publisher(tmp_path, sources=("resource",))
    assert p.publish(Event("added", "resource", T, identity="1"))
    assert not p.publish(Event("CrashLoop", "derived", T, identity="2"))
    assert not p.publish(Event("added", "resource", T, identity="3", origin={"topic": "t"}))
    assert not p.publish(Event("server_down", "kafka", T, identity="4"))
    assert len(p.spool) == 1
    assert p.metrics.value("kubeops_bus_spool_events") == 1
    assert p.metrics.value("kubeops_bus_spool_bytes") == p.spool.size > 0


def test_a_full_spool_refuses_counts_and_warns_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="kubeops.bus")
    p = publisher(tmp_path, max_bytes=20_000)
    big = {"blob": "x" * 1000}
    results = [p.publish(Event("tick", "http", T, big, identity=str(i))) for i in range(100)]
    accepted = sum(results)
    assert 0 < accepted < 100
    assert not any(results[accepted:])  # once full, full
    assert p.metrics.value("kubeops_bus_dropped_total") == 100 - accepted
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1
    assert warnings[0].startswith("bus: spool full (")
