"""Resources: every container asks for what it needs (requests and limits present),
within its namespace's LimitRange (min, max, maxLimitRequestRatio per Container
and per Pod) and, with the namespace's other workloads, within its ResourceQuota.

The quota is judged as far as the context shows.  A quota from the policy
directory (no ``status``) is compared with the requests of every workload the
context knows in the namespace (the manifests under review), times their
replicas; objects a controller owns (a Deployment's ReplicaSets and Pods) are
counted through their owner only, and a DaemonSet counts as one Pod (its nodes
are unknown).  A live quota (the cluster's, with ``status.used``) is compared
with what is in use, less what the object's old version charges.  Quotas with
scopes are left out (which Pods they cover depends on the cluster).

Defaults are applied as the API server applies them before it judges: a request
left out is the container's limit, then the LimitRange's ``defaultRequest``
(which defaults to its ``default``, then ``max``, then ``min``); a limit left
out is the LimitRange's ``default`` (or ``max``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from kubeops.inspect.checks.pods import limit_range_fills, missing_resources
from kubeops.models import Quantity, QuantityError
from kubeops.policy.library.base import Check, Finding, PodSpec, pod_spec
from kubeops.policy.library.settings import Environment, Reader
from kubeops.policy.model import Context, Object, Review

Resources = dict[str, Quantity]

# Kinds whose objects make Pods, with their apiVersion (the context is asked by both).
WORKLOADS = (
    ("v1", "Pod"),
    ("v1", "ReplicationController"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "DaemonSet"),
    ("apps/v1", "ReplicaSet"),
    ("batch/v1", "Job"),
    ("batch/v1", "CronJob"),
)
_STANDARD = ("cpu", "memory", "ephemeral-storage")


def quantity(value: object) -> Quantity | None:
    """A manifest's quantity (``"500m"``, ``1``, ``0.5``); None when it is not one."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Quantity(value if isinstance(value, str) else str(value))
    except (QuantityError, TypeError):
        return None


def _resources(value: object) -> Resources:
    found: Resources = {}
    if isinstance(value, dict):
        for name, raw in value.items():
            parsed = quantity(raw)
            if parsed is not None:
                found[str(name)] = parsed
    return found


@dataclass(frozen=True)
class Limits:
    """One namespace's LimitRange items of type Container and Pod, defaults resolved."""

    container: Sequence[tuple[str, Object]]  # (LimitRange name, item)
    pod: Sequence[tuple[str, Object]]

    @classmethod
    def of(cls, limit_ranges: Iterable[Object]) -> Limits:
        """The items of ``limit_ranges`` with the API server's defaults for Container items."""
        container: list[tuple[str, Object]] = []
        pod: list[tuple[str, Object]] = []
        for limit_range in limit_ranges:
            name = str((limit_range.get("metadata") or {}).get("name", ""))
            for item in (limit_range.get("spec") or {}).get("limits") or []:
                if not isinstance(item, dict):
                    continue
                if item.get("type") == "Container":
                    default = {**_resources(item.get("max")), **_resources(item.get("default"))}
                    request = {
                        **_resources(item.get("min")),
                        **default,
                        **_resources(item.get("defaultRequest")),
                    }
                    container.append(
                        (name, {**item, "default": default, "defaultRequest": request})
                    )
                elif item.get("type") == "Pod":
                    pod.append((name, item))
        return cls(container, pod)


def effective(container: Object, limits: Limits) -> tuple[Resources, Resources]:
    """A container's (requests, limits) once the API server has defaulted them."""
    resources = container.get("resources") or {}
    own_limits = _resources(resources.get("limits"))
    requests = {**own_limits, **_resources(resources.get("requests"))}
    given_limits = dict(own_limits)
    for _, item in limits.container:
        for name, value in item["default"].items():
            given_limits.setdefault(name, value)
        for name, value in item["defaultRequest"].items():
            requests.setdefault(name, value)
    return requests, given_limits


