"""Pod cases: live Pods with the container statuses a kubelet would report, and
Deployments/Jobs/Pods whose specs pass or fail the spec checks."""

from __future__ import annotations

import copy
import datetime
from typing import Any

from ..harness import Case

Object = dict[str, Any]

# Status times: an hour ago, so ages in messages look like a real cluster's.
NOW = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)).strftime(
    "%Y-%m-%dT%H:%M:%SZ"
)


def container(
    name: str = "app", image: str = "registry.example.com/team/app:1.2.3", **extra: Any
) -> Object:
    """A container that passes every spec check."""
    body: Object = {
        "name": name,
        "image": image,
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"memory": "128Mi"},
        },
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
        "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}},
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    body.update(extra)
    return body


def init(body: Object) -> Object:
    """``body`` as an init container: those run to completion and take no probes."""
    body.pop("livenessProbe", None)
    body.pop("readinessProbe", None)
    return body


def sidecar(body: Object) -> Object:
    """``body`` as a native sidecar: an init container that keeps running."""
    return {**body, "restartPolicy": "Always"}


def pod_spec(*containers: Object, **extra: Any) -> Object:
    """A Pod spec that passes every spec and security check."""
    spec: Object = {
        "containers": list(containers) or [container()],
        "serviceAccountName": "app",
        "automountServiceAccountToken": False,
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001},
    }
    spec.update(extra)
    return spec


def deployment(name: str, spec: Object | None = None) -> Object:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": spec or pod_spec()},
        },
    }


def job(name: str, spec: Object | None = None) -> Object:
    spec = copy.deepcopy(spec or pod_spec())
    spec["restartPolicy"] = "Never"
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {"template": {"spec": spec}},
    }


def cronjob(name: str, spec: Object | None = None) -> Object:
    spec = copy.deepcopy(spec or pod_spec())
    spec["restartPolicy"] = "OnFailure"
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name},
        "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": spec}}}},
    }


def container_status(
    name: str = "app",
    *,
    restarts: int = 0,
    waiting: str | None = None,
    message: str = "",
    last: str | None = None,
    terminated: str | None = None,
    exit_code: int = 1,
    image: str = "registry.example.com/team/app:1.2.3",
) -> Object:
    """What the kubelet reports: running, waiting for ``waiting`` or ``terminated``
    for that reason; ``last`` is the reason of the previous termination."""
    if terminated:
        state: Object = {
            "terminated": {
                "reason": terminated,
                "exitCode": exit_code,
                "startedAt": NOW,
                "finishedAt": NOW,
            }
        }
        ready, started = False, False
    elif waiting:
        state = {"waiting": {"reason": waiting, **({"message": message} if message else {})}}
        ready, started = False, False
    else:
        state = {"running": {"startedAt": NOW}}
        ready, started = True, True
    status: Object = {
        "name": name,
        "state": state,
        "lastState": {},
        "ready": ready,
        "started": started,
        "restartCount": restarts,
        "image": image,
        "imageID": "" if waiting else f"{image.rsplit(':', 1)[0]}@sha256:{'a' * 64}",
    }
    if not waiting and not terminated:
        status["containerID"] = f"containerd://{'b' * 64}"
    if last:
        status["lastState"] = {
            "terminated": {
                "reason": last,
                "exitCode": exit_code,
                "startedAt": NOW,
                "finishedAt": NOW,
                "containerID": f"containerd://{'c' * 64}",
            }
        }
    return status


def pod(
    name: str,
    *statuses: Object,
    spec: Object | None = None,
    phase: str = "Running",
    node: str | None = "inspect-node-1",
    **status: Any,
) -> Object:
    """A Pod with the status a kubelet would have written (Running and ready by default)."""
    body_spec = copy.deepcopy(spec or pod_spec())
    if node:
        body_spec["nodeName"] = node
    all_statuses = list(statuses) or [container_status()]
    ready = all(s.get("ready") for s in all_statuses) and phase == "Running"
    conditions: list[Object] = [
        {
            "type": "PodScheduled",
            "status": "True" if node else "False",
            "lastTransitionTime": NOW,
            **(
                {}
                if node
                else {
                    "reason": "Unschedulable",
                    "message": "0/3 nodes are available: 3 Insufficient cpu.",
                }
            ),
        }
    ]
    if node:
        conditions += [
            {"type": t, "status": "True" if ready else "False", "lastTransitionTime": NOW}
            for t in ("Initialized", "ContainersReady", "Ready")
        ]
    body_status: Object = {"phase": phase, "conditions": conditions}
    if node:
        body_status.update(
            {
                "hostIP": "10.0.0.11",
                "podIP": "10.244.1.10",
                "startTime": NOW,
                "containerStatuses": all_statuses,
            }
        )
    body_status.update(status)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": body_spec,
        "status": body_status,
    }


