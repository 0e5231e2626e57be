"""Derived states from one object: when each is present, since when, and identities
that stay the same for one occurrence and differ for the next."""

from __future__ import annotations

import datetime
from typing import Any

from kubeops.respond.event import DERIVED, Event, identity_of
from kubeops.respond.model import Trigger
from kubeops.respond.sources.derived import detectors, matches, validate
from kubeops.respond.sources.states import (
    CRASH_LOOP,
    DEPLOYMENT_UNAVAILABLE,
    IMAGE_PULL_BACK_OFF,
    JOB_FAILED,
    NODE_NOT_READY,
    OOM_KILLED,
    PVC_PENDING,
    Detector,
    detect,
)

T0 = "2026-03-02T10:00:00Z"
SINCE = datetime.datetime(2026, 3, 2, 10, 0, tzinfo=datetime.UTC)


def pod(*statuses: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "prod", "uid": "u1", "labels": {"app": "web"}},
        "status": {"containerStatuses": list(statuses)},
    }


def crashing(restarts: int, name: str = "app") -> dict[str, Any]:
    return {
        "name": name,
        "restartCount": restarts,
        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}},
        "lastState": {"terminated": {"reason": "Error", "exitCode": 1, "finishedAt": T0}},
    }


def with_condition(kind: str, type_: str, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "metadata": {"name": "x", "uid": "u2", "creationTimestamp": T0},
        "spec": {},
        "status": {
            "conditions": [
                {"type": type_, "status": status, "lastTransitionTime": T0, "reason": "R"}
            ],
            **extra,
        },
    }


def test_crash_loop_needs_the_reason_and_enough_restarts() -> None:
    detector = Detector(CRASH_LOOP, restarts=3)
    assert detect(detector, pod(crashing(2))) == []
    running = {"name": "app", "restartCount": 9, "state": {"running": {}}}
    assert detect(detector, pod(running)) == []
    (found,) = detect(detector, pod(crashing(3), running))
    assert found.identity == identity_of(CRASH_LOOP, "u1", "app", 3, 3)
    assert found.since == SINCE
    assert found.due is None
    assert found.detail["restartCount"] == 3
    # The next crash is the next occurrence; the same count is the same one.
    assert detect(detector, pod(crashing(4)))[0].identity != found.identity
    assert detect(detector, pod(crashing(3)))[0].identity == found.identity
    assert len(detect(detector, pod(crashing(5, "a"), crashing(5, "b")))) == 2


def test_oom_killed_once_per_kill_in_state_or_last_state() -> None:
    detector = Detector(OOM_KILLED)
    killed = {"terminated": {"reason": "OOMKilled", "exitCode": 137, "finishedAt": T0}}
    now_dead = {"name": "app", "restartCount": 0, "state": killed}
    restarted = {"name": "app", "restartCount": 1, "state": {"running": {}}, "lastState": killed}
    (a,) = detect(detector, pod(now_dead))
    (b,) = detect(detector, pod(restarted))
    assert a.identity == b.identity  # one kill, seen before and after the restart
    assert a.since == SINCE
    assert (
        detect(detector, pod({"name": "app", "state": {"terminated": {"reason": "Error"}}})) == []
    )


def test_image_pull_back_off_and_pull_errors_are_one_occurrence() -> None:
    detector = Detector(IMAGE_PULL_BACK_OFF)
    states = [
        {"name": "app", "image": "app:1", "state": {"waiting": {"reason": reason}}}
        for reason in ("ErrImagePull", "ImagePullBackOff")
    ]
    identities = {detect(detector, pod(s))[0].identity for s in states}
    assert len(identities) == 1
    fixed = {"name": "app", "image": "app:2", "state": {"waiting": {"reason": "ErrImagePull"}}}
    assert detect(detector, pod(fixed))[0].identity not in identities