def pod_resources(pod: PodSpec, limits: Limits) -> tuple[Resources, Resources]:
    """What one Pod asks for: its containers' sum, or its largest init container if that
    is more (init containers run one at a time, before the others; native sidecars,
    init containers that keep running, add to both)."""
    totals: tuple[Resources, Resources] = ({}, {})
    init_peak: tuple[Resources, Resources] = ({}, {})
    sidecars: tuple[Resources, Resources] = ({}, {})
    for field_name in ("containers", "initContainers"):
        for container in pod.spec.get(field_name) or []:
            if not isinstance(container, dict):
                continue
            pair = effective(container, limits)
            sidecar = field_name == "initContainers" and container.get("restartPolicy") == "Always"
            for index in (0, 1):
                for name, value in pair[index].items():
                    if field_name == "containers" or sidecar:
                        target = totals if field_name == "containers" else sidecars
                        target[index][name] = target[index].get(name, Quantity()) + value
                    else:
                        current = init_peak[index].get(name, Quantity())
                        init_peak[index][name] = max(
                            current, value + sidecars[index].get(name, Quantity())
                        )
    result: tuple[Resources, Resources] = ({}, {})
    for index in (0, 1):
        names = set(totals[index]) | set(init_peak[index]) | set(sidecars[index])
        for name in names:
            running = totals[index].get(name, Quantity()) + sidecars[index].get(name, Quantity())
            result[index][name] = max(running, init_peak[index].get(name, Quantity()))
    return result


def replicas(obj: Object) -> int:
    """How many Pods a workload runs at once, as far as its manifest says."""
    spec = obj.get("spec") or {}
    kind = obj.get("kind")
    if kind == "Job":
        value = spec.get("parallelism", 1)
    elif kind == "CronJob":
        value = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("parallelism", 1)
    elif kind in ("Pod", "DaemonSet"):
        value = 1
    else:
        value = spec.get("replicas", 1)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 1


def _asked(obj: Object) -> str:
    """``this Pod`` or ``this Deployment's 3 Pods``, for quota messages."""
    kind = obj.get("kind")
    if kind == "Pod":
        return "this Pod"
    count = replicas(obj)
    return f"this {kind}'s {count} Pod" + ("" if count == 1 else "s")


def _owned(obj: Object) -> bool:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return any(isinstance(r, dict) and r.get("controller") for r in refs)


def _key(obj: Object) -> tuple[str, str]:
    return str(obj.get("kind") or ""), str((obj.get("metadata") or {}).get("name") or "")


def _usage(pod: PodSpec, count: int, limits: Limits) -> Resources:
    """What ``count`` Pods of ``pod`` charge to a quota, by quota resource name."""
    requests, pod_limits = pod_resources(pod, limits)
    usage: Resources = {"pods": Quantity(count)}
    for name, value in requests.items():
        usage[f"requests.{name}"] = value * count
        if name in _STANDARD:
            usage[name] = value * count
    for name, value in pod_limits.items():
        usage[f"limits.{name}"] = value * count
    return usage


def _required_by_quota(resource: str) -> tuple[str, str] | None:
    """(field, resource) every container must give when a quota tracks ``resource``."""
    if resource in _STANDARD:
        return "requests", resource
    field, dot, name = resource.partition(".")
    if dot and field in ("requests", "limits") and name in _STANDARD:
        return field, name
    return None


@dataclass
class _NamespaceUsage:
    """What one namespace's workloads charge to a quota, kept while the context's
    objects stay the same ones (a policy test reviews thousands of manifests
    against one context: each is then judged in linear time, not against every
    other again)."""

    context: Context
    fingerprint: tuple[int, ...]
    objects: list[Object]  # held so the fingerprint's ids stay theirs
    by_key: dict[tuple[str, str], Resources]
    total: Resources


_USAGE: OrderedDict[tuple[int, str], _NamespaceUsage] = OrderedDict()
_USAGE_LOCK = threading.Lock()
_USAGE_KEPT = 4096  # namespaces; a policy test may review thousands of them in turn