def secure_pod(name: str, spec: Object | None = None) -> Object:
    """A Pod that passes the spec checks (its ServiceAccount is created too)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": spec or pod_spec(),
    }


APP_ACCOUNT: Object = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "app"}}


def running(name: str = "healthy") -> list[Object]:
    """A healthy running Pod (and the ServiceAccount its spec names)."""
    return [APP_ACCOUNT, pod(name, container_status(restarts=1, last="Completed", exit_code=0))]


def without(key: str, **changes: Any) -> Object:
    """A container missing ``key`` (a dotted path), with other fields changed."""
    body = container(**changes)
    parent = body
    *path, last = key.split(".")
    for step in path:
        parent = parent[step]
    del parent[last]
    return body


CASES = [
    Case(
        "pod-crashloop",
        bad=[
            APP_ACCOUNT,
            pod(
                "crashing",
                container_status(
                    restarts=12,
                    waiting="CrashLoopBackOff",
                    message="back-off 5m0s restarting failed container=app pod=crashing",
                    last="Error",
                ),
                phase="Running",
            ),
        ],
        good=running(),
        expect=["Pod/crashing"],
    ),
    Case(
        "container-restarts",
        bad=[
            APP_ACCOUNT,
            pod("restarting", container_status(restarts=7, last="Error", exit_code=2)),
        ],
        good=[APP_ACCOUNT, pod("steady", container_status(restarts=3, last="Error"))],
        expect=["Pod/restarting"],
        thresholds={"restarts": 5},
    ),
    Case(
        "container-oomkilled",
        bad=[
            APP_ACCOUNT,
            pod("oom", container_status(restarts=2, last="OOMKilled", exit_code=137)),
        ],
        good=running(),
        expect=["Pod/oom"],
    ),
    Case(
        "pod-image-pull-error",
        bad=[
            APP_ACCOUNT,
            pod(
                "backoff",
                container_status(
                    waiting="ImagePullBackOff",
                    message='Back-off pulling image "registry.example.com/team/app:nope"',
                    image="registry.example.com/team/app:nope",
                ),
                phase="Pending",
            ),
            pod(
                "errpull",
                container_status(waiting="ErrImagePull", message="manifest unknown"),
                phase="Pending",
            ),
            pod(
                "invalid",
                container_status(waiting="InvalidImageName", image="Registry/App"),
                phase="Pending",
            ),
        ],
        good=[
            APP_ACCOUNT,
            pod("creating", container_status(waiting="ContainerCreating"), phase="Pending"),
            *running()[1:],
        ],
        expect=["Pod/backoff", "Pod/errpull", "Pod/invalid"],
    ),
    Case(
        "pod-pending",
        bad=[
            APP_ACCOUNT,
            pod("unschedulable", phase="Pending", node=None),
            pod("stuck", container_status(waiting="ContainerCreating"), phase="Pending"),
        ],
        good=running(),
        expect=["Pod/unschedulable", "Pod/stuck"],
        thresholds={"minutes": 0},
    ),
    Case(
        "pod-failed",
        bad=[
            APP_ACCOUNT,
            pod(
                "evicted",
                container_status(terminated="ContainerStatusUnknown", exit_code=137),
                phase="Failed",
                reason="Evicted",
                message="The node was low on resource: memory.",
            ),
            pod(
                "crashed",
                container_status(terminated="Error", exit_code=1),
                spec=pod_spec(restartPolicy="Never"),
                phase="Failed",
            ),
        ],
        good=[
            APP_ACCOUNT,
            *running()[1:],
            pod(
                "done",
                container_status(terminated="Completed", exit_code=0),
                spec=pod_spec(restartPolicy="Never"),
                phase="Succeeded",
            ),
        ],
        expect=["Pod/evicted", "Pod/crashed"],
    ),
    # Spec checks.
    Case(
        "container-no-requests",
        bad=[
            deployment("no-requests", pod_spec(without("resources.requests"))),
            deployment(
                "no-memory-request", pod_spec(container(resources={"requests": {"cpu": "1"}}))
            ),
            job("job-no-requests", pod_spec(container(resources={}))),
        ],
        good=[
            deployment("requests"),
            # A limit given without a request is the request.
            deployment(
                "limits-only",
                pod_spec(container(resources={"limits": {"cpu": "1", "memory": "1Gi"}})),
            ),
        ],
        expect=["Deployment/no-requests", "Deployment/no-memory-request", "Job/job-no-requests"],
    ),
    Case(
        "container-no-limits",
        bad=[
            deployment("no-limits", pod_spec(without("resources.limits"))),
            deployment(
                "init-no-limits",
                pod_spec(container(), initContainers=[init(container("setup", resources={}))]),
            ),
        ],
        good=[
            deployment("limits"),
            # A LimitRange default fills the limit in.
            {
                "apiVersion": "v1",
                "kind": "LimitRange",
                "metadata": {"name": "defaults"},
                "spec": {
                    "limits": [
                        {
                            "type": "Container",
                            "default": {"memory": "256Mi"},
                            "defaultRequest": {"memory": "128Mi"},
                        }
                    ]
                },
            },
            deployment("limit-range-default", pod_spec(without("resources.limits"))),
        ],
        expect=["Deployment/no-limits", "Deployment/init-no-limits"],
    ),
    Case(
        "container-no-liveness-probe",
        bad=[deployment("no-liveness", pod_spec(without("livenessProbe")))],
        good=[
            deployment("liveness"),
            job("batch", pod_spec(without("livenessProbe"))),
            cronjob("nightly", pod_spec(without("livenessProbe"))),
            # Init containers run to completion and need no probe.
            deployment(
                "init",
                pod_spec(container(), initContainers=[init(container("setup"))]),
            ),
        ],
        expect=["Deployment/no-liveness"],
    ),
    Case(
        "container-no-readiness-probe",
        bad=[
            APP_ACCOUNT,
            secure_pod("no-readiness", pod_spec(without("readinessProbe"))),
            deployment(
                "native-sidecar",
                pod_spec(
                    container(), initContainers=[sidecar(without("readinessProbe", name="proxy"))]
                ),
            ),
            deployment(
                "sidecar-no-readiness",
                pod_spec(container(), without("readinessProbe", name="sidecar")),
            ),
        ],
        good=[
            deployment("readiness"),
            job("batch", pod_spec(without("readinessProbe"))),
            cronjob("nightly", pod_spec(without("readinessProbe"))),
        ],
        expect=["Pod/no-readiness", "Deployment/sidecar-no-readiness", "Deployment/native-sidecar"],
    ),
    Case(
        "container-image-latest",
        bad=[
            deployment("latest", pod_spec(container(image="nginx:latest"))),
            deployment("untagged", pod_spec(container(image="registry.example.com:5000/team/app"))),
            deployment(
                "init-latest",
                pod_spec(container(), initContainers=[init(container("setup", image="busybox"))]),
            ),
        ],
        good=[
            deployment("pinned", pod_spec(container(image="nginx:1.27.3"))),
            deployment("digest", pod_spec(container(image=f"nginx@sha256:{'0' * 64}"))),
            deployment(
                "latest-digest", pod_spec(container(image=f"nginx:latest@sha256:{'1' * 64}"))
            ),
            deployment("port-tag", pod_spec(container(image="localhost:5000/app:2.0"))),
        ],
        expect=["Deployment/latest", "Deployment/untagged", "Deployment/init-latest"],
    ),
    Case(
        "container-image-registry",
        bad=[
            deployment("quay", pod_spec(container(image="quay.io/prometheus/prometheus:v3.1.0"))),
            deployment("hub-user", pod_spec(container(image="bitnami/redis:7.4"))),
            # A prefix matches whole path components: example.com.evil.io is another host.
            deployment(
                "lookalike", pod_spec(container(image="registry.example.com.evil.io/team/app:1"))
            ),
        ],
        good=[
            deployment("allowed-host"),
            # docker.io/library allows official short names.
            deployment("official", pod_spec(container(image="nginx:1.27.3"))),
            deployment("official-long", pod_spec(container(image="docker.io/library/redis:7.4"))),
        ],
        expect=["Deployment/quay", "Deployment/hub-user", "Deployment/lookalike"],
        settings={"allowed_registries": ["registry.example.com", "docker.io/library"]},
    ),
]
