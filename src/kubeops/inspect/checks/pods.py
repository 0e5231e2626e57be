"""Pods: what their live status says (crash loops, restarts, OOM kills, image pulls,
stuck Pending, leftovers) and what their specs promise (resources, probes, images).

The status checks judge Pods only; the spec checks judge every Pod template once
(a Deployment rather than each of its Pods) and so also run on manifests.
"""

from __future__ import annotations

import datetime
from collections.abc import Container, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from kubeops.inspect.catalog import CheckContext, Hit, PodSpecOwner, register_check
from kubeops.inspect.checks.fields import clip, container_label, explain, namespace
from kubeops.inspect.model import Severity
from kubeops.models.duration import format_age
from kubeops.models.image import ImageReference

if TYPE_CHECKING:
    from kubeops.api import Object

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def _statuses(pod: Object) -> Iterator[tuple[str, Object]]:
    """(kind of container, status) for every container status a Pod reports."""
    status = pod.get("status") or {}
    for kind, key in (
        ("init container", "initContainerStatuses"),
        ("container", "containerStatuses"),
        ("ephemeral container", "ephemeralContainerStatuses"),
    ):
        for entry in status.get(key) or []:
            yield kind, entry


def _waiting(status: Object) -> Object:
    """``state.waiting`` of a container status ({} when the container is not waiting)."""
    return (status.get("state") or {}).get("waiting") or {}


def _waiting_for(
    ctx: CheckContext, reasons: Container[str]
) -> Iterator[tuple[Object, str, Object]]:
    """(Pod, kind of container, status) of every container waiting for one of ``reasons``."""
    for pod in ctx.objects("pods"):
        for kind, status in _statuses(pod):
            if _waiting(status).get("reason") in reasons:
                yield pod, kind, status


def _duration(delta: datetime.timedelta) -> str:
    return format_age(delta.total_seconds())


def _last_exit(status: Object) -> str:
    terminated = (status.get("lastState") or {}).get("terminated") or {}
    if not terminated:
        return ""
    reason = terminated.get("reason") or "exited"
    code = terminated.get("exitCode")
    return f"{reason}, exit code {code}" if code is not None else str(reason)


def _owned_by(obj: Object, kinds: Sequence[str]) -> bool:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return any(ref.get("kind") in kinds for ref in refs)


def _container_specs(pod: Object) -> dict[str, Object]:
    spec = pod.get("spec") or {}
    found: dict[str, Object] = {}
    for key in ("initContainers", "containers"):
        for c in spec.get(key) or []:
            found[str(c.get("name", ""))] = c
    return found


# ---------------------------------------------------------------------------
# Live status
# ---------------------------------------------------------------------------


@register_check(
    "pod-crashloop",
    title="Container in CrashLoopBackOff",
    category="pods",
    severity=Severity.ERROR,
    subject="pods",
    rationale="A container in CrashLoopBackOff exits as soon as it starts; the kubelet waits longer and longer (up to five minutes) between restarts, so the Pod serves nothing.",
    remediation="Read the previous run's logs (`kubectl logs POD -c CONTAINER --previous`) and the exit reason in `kubectl describe pod POD`; fix the command, configuration or dependency it fails on.",
)
def crashloop(ctx: CheckContext) -> Iterator[Hit]:
    for pod, kind, status in _waiting_for(ctx, ("CrashLoopBackOff",)):
        last = _last_exit(status)
        yield Hit(
            pod,
            f"{container_label(kind, status)} is in CrashLoopBackOff after "
            f"{status.get('restartCount', 0)} restarts" + (f" (last exit: {last})" if last else ""),
        )


