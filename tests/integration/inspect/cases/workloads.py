"""Workload cases: controllers' status is written as the controllers would report it
(nothing in the API-only cluster overwrites it)."""

from __future__ import annotations

from typing import Any

from ..harness import Case

Object = dict[str, Any]


def template(app: str, **labels: str) -> Object:
    return {
        "metadata": {"labels": {"app": app, **labels}},
        "spec": {"containers": [{"name": "app", "image": "registry.example.com/app:1.0"}]},
    }


def deployment(
    name: str, replicas: int | None = 2, status: Object | None = None, **labels: str
) -> Object:
    spec: Object = {
        "selector": {"matchLabels": {"app": name}},
        "template": template(name, **labels),
    }
    if replicas is not None:
        spec["replicas"] = replicas
    obj: Object = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": spec,
    }
    if status is not None:
        obj["status"] = status
    return obj


def deployment_status(
    replicas: int, available: int, conditions: list[Object] | None = None
) -> Object:
    return {
        "observedGeneration": 1,
        "replicas": replicas,
        "updatedReplicas": replicas,
        "readyReplicas": available,
        "availableReplicas": available,
        "unavailableReplicas": replicas - available,
        "conditions": conditions or [],
    }


def statefulset(
    name: str, replicas: int | None = 2, ready: int | None = None, **labels: str
) -> Object:
    spec: Object = {
        "serviceName": name,
        "selector": {"matchLabels": {"app": name}},
        "template": template(name, **labels),
    }
    if replicas is not None:
        spec["replicas"] = replicas
    obj: Object = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name},
        "spec": spec,
    }
    if ready is not None:
        obj["status"] = {
            "observedGeneration": 1,
            "replicas": replicas or 1,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "currentReplicas": replicas or 1,
            "updatedReplicas": replicas or 1,
        }
    return obj


def daemonset(name: str, desired: int, ready: int, scheduled: int | None = None) -> Object:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": {"app": name}}, "template": template(name)},
        "status": {
            "observedGeneration": 1,
            "desiredNumberScheduled": desired,
            "currentNumberScheduled": desired if scheduled is None else scheduled,
            "numberMisscheduled": 0,
            "numberReady": ready,
            "numberAvailable": ready,
            "updatedNumberScheduled": ready,
            **({"numberUnavailable": desired - ready} if desired > ready else {}),
        },
    }


def hpa(
    name: str,
    target: str,
    low: int,
    high: int,
    current: int | None = None,
    kind: str = "Deployment",
) -> Object:
    obj: Object = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind, "name": target},
            "minReplicas": low,
            "maxReplicas": high,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 80},
                    },
                }
            ],
        },
    }
    if current is not None:
        obj["status"] = {"currentReplicas": current, "desiredReplicas": current}
    return obj


def pdb(name: str, selector: Object, status: Object | None = None) -> Object:
    obj: Object = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name},
        "spec": {"maxUnavailable": 1, "selector": selector},
    }
    if status is not None:
        obj["status"] = status
    return obj


def pdb_status(expected: int, healthy: int, desired: int, allowed: int) -> Object:
    return {
        "observedGeneration": 1,
        "expectedPods": expected,
        "currentHealthy": healthy,
        "desiredHealthy": desired,
        "disruptionsAllowed": allowed,
    }


JOB_TEMPLATE: Object = {
    "spec": {
        "restartPolicy": "Never",
        "containers": [{"name": "job", "image": "registry.example.com/job:1.0"}],
    }
}


def cronjob(name: str, suspend: bool = False, status: Object | None = None) -> Object:
    obj: Object = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name},
        "spec": {
            "schedule": "0 3 * * *",
            "suspend": suspend,
            "jobTemplate": {"spec": {"template": JOB_TEMPLATE}},
        },
    }
    if status is not None:
        obj["status"] = status
    return obj


