"""The workloads checks' edge cases on in-memory snapshots: live ones for status,
manifests for the static checks (HPAs, PodDisruptionBudget selectors, namespaces
left out of manifests)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from kubeops.inspect.catalog import catalog
from kubeops.inspect.checks.fields import Lookup, label_selector, replicas
from kubeops.inspect.config import InspectConfig
from kubeops.inspect.model import ClusterResult, Severity
from kubeops.inspect.runner import run_checks
from kubeops.inspect.snapshot import Snapshot

Object = dict[str, Any]
NOW = datetime.datetime(2025, 6, 1, 12, 0, tzinfo=datetime.UTC)


def live(*objects: Object) -> Snapshot:
    return Snapshot(cluster="test", data=Snapshot.from_objects(objects).data)


def run(snapshot: Snapshot, *checks: str) -> ClusterResult:
    result = run_checks(snapshot, InspectConfig(only=checks), now=NOW)
    assert not result.not_run, result.not_run
    return result


def flagged(result: ClusterResult) -> dict[str, Severity]:
    return {f"{f.object.kind}/{f.object.name}": f.severity for f in result.findings}


def messages(result: ClusterResult) -> list[str]:
    return [f.message for f in result.findings]


def workload(
    name: str,
    kind: str = "Deployment",
    replicas: int | None = None,
    namespace: str | None = "shop",
    labels: dict[str, str] | None = None,
    status: Object | None = None,
    **spec: Any,
) -> Object:
    metadata: Object = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    body: Object = {
        "template": {"metadata": {"labels": labels or {"app": name}}, "spec": {}},
        **spec,
    }
    if replicas is not None:
        body["replicas"] = replicas
    obj: Object = {"apiVersion": "apps/v1", "kind": kind, "metadata": metadata, "spec": body}
    if status is not None:
        obj["status"] = status
    return obj


def hpa(
    target: str, low: int | None, high: int, namespace: str | None = "shop", **status: Any
) -> Object:
    spec: Object = {"scaleTargetRef": {"kind": "Deployment", "name": target}, "maxReplicas": high}
    if low is not None:
        spec["minReplicas"] = low
    metadata: Object = {"name": f"{target}-hpa"}
    if namespace:
        metadata["namespace"] = namespace
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata,
        "spec": spec,
        "status": status,
    }


def pdb(name: str, selector: Any, namespace: str | None = "shop", **status: Any) -> Object:
    metadata: Object = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    spec: Object = {"maxUnavailable": 1}
    if selector is not None:
        spec["selector"] = selector
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata,
        "spec": spec,
        "status": status,
    }


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({}, 1),
        ({"replicas": 0}, 0),
        ({"replicas": 4}, 4),
        ({"replicas": "3"}, 3),
        ({"replicas": "x"}, 1),
    ],
)
def test_replicas_defaults_to_one(spec: Object, expected: int) -> None:
    assert replicas({"spec": spec}) == expected
    assert replicas({}) == 1


def test_lookup_is_exact_live() -> None:
    index = Lookup(static=False)
    index.add("a", "web", 1)
    index.add(None, "web", 2)
    assert index.get("a", "web") == [1]
    assert index.get("b", "web") == []
    assert index.get(None, "web") == [2]


def test_lookup_lets_a_missing_namespace_match_any_in_static_mode() -> None:
    index = Lookup(static=True)
    index.add("a", "web", 1)
    index.add(None, "web", 2)
    index.add("b", "web", 3)
    assert index.get("a", "web") == [1, 2]
    assert index.get("c", "web") == [2]
    assert sorted(index.get(None, "web")) == [1, 2, 3]
    assert index.get("a", "api") == []


@pytest.mark.parametrize(
    ("selector", "labels", "matches"),
    [
        ({"matchLabels": {"app": "web"}}, {"app": "web", "tier": "x"}, True),
        ({"matchLabels": {"app": "web"}}, {"app": "api"}, False),
        (
            {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]},
            {"tier": "b"},
            True,
        ),
        ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["a"]}]}, {}, True),
        (
            {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["a"]}]},
            {"tier": "a"},
            False,
        ),
        ({"matchExpressions": [{"key": "canary", "operator": "Exists"}]}, {"canary": ""}, True),
        (
            {"matchExpressions": [{"key": "canary", "operator": "DoesNotExist"}]},
            {"canary": "1"},
            False,
        ),
        # An empty selector selects every Pod of the namespace; an absent one none.
        ({}, {"app": "web"}, True),
        (None, {"app": "web"}, False),
    ],
)
def test_label_selector(selector: Any, labels: dict[str, str], matches: bool) -> None:
    parsed = label_selector(selector)
    assert parsed is not None
    assert parsed.matches(labels) is matches


@pytest.mark.parametrize(
    "selector",
    [
        {"matchExpressions": [{"key": "a", "operator": "Bogus", "values": ["x"]}]},
        {"matchLabels": {"bad key!": "x"}},
        "app=web",
    ],
)
def test_malformed_label_selector_is_none(selector: Any) -> None:
    assert label_selector(selector) is None


# ---------------------------------------------------------------------------
# Availability
# ---------------------------------------------------------------------------


def test_deployment_unavailable_severity_and_absent_fields() -> None:
    result = run(
        live(
            workload("degraded", replicas=3, status={"availableReplicas": 2}),
            workload("down", replicas=2, status={}),
            workload("implicit-one"),  # replicas default 1, no status at all
            workload("healthy", replicas=2, status={"availableReplicas": 2}),
            workload("surging", replicas=2, status={"availableReplicas": 3}),
            workload("zero", replicas=0),
        ),
        "deployment-unavailable",
    )
    assert flagged(result) == {
        "Deployment/degraded": Severity.ERROR,
        "Deployment/down": Severity.CRITICAL,
        "Deployment/implicit-one": Severity.CRITICAL,
    }
    assert "2 of 3 replicas available" in messages(result)


def test_statefulset_not_ready() -> None:
    result = run(
        live(
            workload("db", "StatefulSet", 3, status={"readyReplicas": 2, "availableReplicas": 2}),
            workload("cache", "StatefulSet", 3, status={"readyReplicas": 3}),
        ),
        "statefulset-not-ready",
    )
    assert flagged(result) == {"StatefulSet/db": Severity.ERROR}


def test_daemonset_unavailable() -> None:
    def ds(name: str, **status: int) -> Object:
        return workload(name, "DaemonSet", status=status)

    result = run(
        live(
            ds("none", desiredNumberScheduled=2, currentNumberScheduled=2, numberReady=0),
            ds(
                "some",
                desiredNumberScheduled=4,
                currentNumberScheduled=4,
                numberReady=3,
                numberAvailable=3,
                numberUnavailable=1,
            ),
            ds(
                "unscheduled",
                desiredNumberScheduled=4,
                currentNumberScheduled=3,
                numberReady=3,
                numberAvailable=3,
            ),
            ds(
                "fine",
                desiredNumberScheduled=4,
                currentNumberScheduled=4,
                numberReady=4,
                numberAvailable=4,
            ),
            ds("unobserved"),
        ),
        "daemonset-unavailable",
    )
    assert flagged(result) == {
        "DaemonSet/none": Severity.CRITICAL,
        "DaemonSet/some": Severity.ERROR,
        "DaemonSet/unscheduled": Severity.ERROR,
    }


def test_rollout_stuck_only_on_progress_deadline() -> None:
    def with_progressing(name: str, status: str, reason: str) -> Object:
        return workload(
            name,
            status={"conditions": [{"type": "Progressing", "status": status, "reason": reason}]},
        )

    result = run(
        live(
            with_progressing("stuck", "False", "ProgressDeadlineExceeded"),
            with_progressing("rolling", "True", "ReplicaSetUpdated"),
            workload("plain"),
        ),
        "deployment-rollout-stuck",
    )
    assert list(flagged(result)) == ["Deployment/stuck"]


# ---------------------------------------------------------------------------
# Redundancy (static)
# ---------------------------------------------------------------------------


def test_single_replica_static_with_autoscalers() -> None:
    result = run(
        Snapshot.from_objects(
            [
                workload("implicit"),
                workload("three", replicas=3),
                workload("zero", replicas=0),
                # Replicas omitted because the autoscaler owns them.
                workload("scaled"),
                hpa("scaled", 2, 6),
                workload("may-shrink", replicas=4),
                hpa("may-shrink", None, 6),
                workload("db", "StatefulSet"),
            ]
        ),
        "*-single-replica",
    )
    assert set(flagged(result)) == {
        "Deployment/implicit",
        "Deployment/may-shrink",
        "StatefulSet/db",
    }


def test_single_replica_hpa_in_another_namespace_does_not_count_live() -> None:
    result = run(
        live(workload("web", namespace="a"), hpa("web", 3, 6, namespace="b")),
        "deployment-single-replica",
    )
    assert list(flagged(result)) == ["Deployment/web"]


def test_no_pdb_matches_template_labels() -> None:
    result = run(
        Snapshot.from_objects(
            [
                workload("web", replicas=3, labels={"app": "web", "tier": "front"}),
                pdb(
                    "web",
                    {
                        "matchLabels": {"app": "web"},
                        "matchExpressions": [
                            {"key": "tier", "operator": "In", "values": ["front"]}
                        ],
                    },
                ),
                workload("api", replicas=3, labels={"app": "api"}),
                pdb("api-typo", {"matchLabels": {"app": "apl"}}),
                # Budgets in another namespace protect nothing here.
                workload("worker", replicas=2),
                pdb("worker", {"matchLabels": {"app": "worker"}}, namespace="other"),
                # An absent selector selects nothing, an empty one everything.
                workload("job-runner", replicas=2, namespace="ops"),
                pdb("nothing", None, namespace="ops"),
                workload("db", "StatefulSet", 3, namespace="data"),
                pdb("everything", {}, namespace="data"),
                workload("single"),
                workload("elastic"),
                hpa("elastic", 1, 5),
            ]
        ),
        "*-no-pdb",
    )
    assert set(flagged(result)) == {
        "Deployment/api",
        "Deployment/worker",
        "Deployment/job-runner",
        "Deployment/elastic",
    }


def test_no_pdb_namespace_left_out_of_manifests_matches_any() -> None:
    objects = [
        workload("web", replicas=3, namespace=None),
        pdb("web", {"matchLabels": {"app": "web"}}, namespace="shop"),
        workload("api", replicas=3, namespace="shop"),
        pdb("api", {"matchLabels": {"app": "api"}}, namespace=None),
    ]
    assert flagged(run(Snapshot.from_objects(objects), "deployment-no-pdb")) == {}


def test_pdb_blocks_eviction() -> None:
    result = run(
        live(
            pdb(
                "strict",
                {},
                expectedPods=1,
                currentHealthy=1,
                desiredHealthy=1,
                disruptionsAllowed=0,
            ),
            pdb(
                "unhealthy",
                {},
                expectedPods=2,
                currentHealthy=1,
                desiredHealthy=1,
                disruptionsAllowed=0,
            ),
            pdb(
                "fine", {}, expectedPods=2, currentHealthy=2, desiredHealthy=1, disruptionsAllowed=1
            ),
            pdb("unobserved", {}),
        ),
        "pdb-blocks-eviction",
    )
    assert list(flagged(result)) == ["PodDisruptionBudget/strict"]


def test_hpa_at_max() -> None:
    limited = {
        "type": "ScalingLimited",
        "status": "True",
        "reason": "TooManyReplicas",
        "message": "the desired replica count is more than the maximum replica count",
    }
    result = run(
        live(
            hpa("full", 2, 4, currentReplicas=4, desiredReplicas=4, conditions=[limited]),
            hpa("default-min", None, 3, currentReplicas=3, desiredReplicas=3),
            hpa("room", 2, 4, currentReplicas=3, desiredReplicas=3),
            hpa("fixed", 3, 3, currentReplicas=3, desiredReplicas=3),
            hpa("unobserved", 1, 3),
        ),
        "hpa-at-max",
    )
    assert set(flagged(result)) == {
        "HorizontalPodAutoscaler/full-hpa",
        "HorizontalPodAutoscaler/default-min-hpa",
    }
    assert any("TooManyReplicas" in m for m in messages(result))


# ---------------------------------------------------------------------------
# Batch
# ---------------------------------------------------------------------------


def cronjob(name: str, **status: Any) -> Object:
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {"schedule": "@daily", "suspend": status.pop("suspend", False)},
        "status": status,
    }


def job(name: str, outcome: str | None, owner: str | None, started: str | None = None) -> Object:
    metadata: Object = {
        "name": name,
        "namespace": "shop",
        "creationTimestamp": "2025-05-01T00:00:00Z",
    }
    if owner:
        metadata["ownerReferences"] = [
            {
                "apiVersion": "batch/v1",
                "kind": "CronJob",
                "name": owner,
                "uid": "u",
                "controller": True,
            }
        ]
    status: Object = {}
    if started:
        status["startTime"] = started
    if outcome:
        status["conditions"] = [
            {
                "type": outcome,
                "status": "True",
                "reason": "BackoffLimitExceeded" if outcome == "Failed" else "",
            }
        ]
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "status": status}


def test_cronjob_failing_judges_the_latest_finished_run() -> None:
    result = run(
        live(
            cronjob("a"),
            job("a-1", "Complete", "a", "2025-05-01T00:00:00Z"),
            job("a-2", "Failed", "a", "2025-05-02T00:00:00Z"),
            job("a-3", None, "a", "2025-05-03T00:00:00Z"),  # still running
            cronjob("b"),
            job("b-1", "Failed", "b", "2025-05-01T00:00:00Z"),
            job("b-2", "Complete", "b", "2025-05-02T00:00:00Z"),
            # Same creation second: the start time decides.
            cronjob("c"),
            job("c-2", "Complete", "c", "2025-05-01T00:00:00Z"),
            job("c-1", "Failed", "c", "2025-05-01T00:01:00Z"),
            cronjob("never"),
        ),
        "cronjob-failing",
    )
    assert set(flagged(result)) == {"CronJob/a", "CronJob/c"}


def test_cronjob_failing_falls_back_on_its_own_times() -> None:
    times = {
        "lastScheduleTime": "2025-05-02T00:00:00Z",
        "lastSuccessfulTime": "2025-05-01T00:02:00Z",
    }
    result = run(
        live(
            cronjob("failed", **times),
            cronjob("running", **times, active=[{"name": "running-1"}]),
            cronjob(
                "ok",
                lastScheduleTime="2025-05-02T00:00:00Z",
                lastSuccessfulTime="2025-05-02T00:03:00Z",
            ),
            # Old clusters do not record successes: nothing to go on.
            cronjob("old", lastScheduleTime="2025-05-02T00:00:00Z"),
        ),
        "cronjob-failing",
    )
    assert list(flagged(result)) == ["CronJob/failed"]


def test_cronjob_suspended_is_static() -> None:
    result = run(
        Snapshot.from_objects([cronjob("paused", suspend=True), cronjob("running")]),
        "cronjob-suspended",
    )
    assert flagged(result) == {"CronJob/paused": Severity.INFO}


def test_job_failed_skips_cronjob_runs() -> None:
    result = run(
        live(
            job("migrate", "Failed", None),
            job("nightly-1", "Failed", "nightly"),
            job("import", "Complete", None),
            job("running", None, None),
        ),
        "job-failed",
    )
    assert list(flagged(result)) == ["Job/migrate"]
    assert "BackoffLimitExceeded" in messages(result)[0]


def test_workload_checks_survive_bare_objects() -> None:
    bare = [
        {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": "x"}}
        for kind in ("Deployment", "StatefulSet", "DaemonSet")
    ] + [
        {"apiVersion": v, "kind": kind, "metadata": {"name": "x"}}
        for v, kind in (
            ("autoscaling/v2", "HorizontalPodAutoscaler"),
            ("policy/v1", "PodDisruptionBudget"),
            ("batch/v1", "CronJob"),
            ("batch/v1", "Job"),
        )
    ]
    ids = tuple(
        c.id for c in catalog().values() if c.func.__module__ == "kubeops.inspect.checks.workloads"
    )
    result = run_checks(live(*bare), InspectConfig(only=ids), now=NOW)
    assert not result.not_run
    assert sorted(result.checks_run) == sorted(ids)
    assert len(ids) == 13