@register_check(
    "container-restarts",
    title="Container restarted many times",
    category="pods",
    severity=Severity.WARNING,
    subject="pods",
    thresholds={"restarts": 5},
    rationale="Every restart drops in-flight work and connections; a count that keeps growing means a crash, an OOM kill or a failing liveness probe nobody has looked at.",
    remediation="Find why it restarts: `kubectl describe pod POD` (last state, exit code, probe failures) and `kubectl logs POD -c CONTAINER --previous`.",
)
def restarts(ctx: CheckContext) -> Iterator[Hit]:
    limit = int(ctx.threshold("restarts"))
    for pod in ctx.objects("pods"):
        for kind, status in _statuses(pod):
            count = int(status.get("restartCount") or 0)
            if count > limit:
                last = _last_exit(status)
                yield Hit(
                    pod,
                    f"{container_label(kind, status)} restarted {count} times (threshold {limit})"
                    + (f"; last exit: {last}" if last else ""),
                )


@register_check(
    "container-oomkilled",
    title="Container killed for running out of memory",
    category="pods",
    severity=Severity.WARNING,
    subject="pods",
    rationale="The kernel killed the container for exceeding its memory limit (or the node ran out); it will again under the same load, losing its work each time.",
    remediation="Compare the container's memory use (`kubeops top pods`, metrics) with its limit; raise the limit or fix the leak.",
)
def oomkilled(ctx: CheckContext) -> Iterator[Hit]:
    for pod in ctx.objects("pods"):
        specs: dict[str, Object] | None = None
        for kind, status in _statuses(pod):
            state = status.get("state") or {}
            last = status.get("lastState") or {}
            if ((state.get("terminated") or {}).get("reason")) == "OOMKilled":
                when = "was"
            elif ((last.get("terminated") or {}).get("reason")) == "OOMKilled":
                when = "was last"
            else:
                continue
            if specs is None:
                specs = _container_specs(pod)
            resources = (specs.get(str(status.get("name", ""))) or {}).get("resources") or {}
            memory = (resources.get("limits") or {}).get("memory")
            yield Hit(
                pod,
                f"{container_label(kind, status)} {when} OOMKilled"
                + (
                    f" (memory limit {memory})"
                    if memory
                    else " (no memory limit: the node ran out)"
                )
                + f", {status.get('restartCount', 0)} restarts",
            )


_PULL_ERRORS = {
    "ImagePullBackOff",
    "ErrImagePull",
    "InvalidImageName",
    "ErrImageNeverPull",
    "ImageInspectError",
    "RegistryUnavailable",
    "SignatureValidationFailed",
}


@register_check(
    "pod-image-pull-error",
    title="Container image cannot be pulled",
    category="pods",
    severity=Severity.ERROR,
    subject="pods",
    rationale="A container whose image cannot be pulled never starts: the name or tag is wrong, the registry is unreachable, or the pull secret is missing.",
    remediation="Check the image reference and that it exists; check `imagePullSecrets` and the registry's reachability from the node (`kubectl describe pod POD` shows the pull error).",
)
def image_pull_error(ctx: CheckContext) -> Iterator[Hit]:
    for pod, kind, status in _waiting_for(ctx, _PULL_ERRORS):
        waiting = _waiting(status)
        detail = clip(str(waiting.get("message") or "").strip())
        yield Hit(
            pod,
            f'{container_label(kind, status)} cannot pull image "{status.get("image", "")}": '
            f"{waiting.get('reason')}" + (f" ({detail})" if detail else ""),
        )


@register_check(
    "pod-pending",
    title="Pod Pending too long",
    category="pods",
    severity=Severity.WARNING,
    subject="pods",
    thresholds={"minutes": 15},
    rationale="A Pod still Pending after minutes is not going to start by itself: it cannot be scheduled (resources, affinity, taints, unbound volumes) or its containers cannot be created.",
    remediation="`kubectl describe pod POD` shows the scheduler's reason or the container's waiting reason; add capacity, relax constraints or fix the volume or image.",
)
def pending(ctx: CheckContext) -> Iterator[Hit]:
    limit = datetime.timedelta(minutes=float(ctx.threshold("minutes")))
    for pod in ctx.objects("pods"):
        status = pod.get("status") or {}
        if status.get("phase") != "Pending":
            continue
        conditions = {c.get("type"): c for c in status.get("conditions") or []}
        scheduled = conditions.get("PodScheduled") or {}
        # Pending since creation; the condition's time stands in when there is none.
        age = ctx.age((pod.get("metadata") or {}).get("creationTimestamp"))
        if age is None:
            age = ctx.age(scheduled.get("lastTransitionTime"))
        if age is None:
            continue
        age = max(age, datetime.timedelta(0))
        if age < limit:
            continue
        if scheduled.get("status") == "False":
            why = explain(scheduled)
            cause = "not scheduled" + (f" ({why})" if why else "")
        elif (pod.get("spec") or {}).get("nodeName"):
            waiting = [
                f"{container_label(kind, s)} {_waiting(s)['reason']}"
                for kind, s in _statuses(pod)
                if _waiting(s).get("reason")
            ]
            cause = f"on node {pod['spec']['nodeName']}" + (
                f", {', '.join(waiting)}" if waiting else ""
            )
        else:
            cause = "not scheduled yet"
        yield Hit(
            pod,
            f"Pending for {_duration(age)} (threshold {_duration(limit)}): {cause}",
        )