def test_node_not_ready_is_due_for_after_its_transition() -> None:
    detector = Detector(NODE_NOT_READY, seconds=300)
    assert detect(detector, with_condition("Node", "Ready", "True")) == []
    for status in ("False", "Unknown"):
        (found,) = detect(detector, with_condition("Node", "Ready", status))
        assert found.since == SINCE
        assert found.due == SINCE + datetime.timedelta(minutes=5)
    # Another threshold is another occurrence (two rules, two events).
    other = detect(Detector(NODE_NOT_READY, seconds=600), with_condition("Node", "Ready", "False"))
    assert other[0].identity != found.identity


def test_deployment_unavailable_by_condition_or_by_count() -> None:
    detector = Detector(DEPLOYMENT_UNAVAILABLE, seconds=60)
    down = with_condition("Deployment", "Available", "False")
    assert detect(detector, down)[0].since == SINCE
    short = with_condition("Deployment", "Available", "True", availableReplicas=1)
    short["spec"]["replicas"] = 3
    assert detect(detector, short)[0].detail == {
        "replicas": 3,
        "availableReplicas": 1,
        "reason": "R",
    }
    full = with_condition("Deployment", "Available", "True", availableReplicas=3)
    full["spec"]["replicas"] = 3
    assert detect(detector, full) == []


def test_job_failed_and_pvc_pending() -> None:
    assert detect(Detector(JOB_FAILED), with_condition("Job", "Complete", "True")) == []
    (failed,) = detect(Detector(JOB_FAILED), with_condition("Job", "Failed", "True"))
    assert failed.since == SINCE
    claim = {"kind": "PersistentVolumeClaim", "metadata": {"uid": "c", "creationTimestamp": T0}}
    (pending,) = detect(
        Detector(PVC_PENDING, seconds=30), {**claim, "status": {"phase": "Pending"}}
    )
    assert pending.due == SINCE + datetime.timedelta(seconds=30)
    assert detect(Detector(PVC_PENDING, seconds=30), {**claim, "status": {"phase": "Bound"}}) == []


def test_validation_names_each_field() -> None:
    assert validate(Trigger(DERIVED, names=("CrashLoop",), params={"restarts": 5})) == []
    assert validate(Trigger(DERIVED, names=("NodeNotReady",), params={"for": "5m"})) == []
    assert validate(
        Trigger(
            DERIVED,
            names=("CrashLoop", "Exploded"),
            kind="Node",
            selector="app in (",
            params={"restarts": 0, "for": "soon", "colour": "red"},
        )
    ) == [
        "names: unknown event 'Exploded' for source 'derived' (one of CrashLoop, OOMKilled, ImagePullBackOff, NodeNotReady, DeploymentUnavailable, JobFailed, PVCPending)",
        "selector: invalid label selector 'app in (' at position 8: expected a value, ',' or ')', found end of string",
        "params.colour: unknown for a derived trigger (one of restarts, for)",
        "params.restarts: must be at least 1, not 0",
        "params.for: must be a duration like 5m, not 'soon'",
        "kind: 'Node' does not fit the states named (about Pod)",
    ]


def test_a_trigger_matches_its_own_threshold_and_scope() -> None:
    five = Trigger(DERIVED, names=("NodeNotReady",), params={"for": "5m"})
    ten = Trigger(DERIVED, names=("NodeNotReady",), params={"for": 600})
    assert [d.seconds for d in detectors(five)] == [300.0]
    node = with_condition("Node", "Ready", "False")
    event = Event(NODE_NOT_READY, DERIVED, SINCE, payload={"for": 300.0}, object=node)
    assert matches(five, event)
    assert not matches(ten, event)
    crash = Event(CRASH_LOOP, DERIVED, SINCE, payload={"restarts": 3}, object=pod())
    assert matches(Trigger(DERIVED, names=("CrashLoop",), namespaces=("prod",)), crash)
    assert not matches(Trigger(DERIVED, names=("CrashLoop",), namespaces=("dev",)), crash)
    assert not matches(Trigger(DERIVED, names=("CrashLoop",), selector="app=db"), crash)
    assert matches(Trigger(DERIVED), crash)  # no names: every state, default thresholds
