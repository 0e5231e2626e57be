"""Usage percentages from metrics and objects, the Deployment of a Pod, and usage
trigger validation and matching."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from kubeops.respond.event import USAGE, Event
from kubeops.respond.model import Trigger
from kubeops.respond.sources.usage import (
    deployment_of,
    matches,
    meters,
    node_percent,
    pod_percent,
    validate,
)


def pod(**requests: dict[str, str]) -> dict[str, Any]:
    return {
        "kind": "Pod",
        "metadata": {"name": "web-7d9f-abcde", "namespace": "prod", "labels": {"app": "web"}},
        "spec": {
            "containers": [
                {"name": name, "resources": {"requests": wanted}}
                for name, wanted in requests.items()
            ]
        },
    }


def pod_metrics(**usage: dict[str, str]) -> dict[str, Any]:
    return {
        "timestamp": "2026-03-02T10:00:00Z",
        "containers": [{"name": name, "usage": used} for name, used in usage.items()],
    }


def test_a_pods_percent_is_of_its_requests_over_the_containers_that_have_one() -> None:
    spec = pod(app={"cpu": "500m", "memory": "256Mi"}, sidecar={"memory": "64Mi"})
    used = pod_metrics(
        app={"cpu": "475m", "memory": "128Mi"}, sidecar={"cpu": "1", "memory": "64Mi"}
    )
    assert pod_percent(spec, used, "cpu") == pytest.approx(95.0)
    assert pod_percent(spec, used, "memory") == pytest.approx(60.0)
    assert pod_percent(pod(app={}), used, "cpu") is None


def test_a_nodes_percent_is_of_its_allocatable() -> None:
    node = {"status": {"allocatable": {"cpu": "4", "memory": "8Gi"}, "capacity": {"cpu": "8"}}}
    used = {"usage": {"cpu": "3600m", "memory": "2Gi"}}
    assert node_percent(node, used, "cpu") == pytest.approx(90.0)
    assert node_percent(node, used, "memory") == pytest.approx(25.0)
    assert node_percent({"status": {}}, used, "cpu") is None


def test_a_pod_belongs_to_the_deployment_its_replica_set_names() -> None:
    owned = pod(app={})
    owned["metadata"]["labels"]["pod-template-hash"] = "7d9f"
    owned["metadata"]["ownerReferences"] = [
        {"kind": "ReplicaSet", "name": "web-7d9f", "controller": True}
    ]
    assert deployment_of(owned) == "web"
    assert deployment_of(pod(app={})) is None


def test_validation_names_each_field() -> None:
    good = Trigger(USAGE, kind="Pod", params={"resource": "cpu", "above": 90, "for": "1m"})
    assert validate(good) == []
    assert validate(
        Trigger(
            USAGE,
            names=("UsageLow",),
            kind="Service",
            params={"resource": "disk", "above": -1, "for": "1 minute", "x": 1},
        )
    ) == [
        "names: unknown event 'UsageLow' for source 'usage' (one of UsageHigh)",
        "kind: must be Pod, Node or Deployment, not 'Service'",
        "params.x: unknown for a usage trigger (one of resource, above, for)",
        "params.resource: must be cpu or memory, not 'disk'",
        "params.above: must be at least 0, not -1",
        "params.for: must be a duration like 5m, not '1 minute'",
    ]
    assert "params.above: is required" in validate(
        Trigger(USAGE, kind="Node", params={"resource": "cpu"})
    )


def test_a_trigger_matches_its_own_meter_and_scope() -> None:
    trigger = Trigger(
        USAGE,
        kind="Pod",
        namespaces=("prod",),
        params={"resource": "cpu", "above": 90, "for": "1m"},
    )
    payload = {**meters(trigger).params(), "percent": 95.0, "samples": 5}
    event = Event(
        "UsageHigh", USAGE, datetime.datetime.now(datetime.UTC), payload=payload, object=pod()
    )
    assert matches(trigger, event)
    other = Trigger(USAGE, kind="Pod", params={"resource": "cpu", "above": 80, "for": "1m"})
    assert not matches(other, event)
    elsewhere = Trigger(
        USAGE, kind="Pod", namespaces=("dev",), params={"resource": "cpu", "above": 90, "for": 60}
    )
    assert not matches(elsewhere, event)