# Failed Pods the kubelet leaves behind after evicting or shutting down: noise to
# clean up rather than an application failure.
_LEFTOVER_REASONS = {"Evicted", "Shutdown", "NodeShutdown", "Terminated"}


@register_check(
    "pod-failed",
    title="Failed Pod left behind",
    category="pods",
    severity=Severity.WARNING,
    subject="pods",
    rationale="A Failed Pod is never restarted; it stays until deleted, hiding the failure in plain sight and cluttering listings. Evicted Pods are a sign of node pressure. Pods of Jobs are skipped (the Job keeps them on purpose).",
    remediation="Read why it failed (`kubectl describe pod POD`), then delete it (`kubectl delete pod POD`, or every Failed Pod: `kubectl delete pods --field-selector=status.phase=Failed -A`).",
)
def failed(ctx: CheckContext) -> Iterator[Hit]:
    for pod in ctx.objects("pods"):
        status = pod.get("status") or {}
        if status.get("phase") != "Failed" or _owned_by(pod, ("Job",)):
            continue
        reason = str(status.get("reason") or "")
        message = clip(str(status.get("message") or "").strip())
        why = ": ".join(x for x in (reason, message) if x)
        finished: list[str] = []
        for kind, entry in _statuses(pod):
            terminated = (entry.get("state") or {}).get("terminated") or {}
            if terminated.get("finishedAt"):
                finished.append(str(terminated["finishedAt"]))
            if not why and terminated.get("reason") not in (None, "Completed"):
                code = terminated.get("exitCode")
                why = f"{container_label(kind, entry)} exited: {terminated['reason']}" + (
                    f", exit code {code}" if code is not None else ""
                )
        text = "the Pod failed" + (f" ({why})" if why else "")
        ended = ctx.age(max(finished)) if finished else None
        if ended is not None:
            text += f" {_duration(ended)} ago and was never deleted"
        yield Hit(pod, text, Severity.INFO if reason in _LEFTOVER_REASONS else None)


# ---------------------------------------------------------------------------
# Pod specs: resources, probes, images
# ---------------------------------------------------------------------------


def _names(text: str) -> list[str]:
    return [n.strip() for n in str(text).split(",") if n.strip()]


def limit_range_fills(limit_ranges: Iterable[Object]) -> tuple[set[str], set[str]]:
    """The resources one namespace's LimitRanges fill in for Containers that give none:
    (default limits, default requests).  Requests default to the default limit,
    which defaults to the max, or else to the min, as the API server does."""
    limits: set[str] = set()
    requests: set[str] = set()
    for limit_range in limit_ranges:
        for item in (limit_range.get("spec") or {}).get("limits") or []:
            if not isinstance(item, dict) or item.get("type") != "Container":
                continue
            limit_keys = set(item.get("default") or {}) | set(item.get("max") or {})
            limits |= limit_keys
            requests |= set(item.get("defaultRequest") or {}) | set(item.get("min") or {})
            requests |= limit_keys
    return limits, requests