def _namespace_usage(
    context: Context, namespace: str, limit_ranges: Sequence[Object], limits: Limits
) -> _NamespaceUsage:
    listed = [
        obj
        for api_version, kind in WORKLOADS
        for obj in context.objects(api_version, kind, namespace)
    ]
    fingerprint = (*map(id, listed), -1, *map(id, limit_ranges))
    key = (id(context), namespace)
    with _USAGE_LOCK:  # the webhook evaluates in worker threads
        cached = _USAGE.get(key)
        if cached is not None and cached.context is context and cached.fingerprint == fingerprint:
            _USAGE.move_to_end(key)
            return cached
    workloads = [obj for obj in listed if not _owned(obj)]
    by_key: dict[tuple[str, str], Resources] = {}
    total: Resources = {}
    for obj in workloads:
        pod = pod_spec(obj)
        if pod is None:
            continue
        usage = by_key.setdefault(_key(obj), {})
        for name, value in _usage(pod, replicas(obj), limits).items():
            usage[name] = usage.get(name, Quantity()) + value
            total[name] = total.get(name, Quantity()) + value
    found = _NamespaceUsage(context, fingerprint, [*listed, *limit_ranges], by_key, total)
    with _USAGE_LOCK:
        _USAGE[key] = found
        while len(_USAGE) > _USAGE_KEPT:
            _USAGE.popitem(last=False)
    return found


def _others_in_set(
    review: Review, context: Context, limit_ranges: Sequence[Object], limits: Limits
) -> tuple[Resources, str]:
    """What the set's other workloads in the namespace charge, and how to say so."""
    usage = _namespace_usage(context, review.namespace, limit_ranges, limits)
    key = _key(review.subject)
    mine = usage.by_key.get(key, {})
    others = {name: value - mine.get(name, Quantity()) for name, value in usage.total.items()}
    counted = len(usage.by_key) - (1 if key in usage.by_key else 0)
    said = f"{counted} other workload{'s' if counted != 1 else ''} in the namespace"
    return others, said if counted else ""


def _in_use(review: Review, quota: Object, limits: Limits) -> Resources:
    """A live quota's ``status.used`` without what the reviewed object's old version
    already charges (an update replaces it)."""
    used = _resources((quota.get("status") or {}).get("used"))
    old = review.old_object if isinstance(review.old_object, dict) else None
    old_pod = pod_spec(old) if old is not None else None
    if old is None or old_pod is None:
        return used
    charged = _usage(old_pod, replicas(old), limits)
    return {
        name: max(value - charged.get(name, Quantity()), Quantity()) for name, value in used.items()
    }


def _quota_findings(
    review: Review,
    pod: PodSpec,
    context: Context,
    limit_ranges: Sequence[Object],
    limits: Limits,
) -> list[Finding]:
    """Each ResourceQuota of the namespace against this object and the rest: a live
    quota (one with ``status.used``, as the cluster keeps it) by its usage, one from
    the policy directory by the set's other workloads."""
    namespace = review.namespace
    quotas = [
        q
        for q in context.objects("v1", "ResourceQuota", namespace)
        if not (q.get("spec") or {}).get("scopes")
        and not (q.get("spec") or {}).get("scopeSelector")
    ]
    if not quotas:
        return []
    subject = review.subject
    own = _usage(pod, replicas(subject), limits)
    in_set: tuple[Resources, str] | None = None
    findings: list[Finding] = []
    for quota in quotas:
        meta = quota.get("metadata") or {}
        label = f"ResourceQuota {namespace}/{meta.get('name', '')}"
        hard = _resources((quota.get("spec") or {}).get("hard"))
        if (quota.get("status") or {}).get("used"):
            others, said = _in_use(review, quota, limits), "in use"
        else:
            if in_set is None:
                in_set = _others_in_set(review, context, limit_ranges, limits)
            others, said = in_set
        for resource in sorted(hard):
            required = _required_by_quota(resource)
            if required is not None:
                field, name = required
                missing = [
                    (str(container.get("name", "")), path)
                    for container_label, path, container in pod.containers()
                    if "ephemeral" not in container_label
                    and name not in effective(container, limits)[0 if field == "requests" else 1]
                ]
                if missing:
                    names = ",".join(sorted(n for n, _ in missing))
                    findings.append(
                        Finding(
                            f"{label}: must specify {resource} for: {names} "
                            f"(the quota tracks it, so every container must give {field}.{name})",
                            f"{missing[0][1]}.resources",
                        )
                    )
            mine = own.get(resource)
            if mine is None or mine.is_zero():
                continue
            rest = others.get(resource, Quantity())
            total = mine + rest
            if total > hard[resource]:
                shared = f"; {said}: {rest}" if said else ""
                findings.append(
                    Finding(
                        f"{label}: {resource} would be {total}, above its hard limit "
                        f"{hard[resource]} ({_asked(subject)}: {mine}{shared})",
                        pod.path,
                    )
                )
    return findings


