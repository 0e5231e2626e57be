"""Event cases: core/v1 Events written as the kubelet would, about Pods that need not exist."""

from __future__ import annotations

import datetime
from typing import Any

from ..harness import Case

CHECK = "event-warnings-piling-up"
NOW = datetime.datetime.now(datetime.UTC)


def stamp(minutes_ago: float) -> str:
    return (NOW - datetime.timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def event(
    name: str,
    namespace: str,
    pod: str,
    reason: str,
    count: int,
    *,
    type: str = "Warning",
    minutes_ago: float = 1,
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name},
        "involvedObject": {"apiVersion": "v1", "kind": "Pod", "namespace": namespace, "name": pod},
        "reason": reason,
        "message": f"{reason} for the test",
        "type": type,
        "count": count,
        "firstTimestamp": stamp(minutes_ago + 30),
        "lastTimestamp": stamp(minutes_ago),
        "source": {"component": "kubelet", "host": "node-1"},
    }


BAD = f"{CHECK}-bad"
GOOD = f"{CHECK}-good"

CASES = [
    Case(
        CHECK,
        bad=[
            # 8 + 4 Warning events on one Pod in the last hour: over 10.
            event("crashloop.1", BAD, "crashloop", "BackOff", 8),
            event("crashloop.2", BAD, "crashloop", "Unhealthy", 4, minutes_ago=10),
        ],
        good=[
            event("flaky.1", GOOD, "flaky", "Unhealthy", 3),
            # Many, but hours ago.
            event("recovered.1", GOOD, "recovered", "BackOff", 50, minutes_ago=180),
            # Many, but Normal.
            event("busy.1", GOOD, "busy", "Pulled", 100, type="Normal"),
        ],
        expect=["Pod/crashloop"],
    ),
]