def missing_resources(
    container: Object,
    field: str,
    wanted: Iterable[str],
    fills: tuple[set[str], set[str]] = (set(), set()),
) -> list[str]:
    """The ``wanted`` resources a container gives no ``field`` (requests or limits) for,
    counting what its namespace's LimitRanges fill in (``fills``, from
    :func:`limit_range_fills`) and, for requests, its own limits (a request left out
    defaults to the limit)."""
    resources = container.get("resources") or {}
    filled_limits, filled_requests = fills
    given = set(resources.get(field) or {})
    if field == "requests":
        given |= set(resources.get("limits") or {}) | filled_requests
    else:
        given |= filled_limits
    return [r for r in wanted if r not in given]


def _limit_range_defaults(ctx: CheckContext) -> dict[str | None, tuple[set[str], set[str]]]:
    by_namespace: dict[str | None, list[Object]] = {}
    for limit_range in ctx.objects("limitranges"):
        by_namespace.setdefault(namespace(limit_range), []).append(limit_range)
    return {ns: limit_range_fills(ranges) for ns, ranges in by_namespace.items()}


def _resources_check(ctx: CheckContext, field: str) -> Iterator[Hit]:
    wanted = _names(ctx.threshold("resources"))
    defaults = _limit_range_defaults(ctx)
    for owner in ctx.pod_specs():
        fills = defaults.get(namespace(owner.obj), (set(), set()))
        for kind, c in owner.containers():
            missing = missing_resources(c, field, wanted, fills)
            if missing:
                what = " or ".join(f"{r} {field[:-1]}" for r in missing)
                yield Hit(owner.obj, f"{container_label(kind, c)} has no {what}")


@register_check(
    "container-no-requests",
    title="Container without resource requests",
    category="pods",
    severity=Severity.WARNING,
    subject="podspecs",
    needs=("limitranges",),
    static=True,
    thresholds={"resources": "cpu,memory"},
    rationale="The scheduler places Pods by their requests: without them a node is overcommitted, the Pod is BestEffort (evicted first) and autoscalers have nothing to work from. A limit given without a request, or a namespace LimitRange default, counts as a request.",
    remediation="Set `resources.requests` for cpu and memory on every container, from observed use (`kubeops top pods`).",
)
def no_requests(ctx: CheckContext) -> Iterator[Hit]:
    yield from _resources_check(ctx, "requests")


@register_check(
    "container-no-limits",
    title="Container without memory limit",
    category="pods",
    severity=Severity.WARNING,
    subject="podspecs",
    needs=("limitranges",),
    static=True,
    thresholds={"resources": "memory"},
    rationale="A container without a memory limit can take the node's memory until the kernel kills whatever it picks, including other tenants. CPU limits are not required by default (they throttle rather than protect); add `cpu` to the threshold to require them. A namespace LimitRange default counts as a limit.",
    remediation="Set `resources.limits.memory` on every container (usually equal to its memory request).",
)
def no_limits(ctx: CheckContext) -> Iterator[Hit]:
    yield from _resources_check(ctx, "limits")


def _runs_to_completion(owner: PodSpecOwner) -> bool:
    """Jobs, CronJobs and Pods that are not restarted have no use for probes."""
    return (
        owner.obj.get("kind") in ("Job", "CronJob")
        or _owned_by(owner.obj, ("Job", "CronJob"))
        or owner.spec.get("restartPolicy") in ("Never", "OnFailure")
    )


def _probe_check(ctx: CheckContext, field: str) -> Iterator[Hit]:
    for owner in ctx.pod_specs():
        if _runs_to_completion(owner):
            continue
        for kind, c in owner.containers():
            # Native sidecars (init containers with restartPolicy Always) keep running.
            if kind == "init container" and c.get("restartPolicy") != "Always":
                continue
            if not c.get(field):
                yield Hit(owner.obj, f"{container_label(kind, c)} has no {field}")


