"""The pods checks' edge cases on in-memory snapshots (live ones for status, manifests for specs)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from kubeops.inspect.catalog import catalog
from kubeops.inspect.config import InspectConfig, parse_inspect_config
from kubeops.inspect.model import Severity
from kubeops.inspect.runner import run_checks
from kubeops.inspect.snapshot import Snapshot

Object = dict[str, Any]
NOW = datetime.datetime(2025, 6, 1, 12, 0, tzinfo=datetime.UTC)
DIGEST = "sha256:" + "ab" * 32


# ---------------------------------------------------------------------------
# Helpers for the checks
# ---------------------------------------------------------------------------

POD_CHECKS = {c.id for c in catalog().values() if c.category == "pods"}


def live(*objects: Object) -> Snapshot:
    """A live snapshot (status checks run) of ``objects``, every resource present."""
    static = Snapshot.from_objects(objects)
    return Snapshot(cluster="test", data=static.data)


def findings(
    snapshot: Snapshot, check: str, document: dict[str, Any] | None = None
) -> list[tuple[str, str, Severity]]:
    config = parse_inspect_config(document) if document else InspectConfig()
    result = run_checks(snapshot, config, now=NOW)
    assert check in result.checks_run, result.not_run
    return [(f.object.name, f.message, f.severity) for f in result.findings if f.check == check]


def messages(snapshot: Snapshot, check: str, document: dict[str, Any] | None = None) -> list[str]:
    return [m for _, m, _ in findings(snapshot, check, document)]


def container(name: str = "app", **extra: Any) -> Object:
    return {"name": name, "image": "registry.example.com/app:1", **extra}


def pod(name: str = "p", *, spec: Object | None = None, **status: Any) -> Object:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "ns", "creationTimestamp": "2025-06-01T11:00:00Z"},
        "spec": spec or {"containers": [container()]},
        "status": status,
    }


def deployment(name: str, spec: Object, namespace: str | None = "ns") -> Object:
    meta: Object = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {"template": {"spec": spec}},
    }


def waiting(reason: str, name: str = "app", **extra: Any) -> Object:
    return {"name": name, "state": {"waiting": {"reason": reason}}, **extra}


# ---------------------------------------------------------------------------
# Status checks
# ---------------------------------------------------------------------------


def test_status_checks_do_not_run_on_manifests() -> None:
    result = run_checks(Snapshot.from_objects([pod()]), InspectConfig(), now=NOW)
    for check in ("pod-crashloop", "container-restarts", "pod-pending", "pod-failed"):
        assert check not in result.checks_run
    assert "container-image-latest" in result.checks_run  # the spec checks did run


def test_status_checks_tolerate_missing_fields() -> None:
    bare = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bare", "namespace": "ns"}}
    no_status = {**pod("no-status"), "status": None}
    result = run_checks(live(bare, no_status), InspectConfig(), now=NOW)
    assert set(result.checks_run) >= POD_CHECKS
    assert not [n for n in result.not_run if n.check in POD_CHECKS]
    assert not [f for f in result.findings if f.check.startswith("pod-")]


def test_crashloop_names_the_container_and_last_exit() -> None:
    status = waiting(
        "CrashLoopBackOff",
        restartCount=4,
        lastState={"terminated": {"reason": "Error", "exitCode": 3}},
    )
    init = waiting("CrashLoopBackOff", name="migrate")
    snapshot = live(pod(containerStatuses=[status], initContainerStatuses=[init]))
    assert messages(snapshot, "pod-crashloop") == [
        'init container "migrate" is in CrashLoopBackOff after 0 restarts',
        'container "app" is in CrashLoopBackOff after 4 restarts (last exit: Error, exit code 3)',
    ]


def test_restarts_threshold_is_exclusive_and_configurable() -> None:
    snapshot = live(
        pod("five", containerStatuses=[{"name": "app", "restartCount": 5}]),
        pod("six", containerStatuses=[{"name": "app", "restartCount": 6}]),
    )
    assert [n for n, _, _ in findings(snapshot, "container-restarts")] == ["six"]
    document = {"checks": {"container-restarts": {"thresholds": {"restarts": 10}}}}
    assert findings(snapshot, "container-restarts", document) == []


def test_oomkilled_reports_the_memory_limit() -> None:
    spec = {"containers": [container(resources={"limits": {"memory": "64Mi"}}), container("side")]}
    oom = {"terminated": {"reason": "OOMKilled", "exitCode": 137}}
    snapshot = live(
        pod(
            spec=spec,
            containerStatuses=[
                {"name": "app", "lastState": oom, "restartCount": 3},
                {"name": "side", "state": oom},
            ],
        )
    )
    assert messages(snapshot, "container-oomkilled") == [
        'container "app" was last OOMKilled (memory limit 64Mi), 3 restarts',
        'container "side" was OOMKilled (no memory limit: the node ran out), 0 restarts',
    ]


@pytest.mark.parametrize("reason", ["ImagePullBackOff", "ErrImagePull", "InvalidImageName"])
def test_image_pull_errors(reason: str) -> None:
    snapshot = live(pod(containerStatuses=[waiting(reason, image="nope:1", message="x" * 500)]))
    (message,) = messages(snapshot, "pod-image-pull-error")
    assert message.startswith(f'container "app" cannot pull image "nope:1": {reason}')
    assert len(message) < 300


def test_image_pull_ignores_other_waiting_reasons() -> None:
    snapshot = live(pod(containerStatuses=[waiting("ContainerCreating")]))
    assert findings(snapshot, "pod-image-pull-error") == []


def test_pending_uses_the_threshold_and_says_why() -> None:
    unscheduled = pod(
        "unscheduled",
        phase="Pending",
        conditions=[
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "no"}
        ],
    )
    young = pod("young", phase="Pending")
    young["metadata"]["creationTimestamp"] = "2025-06-01T11:55:00Z"
    pulling = pod(
        "pulling",
        spec={"containers": [container()], "nodeName": "n1"},
        phase="Pending",
        containerStatuses=[waiting("ContainerCreating")],
    )
    # No creationTimestamp: the PodScheduled condition's time stands in.
    old = pod(
        "old",
        phase="Pending",
        conditions=[
            {
                "type": "PodScheduled",
                "status": "False",
                "lastTransitionTime": "2025-06-01T10:00:00Z",
            }
        ],
    )
    del old["metadata"]["creationTimestamp"]
    snapshot = live(unscheduled, young, pulling, old, pod("running", phase="Running"))
    assert sorted(messages(snapshot, "pod-pending")) == [
        "Pending for 120m (threshold 15m): not scheduled",
        "Pending for 60m (threshold 15m): not scheduled (Unschedulable: no)",
        'Pending for 60m (threshold 15m): on node n1, container "app" ContainerCreating',
    ]
    document = {"checks": {"pod-pending": {"thresholds": {"minutes": 0}}}}
    assert len(findings(snapshot, "pod-pending", document)) == 4


def test_failed_pods_evicted_are_info_and_job_pods_are_skipped() -> None:
    evicted = pod("evicted", phase="Failed", reason="Evicted", message="low on memory")
    crashed = pod(
        "crashed",
        phase="Failed",
        containerStatuses=[
            {
                "name": "app",
                "state": {
                    "terminated": {
                        "reason": "Error",
                        "exitCode": 2,
                        "finishedAt": "2025-05-30T12:00:00Z",
                    }
                },
            }
        ],
    )
    of_job = pod("of-job", phase="Failed")
    of_job["metadata"]["ownerReferences"] = [{"kind": "Job", "name": "j", "controller": True}]
    snapshot = live(evicted, crashed, of_job, pod("ok", phase="Succeeded"))
    assert sorted(findings(snapshot, "pod-failed")) == [
        (
            "crashed",
            'the Pod failed (container "app" exited: Error, exit code 2) 2d ago and was never deleted',
            Severity.WARNING,
        ),
        ("evicted", "the Pod failed (Evicted: low on memory)", Severity.INFO),
    ]


# ---------------------------------------------------------------------------
# Spec checks
# ---------------------------------------------------------------------------


def test_requests_accept_limits_and_limit_range_defaults() -> None:
    snapshot = Snapshot.from_objects(
        [
            deployment("none", {"containers": [container()]}),
            deployment(
                "limits",
                {"containers": [container(resources={"limits": {"cpu": "1", "memory": "1Gi"}})]},
            ),
            deployment(
                "cpu-only",
                {"containers": [container(resources={"requests": {"cpu": "1"}})]},
            ),
            deployment("defaulted", {"containers": [container()]}, namespace="limited"),
            {
                "apiVersion": "v1",
                "kind": "LimitRange",
                "metadata": {"name": "lr", "namespace": "limited"},
                "spec": {
                    "limits": [{"type": "Container", "default": {"cpu": "1", "memory": "1Gi"}}]
                },
            },
        ]
    )
    assert sorted(findings(snapshot, "container-no-requests")) == [
        ("cpu-only", 'container "app" has no memory request', Severity.WARNING),
        ("none", 'container "app" has no cpu request or memory request', Severity.WARNING),
    ]
    assert sorted(n for n, _, _ in findings(snapshot, "container-no-limits")) == [
        "cpu-only",
        "none",
    ]


def test_limits_can_require_cpu() -> None:
    spec = {"containers": [container(resources={"limits": {"memory": "1Gi"}})]}
    snapshot = Snapshot.from_objects([deployment("d", spec)])
    assert findings(snapshot, "container-no-limits") == []
    document = {"checks": {"container-no-limits": {"thresholds": {"resources": "memory, cpu"}}}}
    assert messages(snapshot, "container-no-limits", document) == [
        'container "app" has no cpu limit'
    ]


def test_probes_skip_batch_init_and_run_once_pods() -> None:
    spec = {"containers": [container()], "initContainers": [container("setup")]}
    sidecar = {
        "containers": [container()],
        "initContainers": [container("proxy", restartPolicy="Always")],
    }
    cronjob = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "cron"},
        "spec": {"jobTemplate": {"spec": {"template": {"spec": spec}}}},
    }
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "job"},
        "spec": {"template": {"spec": spec}},
    }
    once = pod("once", spec={**spec, "restartPolicy": "Never"})
    snapshot = Snapshot.from_objects(
        [deployment("d", spec), deployment("s", sidecar), cronjob, job, once]
    )
    for check, field in (
        ("container-no-liveness-probe", "livenessProbe"),
        ("container-no-readiness-probe", "readinessProbe"),
    ):
        assert findings(snapshot, check) == [
            (
                "d",
                f'container "app" has no {field}',
                Severity.INFO if "liveness" in check else Severity.WARNING,
            ),
            (
                "s",
                f'container "app" has no {field}',
                Severity.INFO if "liveness" in check else Severity.WARNING,
            ),
            (
                "s",
                f'init container "proxy" has no {field}',
                Severity.INFO if "liveness" in check else Severity.WARNING,
            ),
        ]


@pytest.mark.parametrize(
    ("image", "flagged"),
    [
        ("nginx", True),
        ("nginx:latest", True),
        ("registry.example.com:5000/app", True),
        ("nginx:1.27", False),
        (f"nginx@{DIGEST}", False),
        (f"nginx:latest@{DIGEST}", False),
        ("localhost:5000/app:2", False),
        ("Not A Valid Image", False),  # pod-image-pull-error's business
        ("", False),
    ],
)
def test_image_latest(image: str, flagged: bool) -> None:
    snapshot = Snapshot.from_objects([deployment("d", {"containers": [container(image=image)]})])
    assert bool(findings(snapshot, "container-image-latest")) is flagged


def test_image_registry_only_with_a_list() -> None:
    spec = {
        "containers": [container(image="quay.io/a/b:1"), container("ok", image="nginx:1")],
        "initContainers": [container("bad", image="UPPER CASE")],
    }
    snapshot = Snapshot.from_objects([deployment("d", spec), deployment("e", spec)])
    assert findings(snapshot, "container-image-registry") == []
    document = {"settings": {"allowed_registries": ["docker.io/library"]}}
    found = messages(snapshot, "container-image-registry", document)
    assert len(found) == 4
    assert found[0] == (
        'container "app" image "quay.io/a/b:1" comes from quay.io/a/b, '
        "not from the allowed registries (docker.io/library)"
    )
    assert found[1].startswith(
        'init container "bad" image "UPPER CASE" is not a valid image reference'
    )


def test_spec_checks_tolerate_missing_fields() -> None:
    snapshot = Snapshot.from_objects(
        [
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "empty"}},
            deployment("bare", {"containers": [{"name": "x"}]}, namespace=None),
            {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "lr2"}, "spec": {}},
            {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "lr"}},
        ]
    )
    result = run_checks(
        snapshot, parse_inspect_config({"settings": {"allowed_registries": ["x.io"]}}), now=NOW
    )
    assert not [n for n in result.not_run if n.check in POD_CHECKS]


def test_catalogue_entries() -> None:
    checks = catalog()
    for check_id in (
        "container-no-requests",
        "container-no-limits",
        "container-no-liveness-probe",
        "container-no-readiness-probe",
        "container-image-latest",
        "container-image-registry",
    ):
        assert checks[check_id].static
        assert checks[check_id].category == "pods"
    for check_id in (
        "pod-crashloop",
        "container-restarts",
        "container-oomkilled",
        "pod-image-pull-error",
        "pod-pending",
        "pod-failed",
    ):
        assert not checks[check_id].static
        assert checks[check_id].subject == "pods"