def _bounds(
    label: str, what: str, requests: Resources, limits: Resources, item: Object
) -> list[str]:
    """LimitRanger's min / max / maxLimitRequestRatio checks of one item, worded as the
    API server words them (the first failure of each constraint), then who failed."""
    problems: list[str] = []
    kind = item.get("type")
    for name, low in sorted(_resources(item.get("min")).items()):
        request, limit = requests.get(name), limits.get(name)
        head = f"minimum {name} usage per {kind} is {low}"
        if request is None:
            problems.append(f"{head}.  No request is specified")
        elif request < low:
            problems.append(f"{head}, but request is {request}")
        elif limit is not None and limit < low:
            problems.append(f"{head}, but limit is {limit}")
    for name, high in sorted(_resources(item.get("max")).items()):
        request, limit = requests.get(name), limits.get(name)
        head = f"maximum {name} usage per {kind} is {high}"
        if limit is None:
            problems.append(f"{head}.  No limit is specified")
        elif limit > high:
            problems.append(f"{head}, but limit is {limit}")
        elif request is not None and request > high:
            problems.append(f"{head}, but request is {request}")
    for name, ratio in sorted(_resources(item.get("maxLimitRequestRatio")).items()):
        request, limit = requests.get(name), limits.get(name)
        head = f"{name} max limit to request ratio per {kind} is {ratio}"
        if request is None or request.is_zero():
            problems.append(f"{head}, but no request is specified or request is 0")
        elif limit is None or limit.is_zero():
            problems.append(f"{head}, but no limit is specified or limit is 0")
        else:
            observed = limit.as_fraction() / request.as_fraction()
            if observed > ratio.as_fraction():
                problems.append(f"{head}, but provided ratio is {float(observed):f}")
    return [f"{label}: {problem} ({what})" for problem in problems]


def _limit_range_findings(pod: PodSpec, limits: Limits, namespace: str) -> list[Finding]:
    findings: list[Finding] = []
    for container_label, path, container in pod.containers():
        if "ephemeral" in container_label:
            continue
        requests, given = effective(container, limits)
        for name, item in limits.container:
            label = f"LimitRange {namespace}/{name}"
            findings += [
                Finding(m, f"{path}.resources")
                for m in _bounds(label, container_label, requests, given, item)
            ]
    if limits.pod:
        requests, given = pod_resources(pod, limits)
        for name, item in limits.pod:
            label = f"LimitRange {namespace}/{name}"
            findings += [
                Finding(m, pod.path) for m in _bounds(label, "the Pod", requests, given, item)
            ]
    return findings


def configure(settings: Reader, environment: Environment) -> Check:
    """The resources check: ``requests`` and ``limits`` (resource names every container
    must give; cpu,memory and memory by default), ``quota`` and ``limitRange``
    (judge the namespace's ResourceQuotas and LimitRanges; both true by default)."""
    settings.only(("requests", "limits", "quota", "limitRange"))
    wanted: Mapping[str, Sequence[str]] = {
        "requests": settings.strings("requests", ("cpu", "memory")),
        "limits": settings.strings("limits", ("memory",)),
    }
    judge_quota = settings.boolean("quota", True)
    judge_ranges = settings.boolean("limitRange", True)

    def check(review: Review, context: Context) -> list[Finding]:
        pod = pod_spec(review.subject)
        if pod is None:
            return []
        ranges = (
            list(context.objects("v1", "LimitRange", review.namespace)) if review.namespace else []
        )
        limits = Limits.of(ranges)
        fills = limit_range_fills(ranges)
        findings: list[Finding] = []
        for container_label, path, container in pod.containers():
            if "ephemeral" in container_label:
                continue  # ephemeral containers take no resources
            for field, names in wanted.items():
                missing = missing_resources(container, field, names, fills)
                if missing:
                    what = " or ".join(f"{r} {field[:-1]}" for r in missing)
                    findings.append(
                        Finding(f"{container_label} has no {what}", f"{path}.resources")
                    )
        if judge_ranges and (limits.container or limits.pod):
            findings += _limit_range_findings(pod, limits, review.namespace)
        if judge_quota and review.namespace:
            findings += _quota_findings(review, pod, context, ranges, limits)
        return findings

    return check
