"""Derived states, computed from one object as the API server sends it.

Each state is read from the cluster's own facts -- a container's restartCount
and waiting reason, a condition's lastTransitionTime, a claim's creation time --
never from what a process remembers, so a restarted daemon finds a Node NotReady
for ten minutes exactly as the one that watched it go NotReady would.  A state's
identity names the occurrence (the object, the transition time or restart count,
and the threshold), so seeing it again fires nothing new.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubeops.respond.event import Object, identity_of
from kubeops.respond.sources._params import timestamp

__all__ = [
    "CRASH_LOOP",
    "DEPLOYMENT_UNAVAILABLE",
    "IMAGE_PULL_BACK_OFF",
    "JOB_FAILED",
    "KIND_OF",
    "NODE_NOT_READY",
    "OOM_KILLED",
    "PVC_PENDING",
    "STATES",
    "Detector",
    "Found",
    "detect",
]

CRASH_LOOP = "CrashLoop"
OOM_KILLED = "OOMKilled"
IMAGE_PULL_BACK_OFF = "ImagePullBackOff"
NODE_NOT_READY = "NodeNotReady"
DEPLOYMENT_UNAVAILABLE = "DeploymentUnavailable"
JOB_FAILED = "JobFailed"
PVC_PENDING = "PVCPending"
STATES = (
    CRASH_LOOP,
    OOM_KILLED,
    IMAGE_PULL_BACK_OFF,
    NODE_NOT_READY,
    DEPLOYMENT_UNAVAILABLE,
    JOB_FAILED,
    PVC_PENDING,
)
KIND_OF = {
    CRASH_LOOP: "Pod",
    OOM_KILLED: "Pod",
    IMAGE_PULL_BACK_OFF: "Pod",
    NODE_NOT_READY: "Node",
    DEPLOYMENT_UNAVAILABLE: "Deployment",
    JOB_FAILED: "Job",
    PVC_PENDING: "PersistentVolumeClaim",
}
TIMED = frozenset({NODE_NOT_READY, DEPLOYMENT_UNAVAILABLE, PVC_PENDING})
"""States that fire only once they have lasted ``for`` seconds."""
ONCE = frozenset({OOM_KILLED, JOB_FAILED})
"""States that are a moment, not a condition: on start, one before the watermark is old news."""
DEFAULT_RESTARTS = 3
_PULL_REASONS = ("ImagePullBackOff", "ErrImagePull")


@dataclass(frozen=True, slots=True)
class Detector:
    """One state with its threshold: restarts for CrashLoop, ``for`` seconds for timed states."""

    state: str
    restarts: int = 0
    seconds: float = 0.0

    @property
    def kind(self) -> str:
        """The kind of object the state is about."""
        return KIND_OF[self.state]

    def params(self) -> dict[str, Any]:
        """The threshold as the event's payload carries it (and the matcher compares)."""
        if self.state == CRASH_LOOP:
            return {"restarts": self.restarts}
        if self.state in TIMED:
            return {"for": self.seconds}
        return {}


@dataclass(frozen=True, slots=True)
class Found:
    """An object in a state: since when (the cluster's time), when it is due to fire, what."""

    state: str
    identity: str
    since: datetime.datetime | None
    due: datetime.datetime | None
    """None: at once."""
    detail: Mapping[str, Any] = field(default_factory=dict)


def detect(detector: Detector, obj: Object) -> list[Found]:
    """Every occurrence of ``detector``'s state in ``obj`` (several containers may crash)."""
    uid = str((obj.get("metadata") or {}).get("uid") or "")
    finder = _FINDERS[detector.state]
    return list(finder(detector, obj, uid))


def _containers(obj: Object) -> Iterator[Mapping[str, Any]]:
    status = obj.get("status") or {}
    for key in ("initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses"):
        yield from status.get(key) or []


def _crash_loop(detector: Detector, obj: Object, uid: str) -> Iterator[Found]:
    for container in _containers(obj):
        waiting = (container.get("state") or {}).get("waiting") or {}
        restarts = int(container.get("restartCount") or 0)
        if waiting.get("reason") != "CrashLoopBackOff" or restarts < detector.restarts:
            continue
        name = str(container.get("name") or "")
        last = ((container.get("lastState") or {}).get("terminated")) or {}
        yield Found(
            CRASH_LOOP,
            identity_of(CRASH_LOOP, uid, name, restarts, detector.restarts),
            timestamp(last.get("finishedAt")),
            None,
            {
                "container": name,
                "restartCount": restarts,
                "exitCode": last.get("exitCode"),
                "reason": last.get("reason") or "",
                "message": waiting.get("message") or "",
            },
        )