@register_check(
    "container-no-liveness-probe",
    title="Container without liveness probe",
    category="pods",
    severity=Severity.INFO,
    subject="podspecs",
    static=True,
    rationale="Without a liveness probe a process that hangs without exiting is never restarted. Init containers (except native sidecars) and Pods of Jobs, CronJobs or with restartPolicy Never/OnFailure are skipped: they run to completion.",
    remediation="Add a `livenessProbe` that fails only when the process is stuck (not when a dependency is down), with a generous failureThreshold.",
)
def no_liveness(ctx: CheckContext) -> Iterator[Hit]:
    yield from _probe_check(ctx, "livenessProbe")


@register_check(
    "container-no-readiness-probe",
    title="Container without readiness probe",
    category="pods",
    severity=Severity.WARNING,
    subject="podspecs",
    static=True,
    rationale="Without a readiness probe a Pod receives Service traffic as soon as it starts, before it can answer, and a rollout goes on even when new Pods do not work. Init containers (except native sidecars) and Pods of Jobs, CronJobs or with restartPolicy Never/OnFailure are skipped: they run to completion.",
    remediation="Add a `readinessProbe` that succeeds only when the container can serve requests.",
)
def no_readiness(ctx: CheckContext) -> Iterator[Hit]:
    yield from _probe_check(ctx, "readinessProbe")


def image_tag_problem(image: str) -> str | None:
    """Why ``image`` is not pinned: ``with no tag (latest)`` or ``tagged latest``; None
    when it has a digest or another tag (or is not a valid reference at all: that is
    for whoever parses it to say)."""
    try:
        ref = ImageReference.parse(image)
    except ValueError:
        return None
    if ref.digest:
        return None
    if ref.tag is None:
        return "with no tag (latest)"
    return "tagged latest" if ref.tag == "latest" else None


def image_registry_problem(image: str, allowed: Sequence[str]) -> str | None:
    """Why ``image`` is not from one of the ``allowed`` registries (or repository
    prefixes); None when it is."""
    try:
        ref = ImageReference.parse(image)
    except ValueError as err:
        return f"is not a valid image reference ({err})"
    if ref.comes_from(allowed):
        return None
    return f"comes from {ref.name}, not from the allowed registries ({', '.join(allowed)})"


@register_check(
    "container-image-latest",
    title="Container image tagged latest or untagged",
    category="pods",
    severity=Severity.WARNING,
    subject="podspecs",
    static=True,
    rationale="`latest` (or no tag, which means latest) names whatever was pushed last: Pods of one workload may run different code, a restart can upgrade silently and a rollback has nothing to go back to. An image pinned by digest is fine.",
    remediation="Use an immutable version tag (`app:1.4.2`) or pin the digest (`app@sha256:...`).",
)
def image_latest(ctx: CheckContext) -> Iterator[Hit]:
    for owner in ctx.pod_specs():
        for kind, c in owner.containers():
            image = c.get("image")
            if not image:
                continue
            problem = image_tag_problem(str(image))
            if problem is not None:
                yield Hit(owner.obj, f'{container_label(kind, c)} uses image "{image}" {problem}')


@register_check(
    "container-image-registry",
    title="Container image from a registry not allowed",
    category="pods",
    severity=Severity.ERROR,
    subject="podspecs",
    static=True,
    rationale="Images from registries outside the approved list bypass the scanning, signing and availability guarantees those registries give. Short names like `nginx` come from Docker Hub (docker.io/library/nginx). Runs only when the `allowed_registries` setting is not empty.",
    remediation="Mirror the image into an approved registry and reference it there, or add the registry to `settings.allowed_registries` in the inspect configuration.",
)
def image_registry(ctx: CheckContext) -> Iterator[Hit]:
    allowed = [str(a) for a in ctx.settings.get("allowed_registries") or []]
    if not allowed:
        return
    verdicts: dict[str, str | None] = {}  # image → why not allowed (None: allowed)
    for owner in ctx.pod_specs():
        for kind, c in owner.containers():
            image = c.get("image")
            if not image:
                continue
            image = str(image)
            if image not in verdicts:
                verdicts[image] = image_registry_problem(image, allowed)
            why = verdicts[image]
            if why is not None:
                yield Hit(owner.obj, f'{container_label(kind, c)} image "{image}" {why}')
