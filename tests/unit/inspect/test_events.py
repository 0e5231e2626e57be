"""The events check: counting, timestamps, the window and the involved object."""

from __future__ import annotations

import datetime
from typing import Any

from kubeops.inspect.checks.events import event_count, last_seen
from kubeops.inspect.config import InspectConfig, parse_inspect_config
from kubeops.inspect.runner import run_checks
from kubeops.inspect.snapshot import Snapshot

Object = dict[str, Any]
NOW = datetime.datetime(2025, 6, 1, 12, 0, tzinfo=datetime.UTC)
CHECK = "event-warnings-piling-up"


def ago(minutes: float) -> str:
    return (NOW - datetime.timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def event(
    involved: Object,
    reason: str = "BackOff",
    count: int | None = 1,
    minutes: float = 1,
    type: str = "Warning",
    **extra: Any,
) -> Object:
    found: Object = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"e-{reason}", "namespace": involved.get("namespace") or "default"},
        "involvedObject": involved,
        "reason": reason,
        "message": f"{reason} happened",
        "type": type,
        "lastTimestamp": ago(minutes),
        **extra,
    }
    if count is not None:
        found["count"] = count
    return found


POD = {"apiVersion": "v1", "kind": "Pod", "namespace": "ns", "name": "web-1"}
NODE = {"apiVersion": "v1", "kind": "Node", "name": "node-1"}


def test_event_count_prefers_the_series() -> None:
    assert event_count({"count": 4, "series": {"count": 9}}) == 9
    assert event_count({"count": 4}) == 4
    assert event_count({"count": 0}) == 1
    assert event_count({}) == 1


def test_last_seen_prefers_the_most_precise_timestamp() -> None:
    assert last_seen(
        {
            "series": {"lastObservedTime": "2025-06-01T11:00:00.000000Z"},
            "lastTimestamp": "2025-01-01T00:00:00Z",
        }
    ) == datetime.datetime(2025, 6, 1, 11, tzinfo=datetime.UTC)
    assert (
        last_seen({"lastTimestamp": None, "eventTime": "2025-06-01T10:00:00.123456Z"}) is not None
    )
    assert last_seen({"metadata": {"creationTimestamp": "2025-06-01T09:00:00Z"}}) is not None
    assert last_seen({}) is None


def findings(
    *events: Object, config: InspectConfig | None = None
) -> list[tuple[str, str, str | None, str]]:
    snapshot = Snapshot.from_objects(events)
    snapshot.static = False
    result = run_checks(snapshot, config or InspectConfig(), now=NOW)
    assert CHECK in result.checks_run, result.not_run
    return [
        (f.object.kind, f.object.name, f.object.namespace, f.message)
        for f in result.findings
        if f.check == CHECK
    ]


def test_warnings_are_summed_per_involved_object_within_the_window() -> None:
    found = findings(
        event(POD, "BackOff", 6),
        event(POD, "Unhealthy", 3, minutes=30, series={"count": 4, "lastObservedTime": ago(2)}),
        event(POD, "Old", 100, minutes=120),
        event(POD, "Pulled", 100, type="Normal"),
        event({**POD, "name": "web-2"}, "BackOff", 9),
        event(NODE, "NodeNotReady", 10),
    )
    assert sorted(found, key=str) == [
        (
            "Node",
            "node-1",
            None,
            "10 Warning events in the last 60 minutes (threshold 10): NodeNotReady (10);"
            ' latest: "NodeNotReady happened"',
        ),
        (
            "Pod",
            "web-1",
            "ns",
            "10 Warning events in the last 60 minutes (threshold 10): BackOff (6), Unhealthy (4);"
            ' latest: "BackOff happened"',
        ),
    ]


def test_thresholds_change_the_count_and_window() -> None:
    config = parse_inspect_config({"checks": {CHECK: {"thresholds": {"count": 3, "minutes": 180}}}})
    assert [f[1] for f in findings(event(POD, "Old", 5, minutes=150), config=config)] == ["web-1"]
    assert findings(event(POD, "Old", 5, minutes=150)) == []


def test_events_without_timestamps_or_involved_object_do_not_break_the_check() -> None:
    bare = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "x", "namespace": "ns"},
        "type": "Warning",
    }
    assert findings(bare) == []
