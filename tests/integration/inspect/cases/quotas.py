"""Quota cases: the status a quota controller would write, set by hand."""

from __future__ import annotations

from typing import Any

from ..harness import Case


def quota(name: str, hard: dict[str, str], used: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": name},
        "spec": {"hard": hard},
        "status": {"hard": hard, "used": used},
    }


CASES = [
    Case(
        "quota-near-limit",
        bad=[
            # pods at 100% (error), requests.cpu at 95% (warning), memory well below.
            quota(
                "full",
                {"pods": "10", "requests.cpu": "2", "requests.memory": "4Gi"},
                {"pods": "10", "requests.cpu": "1900m", "requests.memory": "1Gi"},
            ),
            quota("memory", {"limits.memory": "1Gi"}, {"limits.memory": "1000Mi"}),
        ],
        good=[
            quota(
                "roomy",
                {"pods": "10", "requests.cpu": "2", "services.loadbalancers": "0"},
                {"pods": "5", "requests.cpu": "500m", "services.loadbalancers": "0"},
            ),
        ],
        expect=["ResourceQuota/full", "ResourceQuota/memory"],
    ),
]