def job(
    name: str,
    outcome: str | None,
    cronjob: str | None = None,
    started: str = "2025-01-01T03:00:00Z",
    finished: str = "2025-01-01T03:05:00Z",
) -> Object:
    metadata: Object = {"name": name}
    if cronjob is not None:
        metadata["ownerReferences"] = [
            {
                "apiVersion": "batch/v1",
                "kind": "CronJob",
                "name": cronjob,
                # No garbage collector runs in the API-only cluster, so any UID will do.
                "uid": "00000000-0000-0000-0000-000000000001",
                "controller": True,
            }
        ]
    obj: Object = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": {"backoffLimit": 0, "template": JOB_TEMPLATE},
    }
    if outcome == "Failed":
        obj["status"] = {
            "startTime": started,
            "failed": 1,
            "conditions": [
                {
                    "type": "FailureTarget",
                    "status": "True",
                    "reason": "BackoffLimitExceeded",
                    "message": "Job has reached the specified backoff limit",
                    "lastProbeTime": finished,
                    "lastTransitionTime": finished,
                },
                {
                    "type": "Failed",
                    "status": "True",
                    "reason": "BackoffLimitExceeded",
                    "message": "Job has reached the specified backoff limit",
                    "lastProbeTime": finished,
                    "lastTransitionTime": finished,
                },
            ],
        }
    elif outcome == "Complete":
        obj["status"] = {
            "startTime": started,
            "completionTime": finished,
            "succeeded": 1,
            "conditions": [
                {
                    "type": "SuccessCriteriaMet",
                    "status": "True",
                    "reason": "CompletionsReached",
                    "lastProbeTime": finished,
                    "lastTransitionTime": finished,
                },
                {
                    "type": "Complete",
                    "status": "True",
                    "reason": "CompletionsReached",
                    "lastProbeTime": finished,
                    "lastTransitionTime": finished,
                },
            ],
        }
    return obj


PROGRESSING_OK = {
    "type": "Progressing",
    "status": "True",
    "reason": "NewReplicaSetAvailable",
    "message": 'ReplicaSet "web-1" has successfully progressed.',
}
PROGRESS_DEADLINE = {
    "type": "Progressing",
    "status": "False",
    "reason": "ProgressDeadlineExceeded",
    "message": 'ReplicaSet "web-2" has timed out progressing.',
}