def _oom_killed(_detector: Detector, obj: Object, uid: str) -> Iterator[Found]:
    for container in _containers(obj):
        name = str(container.get("name") or "")
        for where in ("state", "lastState"):
            terminated = (container.get(where) or {}).get("terminated") or {}
            if terminated.get("reason") != "OOMKilled":
                continue
            finished = str(terminated.get("finishedAt") or container.get("restartCount") or "")
            yield Found(
                OOM_KILLED,
                identity_of(OOM_KILLED, uid, name, finished),
                timestamp(terminated.get("finishedAt")),
                None,
                {
                    "container": name,
                    "restartCount": int(container.get("restartCount") or 0),
                    "exitCode": terminated.get("exitCode"),
                },
            )
            break  # the same kill shows in state, then in lastState once restarted


def _image_pull(_detector: Detector, obj: Object, uid: str) -> Iterator[Found]:
    for container in _containers(obj):
        waiting = (container.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") not in _PULL_REASONS:
            continue
        name, image = str(container.get("name") or ""), str(container.get("image") or "")
        yield Found(
            IMAGE_PULL_BACK_OFF,
            # Back-off and pull error alternate: one occurrence per container and image.
            identity_of(IMAGE_PULL_BACK_OFF, uid, name, image),
            None,
            None,
            {
                "container": name,
                "image": image,
                "reason": waiting.get("reason"),
                "message": waiting.get("message") or "",
            },
        )


def _condition(obj: Object, kind: str) -> Mapping[str, Any] | None:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            found: Mapping[str, Any] = condition
            return found
    return None


def _lasting(
    detector: Detector, uid: str, since: datetime.datetime | None, detail: dict[str, Any]
) -> Iterator[Found]:
    if since is None:
        return
    due = since + datetime.timedelta(seconds=detector.seconds)
    yield Found(
        detector.state,
        identity_of(detector.state, uid, since.isoformat(), detector.seconds),
        since,
        due,
        detail,
    )


def _node_not_ready(detector: Detector, obj: Object, uid: str) -> Iterator[Found]:
    ready = _condition(obj, "Ready")
    if ready is None or ready.get("status") == "True":
        return
    yield from _lasting(
        detector,
        uid,
        timestamp(ready.get("lastTransitionTime")),
        {"status": ready.get("status"), "reason": ready.get("reason") or ""},
    )


def _deployment_unavailable(detector: Detector, obj: Object, uid: str) -> Iterator[Found]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    wanted = int(spec.get("replicas", 1) or 0)
    available = int(status.get("availableReplicas") or 0)
    condition = _condition(obj, "Available")
    if condition is not None and condition.get("status") == "False":
        since = timestamp(condition.get("lastTransitionTime"))
    elif available < wanted:
        # Available=True but short of replicas: the condition did not move; the latest
        # of it and the rollout's progress is the cluster's best time for "since when".
        progressing = _condition(obj, "Progressing") or {}
        times = [
            timestamp((condition or {}).get("lastTransitionTime")),
            timestamp(progressing.get("lastUpdateTime")),
        ]
        known = [t for t in times if t is not None]
        since = (
            max(known) if known else timestamp((obj.get("metadata") or {}).get("creationTimestamp"))
        )
    else:
        return
    yield from _lasting(
        detector,
        uid,
        since,
        {
            "replicas": wanted,
            "availableReplicas": available,
            "reason": (condition or {}).get("reason") or "",
        },
    )


def _job_failed(_detector: Detector, obj: Object, uid: str) -> Iterator[Found]:
    failed = _condition(obj, "Failed")
    if failed is None or failed.get("status") != "True":
        return
    since = timestamp(failed.get("lastTransitionTime"))
    yield Found(
        JOB_FAILED,
        identity_of(JOB_FAILED, uid, since.isoformat() if since else ""),
        since,
        None,
        {"reason": failed.get("reason") or "", "message": failed.get("message") or ""},
    )


def _pvc_pending(detector: Detector, obj: Object, uid: str) -> Iterator[Found]:
    if ((obj.get("status") or {}).get("phase") or "Pending") != "Pending":
        return
    created = timestamp((obj.get("metadata") or {}).get("creationTimestamp"))
    yield from _lasting(detector, uid, created, {"phase": "Pending"})


_FINDERS = {
    CRASH_LOOP: _crash_loop,
    OOM_KILLED: _oom_killed,
    IMAGE_PULL_BACK_OFF: _image_pull,
    NODE_NOT_READY: _node_not_ready,
    DEPLOYMENT_UNAVAILABLE: _deployment_unavailable,
    JOB_FAILED: _job_failed,
    PVC_PENDING: _pvc_pending,
}
