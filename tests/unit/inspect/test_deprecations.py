"""The deprecation checks: the removal table, manifests, last-applied records and
the API server's deprecated-request metric."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kubeops.inspect.checks.deprecations import LAST_APPLIED, REMOVED, minor, removal
from kubeops.inspect.config import InspectConfig
from kubeops.inspect.model import Severity
from kubeops.inspect.runner import run_checks
from kubeops.inspect.snapshot import Snapshot, parse_deprecated_metric

Object = dict[str, Any]


@pytest.mark.parametrize(
    ("api_version", "kind", "release", "replacement"),
    [
        ("extensions/v1beta1", "Deployment", "1.16", "apps/v1"),
        ("extensions/v1beta1", "Ingress", "1.22", "networking.k8s.io/v1"),
        ("apps/v1beta2", "StatefulSet", "1.16", "apps/v1"),
        ("policy/v1beta1", "PodDisruptionBudget", "1.25", "policy/v1"),
        ("policy/v1beta1", "PodSecurityPolicy", "1.25", ""),
        ("batch/v1beta1", "CronJob", "1.25", "batch/v1"),
        ("autoscaling/v2beta1", "HorizontalPodAutoscaler", "1.25", "autoscaling/v2"),
        ("autoscaling/v2beta2", "HorizontalPodAutoscaler", "1.26", "autoscaling/v2"),
        ("networking.k8s.io/v1beta1", "IngressClass", "1.22", "networking.k8s.io/v1"),
        (
            "flowcontrol.apiserver.k8s.io/v1beta3",
            "FlowSchema",
            "1.32",
            "flowcontrol.apiserver.k8s.io/v1",
        ),
        ("storage.k8s.io/v1beta1", "CSIStorageCapacity", "1.27", "storage.k8s.io/v1"),
    ],
)
def test_removal_table(api_version: str, kind: str, release: str, replacement: str) -> None:
    found = removal(api_version, kind)
    assert found is not None
    assert (found.release, found.replacement) == (release, replacement)


def test_current_versions_are_not_in_the_table() -> None:
    assert removal("apps/v1", "Deployment") is None
    assert removal("batch/v1beta1", "Job") is None  # only CronJob was ever served there
    assert all(minor(r.release) for r in REMOVED.values())
    assert all("beta" in api for api, _ in REMOVED)


def test_minor() -> None:
    assert minor("v1.25.3") == (1, 25)
    assert minor("1.9") == (1, 9)
    assert minor("v1.30.0-eks-abc") == (1, 30)
    assert minor("") is None


def manifest(api_version: str, kind: str, name: str, **meta: Any) -> Object:
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name, **meta}}


def hits(snapshot: Snapshot, check: str) -> list[tuple[str, Severity, str]]:
    result = run_checks(snapshot, InspectConfig())
    assert check in result.checks_run, result.not_run
    return [(f.object.name, f.severity, f.message) for f in result.findings if f.check == check]


def test_manifests_with_removed_versions_whatever_their_kind() -> None:
    snapshot = Snapshot.from_objects(
        [
            manifest("extensions/v1beta1", "Ingress", "web"),
            manifest("policy/v1beta1", "PodSecurityPolicy", "restricted"),
            manifest("flowcontrol.apiserver.k8s.io/v1beta2", "FlowSchema", "fs"),
            manifest("apps/v1", "Deployment", "fine"),
            manifest("example.com/v1beta1", "Widget", "custom"),
            {"kind": "NoVersion"},
        ]
    )
    assert sorted(hits(snapshot, "deprecated-api-version"), key=lambda h: h[2]) == [
        (
            "web",
            Severity.ERROR,
            "written as extensions/v1beta1 Ingress, removed in Kubernetes 1.22; use networking.k8s.io/v1 instead",
        ),
        (
            "fs",
            Severity.ERROR,
            "written as flowcontrol.apiserver.k8s.io/v1beta2 FlowSchema, removed in Kubernetes 1.29; use flowcontrol.apiserver.k8s.io/v1 instead",
        ),
        (
            "restricted",
            Severity.ERROR,
            "written as policy/v1beta1 PodSecurityPolicy, removed in Kubernetes 1.25; it has no replacement",
        ),
    ]


def live(*objects: Object, version: str = "v1.37.2") -> Snapshot:
    snapshot = Snapshot.from_objects(objects)
    snapshot.static = False
    snapshot.server_version = version
    return snapshot


def applied(api_version: str, name: str = "d", text: str | None = None) -> Object:
    record = (
        text if text is not None else json.dumps({"apiVersion": api_version, "kind": "CronJob"})
    )
    return manifest("batch/v1", "CronJob", name, namespace="ns", annotations={LAST_APPLIED: record})


def test_last_applied_record_on_live_objects() -> None:
    objects = [
        applied("batch/v1beta1", "old"),
        applied("batch/v1", "new"),
        applied("", "garbage", text="{not json v1beta1"),
        applied("", "list", text='["v1beta1"]'),
    ]
    assert hits(live(*objects), "deprecated-api-version") == [
        (
            "old",
            Severity.ERROR,
            "last applied (kubectl apply) as batch/v1beta1 CronJob, removed in Kubernetes 1.25; use batch/v1 instead",
        ),
    ]
    # On a cluster older than the removal it still works: a warning before the upgrade.
    assert [h[1] for h in hits(live(*objects, version="v1.24.9"), "deprecated-api-version")] == [
        Severity.WARNING
    ]


def requests(text: str, version: str = "v1.37.2") -> Snapshot:
    snapshot = Snapshot(cluster="c1", server_version=version)
    snapshot.data["deprecatedrequests"] = parse_deprecated_metric(text)
    return snapshot


METRIC = """# HELP apiserver_requested_deprecated_apis [STABLE] Gauge of deprecated APIs
# TYPE apiserver_requested_deprecated_apis gauge
apiserver_requested_deprecated_apis{group="example.com",removed_release="",resource="widgets",subresource="",version="v1beta1"} 1
apiserver_requested_deprecated_apis{group="flowcontrol.apiserver.k8s.io",removed_release="1.38",resource="flowschemas",subresource="status",version="v1beta9"} 1
apiserver_requested_deprecated_apis{group="",removed_release="1.40",resource="componentstatuses",subresource="",version="v1"} 1
"""


def test_deprecated_requests_severity_follows_the_removal_release() -> None:
    assert sorted(hits(requests(METRIC), "deprecated-api-requests"), key=lambda h: h[2]) == [
        (
            "componentstatuses.v1",
            Severity.WARNING,
            "clients requested componentstatuses.v1, which is deprecated and removed in Kubernetes 1.40",
        ),
        (
            "flowschemas/status.flowcontrol.apiserver.k8s.io/v1beta9",
            Severity.ERROR,
            "clients requested flowschemas/status.flowcontrol.apiserver.k8s.io/v1beta9, which is deprecated and removed in Kubernetes 1.38",
        ),
        (
            "widgets.example.com/v1beta1",
            Severity.WARNING,
            "clients requested widgets.example.com/v1beta1, which is deprecated (no removal planned yet)",
        ),
    ]


def test_deprecated_requests_is_not_run_when_the_metrics_are_forbidden() -> None:
    snapshot = Snapshot(cluster="c1")
    snapshot.missing["deprecatedrequests"] = "forbidden to list deprecatedrequests: /metrics"
    result = run_checks(snapshot, InspectConfig())
    assert "deprecated-api-requests" in {n.check for n in result.not_run}