CASES = [
    Case(
        "deployment-unavailable",
        bad=[
            deployment("degraded", 3, deployment_status(3, 1)),
            deployment("down", 2, deployment_status(2, 0)),
        ],
        good=[
            deployment("healthy", 2, deployment_status(2, 2)),
            deployment("scaled-to-zero", 0),
        ],
        expect=["Deployment/degraded", "Deployment/down"],
    ),
    Case(
        "deployment-rollout-stuck",
        bad=[deployment("stuck", 2, deployment_status(2, 2, [PROGRESS_DEADLINE]))],
        good=[
            deployment("rolled-out", 2, deployment_status(2, 2, [PROGRESSING_OK])),
            deployment("new", 2),
        ],
        expect=["Deployment/stuck"],
    ),
    Case(
        "statefulset-not-ready",
        bad=[statefulset("degraded", 3, ready=1), statefulset("down", 2, ready=0)],
        good=[statefulset("healthy", 3, ready=3), statefulset("scaled-to-zero", 0)],
        expect=["StatefulSet/degraded", "StatefulSet/down"],
    ),
    Case(
        "daemonset-unavailable",
        bad=[
            daemonset("agents", desired=3, ready=1),
            daemonset("unscheduled", desired=3, ready=2, scheduled=2),
        ],
        good=[daemonset("healthy", desired=3, ready=3), daemonset("no-nodes", 0, 0)],
        expect=["DaemonSet/agents", "DaemonSet/unscheduled"],
    ),
    Case(
        "deployment-single-replica",
        bad=[
            deployment("implicit", None),
            deployment("explicit", 1),
            # Scaled up now, but its autoscaler may bring it down to one.
            deployment("autoscaled", 3),
            hpa("autoscaled", "autoscaled", 1, 5),
        ],
        good=[
            deployment("redundant", 3),
            deployment("autoscaled", 1),
            hpa("autoscaled", "autoscaled", 2, 5),
            deployment("scaled-to-zero", 0),
        ],
        expect=["Deployment/implicit", "Deployment/explicit", "Deployment/autoscaled"],
    ),
    Case(
        "statefulset-single-replica",
        bad=[statefulset("implicit", None), statefulset("explicit", 1)],
        good=[statefulset("redundant", 3)],
        expect=["StatefulSet/implicit", "StatefulSet/explicit"],
    ),
    Case(
        "deployment-no-pdb",
        bad=[
            deployment("unprotected", 3),
            deployment("mismatched", 3, tier="web"),
            pdb(
                "mismatched",
                {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["db"]}]},
            ),
            # Scaled to one now, but its autoscaler may run up to four.
            deployment("autoscaled", 1),
            hpa("autoscaled", "autoscaled", 1, 4),
        ],
        good=[
            deployment("protected", 3, tier="web"),
            pdb(
                "protected",
                {
                    "matchLabels": {"app": "protected"},
                    "matchExpressions": [
                        {"key": "tier", "operator": "In", "values": ["web", "api"]},
                        {"key": "canary", "operator": "DoesNotExist"},
                    ],
                },
            ),
            deployment("single", 1),
        ],
        expect=["Deployment/unprotected", "Deployment/mismatched", "Deployment/autoscaled"],
    ),
    Case(
        "statefulset-no-pdb",
        bad=[statefulset("unprotected", 3)],
        good=[
            statefulset("protected", 3),
            pdb("protected", {"matchLabels": {"app": "protected"}}),
            statefulset("single", 1),
        ],
        expect=["StatefulSet/unprotected"],
    ),
    Case(
        "pdb-blocks-eviction",
        bad=[pdb("strict", {"matchLabels": {"app": "db"}}, pdb_status(2, 2, 2, 0))],
        good=[
            pdb("ok", {"matchLabels": {"app": "web"}}, pdb_status(3, 3, 2, 1)),
            # Blocked because a Pod is unhealthy: that is the budget doing its job.
            pdb("degraded", {"matchLabels": {"app": "api"}}, pdb_status(3, 2, 2, 0)),
            pdb("empty", {"matchLabels": {"app": "none"}}, pdb_status(0, 0, 0, 0)),
        ],
        expect=["PodDisruptionBudget/strict"],
    ),
    Case(
        "hpa-at-max",
        bad=[hpa("saturated", "web", 2, 5, current=5)],
        good=[hpa("headroom", "web", 2, 5, current=3), hpa("fixed", "api", 3, 3, current=3)],
        expect=["HorizontalPodAutoscaler/saturated"],
    ),
    Case(
        "cronjob-suspended",
        bad=[cronjob("paused", suspend=True)],
        good=[cronjob("running")],
        expect=["CronJob/paused"],
    ),
    Case(
        "cronjob-failing",
        bad=[
            cronjob("nightly"),
            job("nightly-1", "Complete", "nightly"),
            job("nightly-2", "Failed", "nightly", "2025-01-02T03:00:00Z", "2025-01-02T03:05:00Z"),
            # No Job left; its own times say the last run did not succeed.
            cronjob(
                "hourly",
                status={
                    "lastScheduleTime": "2025-01-02T03:00:00Z",
                    "lastSuccessfulTime": "2025-01-01T03:04:00Z",
                },
            ),
        ],
        good=[
            cronjob("nightly"),
            job("nightly-1", "Failed", "nightly"),
            job("nightly-2", "Complete", "nightly", "2025-01-02T03:00:00Z", "2025-01-02T03:05:00Z"),
            # A run is under way: not failing yet.
            cronjob(
                "hourly",
                status={
                    "lastScheduleTime": "2025-01-02T03:00:00Z",
                    "lastSuccessfulTime": "2025-01-01T03:04:00Z",
                    "active": [
                        {"apiVersion": "batch/v1", "kind": "Job", "name": "hourly-2", "uid": "x"}
                    ],
                },
            ),
            cronjob("never-ran"),
        ],
        expect=["CronJob/nightly", "CronJob/hourly"],
    ),
    Case(
        "job-failed",
        bad=[job("migrate", "Failed")],
        good=[
            job("import", "Complete"),
            job("running", None),
            # A CronJob's run is judged by cronjob-failing.
            job("nightly-1", "Failed", "nightly"),
        ],
        expect=["Job/migrate"],
    ),
]
