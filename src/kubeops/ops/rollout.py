"""Rollouts of Deployments, StatefulSets and DaemonSets, as ``kubectl rollout`` does them.

::

    web = Rollout(client, "deploy", "web")
    await web.set_image({"web": "nginx:1.27"}, change_cause="bump nginx")
    await web.status(timeout=120, on_progress=print)   # waits; fails on a stuck rollout
    for revision in await web.history():
        print(revision.revision, revision.change_cause)
    await web.undo()                                     # or undo(to_revision=3)

Every verb follows kubectl's rules and wording, so the cluster ends up exactly as
kubectl would leave it:

* history comes from the revision annotations of a Deployment's ReplicaSets, or
  from the ControllerRevisions of a StatefulSet or DaemonSet;
* undo copies the chosen revision's pod template (without its
  ``pod-template-hash`` label) and its annotations back into the Deployment, so
  the controller renumbers it as the newest revision; a StatefulSet or
  DaemonSet gets the ControllerRevision's patch;
* status applies kubectl's status viewers, and fails on a progress deadline
  exceeded or -- where kubectl would wait for ever -- on a paused Deployment
  with changes it will not roll out;
* restart sets ``kubectl.kubernetes.io/restartedAt`` in the pod template, pause
  and resume flip ``spec.paused``.

Writes carry the resourceVersion that was read, so a verb never overwrites a
change it did not see: on a conflict it reads again and decides again.
:class:`SyncRollout` is the same for :class:`~kubeops.api.SyncClient`.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from kubeops.api.client import Client, Kind
from kubeops.api.object import Object
from kubeops.api.resource import ResourceType
from kubeops.models.quantity import Quantity, QuantityError
from kubeops.models.selector import Selector
from kubeops.ops.errors import OperationError
from kubeops.ops.wait import ObjectWatch, display_name
from kubeops.transport.errors import Conflict

if TYPE_CHECKING:
    from kubeops.api.sync import SyncClient

__all__ = [
    "CHANGE_CAUSE",
    "RESTARTED_AT",
    "REVISION",
    "ContainerNotFound",
    "ProgressDeadlineExceeded",
    "Revision",
    "RevisionNotFound",
    "Rollout",
    "RolloutError",
    "RolloutNotSupported",
    "RolloutPaused",
    "RolloutResult",
    "RolloutStatus",
    "RolloutTimeout",
    "SyncRollout",
    "describe_pod_template",
    "format_history",
    "retry_on_conflict",
    "rollout_status_of",
]

T = TypeVar("T")

CHANGE_CAUSE = "kubernetes.io/change-cause"
REVISION = "deployment.kubernetes.io/revision"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
POD_TEMPLATE_HASH = "pod-template-hash"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# Annotations a Deployment keeps through an undo; the others come from the revision.
_DEPLOYMENT_OWN_ANNOTATIONS = frozenset(
    {
        LAST_APPLIED,
        REVISION,
        "deployment.kubernetes.io/revision-history",
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
        "deprecated.deployment.rollback.to",
    }
)
_ROLLOUT_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
# Where each kind keeps its pod spec (``set image`` works on all of them).
_POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    **dict.fromkeys(
        (
            "Deployment",
            "StatefulSet",
            "DaemonSet",
            "ReplicaSet",
            "ReplicationController",
            "Job",
        ),
        ("spec", "template", "spec"),
    ),
}
_CONFLICT_ATTEMPTS = 5


# -- errors -----------------------------------------------------------------------------------


class RolloutError(OperationError):
    """A rollout verb failed: names the verb, the object, its namespace and the cause."""


class RevisionNotFound(RolloutError):
    """The revision asked for is not in the history (or there is no earlier one)."""


class RolloutPaused(RolloutError):
    """The Deployment is paused: it will not roll out, be rolled back or restarted."""


class ProgressDeadlineExceeded(RolloutError):
    """The Deployment made no progress for ``spec.progressDeadlineSeconds``."""


class RolloutTimeout(RolloutError):
    """The rollout did not complete in the time given; says how far it got."""


class RolloutNotSupported(RolloutError):
    """The verb does not apply to this kind (pausing a StatefulSet, undoing a Pod)."""


class ContainerNotFound(RolloutError):
    """``set_image`` named a container the pod template does not have."""


# -- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RolloutStatus:
    """Where a rollout stands: ``done``, kubectl's ``message``, and the replica counts."""

    target: str
    namespace: str | None
    done: bool
    message: str
    desired: int = 0
    updated: int = 0
    ready: int = 0
    available: int = 0
    revision: int | None = None
    paused: bool = False
    observed: bool = True

    def __str__(self) -> str:
        return self.message

    @property
    def progress(self) -> str:
        """``updated 1/3, ready 2/3, available 2/3``: the replica counts at a glance."""
        return ", ".join(
            f"{what} {count}/{self.desired}"
            for what, count in (
                ("updated", self.updated),
                ("ready", self.ready),
                ("available", self.available),
            )
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "namespace": self.namespace,
            "done": self.done,
            "message": self.message,
            "progress": self.progress,
            "desired": self.desired,
            "updated": self.updated,
            "ready": self.ready,
            "available": self.available,
            "revision": self.revision,
            "paused": self.paused,
            "observed": self.observed,
        }


@dataclass(frozen=True)
class Revision:
    """One entry of a rollout's history: its number, change-cause and pod template.

    ``source`` names the ReplicaSet or ControllerRevision it was read from.
    """

    revision: int
    change_cause: str | None
    template: Object
    source: str
    object: Object = field(default_factory=dict, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "changeCause": self.change_cause,
            "source": self.source,
            "template": self.template,
        }


@dataclass(frozen=True)
class RolloutResult:
    """What a verb did: kubectl's ``action`` (``rolled back``, ``paused``...), whether it
    ``changed`` anything, and the object as the server returned it."""

    target: str
    namespace: str | None
    action: str
    changed: bool
    object: Object = field(default_factory=dict, compare=False, repr=False)
    revision: int | None = None
    dry_run: bool = False

    def __str__(self) -> str:
        return f"{self.target} {self.action}" + (" (server dry run)" if self.dry_run else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "namespace": self.namespace,
            "action": self.action,
            "changed": self.changed,
            "revision": self.revision,
            "dryRun": self.dry_run,
            "object": self.object,
        }


# -- status: kubectl's status viewers ---------------------------------------------------------


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def rollout_status_of(
    resource: ResourceType, obj: Mapping[str, Any], revision: int | None = None
) -> RolloutStatus:
    """The status of one Deployment, StatefulSet or DaemonSet, as ``kubectl rollout status``
    words it; raises :class:`ProgressDeadlineExceeded` and, for an ``OnDelete``
    strategy, :class:`RolloutNotSupported`."""
    viewer = _STATUS_VIEWERS.get(resource.kind)
    view = _View(resource, obj)
    if viewer is None:
        raise view.fail(
            RolloutNotSupported,
            f"no status viewer for {resource.qualified_name}; rollouts apply to "
            "deployments, statefulsets and daemonsets",
        )
    return viewer(view, revision)


class _View:
    """One object seen by a status viewer: its parts, and how to report on it."""

    def __init__(self, resource: ResourceType, obj: Mapping[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        self.obj = obj
        self.name = str(meta.get("name", ""))
        self.target = display_name(resource, self.name)
        self.namespace: str | None = meta.get("namespace")
        self.spec: Mapping[str, Any] = obj.get("spec") or {}
        self.status: Mapping[str, Any] = obj.get("status") or {}
        self.generation = _int(meta.get("generation"))
        self.observed_generation = _int(self.status.get("observedGeneration"))
        self.counts: dict[str, Any] = {}

    def count(self, field: str, default: int = 0) -> int:
        return _int(self.status.get(field), default)

    def result(self, done: bool, message: str, *, observed: bool = True) -> RolloutStatus:
        return RolloutStatus(
            self.target, self.namespace, done, message, observed=observed, **self.counts
        )

    def fail(self, cls: type[RolloutError], cause: str) -> RolloutError:
        return cls("rollout status", self.target, self.namespace, cause)


def _deployment_status(view: _View, revision: int | None) -> RolloutStatus:
    current = _revision_of(view.obj)
    if revision and revision != current:
        raise view.fail(
            RolloutError,
            f"desired revision ({revision}) is different from the running revision ({current})",
        )
    desired = _int(view.spec.get("replicas"), 1)
    updated, available = view.count("updatedReplicas"), view.count("availableReplicas")
    view.counts = {
        "desired": desired,
        "updated": updated,
        "ready": view.count("readyReplicas"),
        "available": available,
        "revision": current or None,
        "paused": bool(view.spec.get("paused")),
    }
    if view.generation > view.observed_generation:
        return view.result(
            False, "Waiting for deployment spec update to be observed...", observed=False
        )
    progressing = _condition(view.status, "Progressing")
    if progressing and progressing.get("reason") == "ProgressDeadlineExceeded":
        detail = progressing.get("message")
        raise view.fail(
            ProgressDeadlineExceeded,
            f'deployment "{view.name}" exceeded its progress deadline'
            + (f": {detail}" if detail else ""),
        )
    waiting = f'Waiting for deployment "{view.name}" rollout to finish: '
    total = view.count("replicas")
    if updated < desired:
        return view.result(
            False, waiting + f"{updated} out of {desired} new replicas have been updated..."
        )
    if total > updated:
        return view.result(
            False, waiting + f"{total - updated} old replicas are pending termination..."
        )
    if available < updated:
        return view.result(
            False, waiting + f"{available} of {updated} updated replicas are available..."
        )
    return view.result(True, f'deployment "{view.name}" successfully rolled out')


def _daemonset_status(view: _View, revision: int | None) -> RolloutStatus:
    if (view.spec.get("updateStrategy") or {}).get("type") != "RollingUpdate":
        raise view.fail(
            RolloutNotSupported, "rollout status is only available for RollingUpdate strategy type"
        )
    desired = view.count("desiredNumberScheduled")
    updated, available = view.count("updatedNumberScheduled"), view.count("numberAvailable")
    view.counts = {
        "desired": desired,
        "updated": updated,
        "ready": view.count("numberReady"),
        "available": available,
    }
    if view.generation > view.observed_generation:
        return view.result(
            False, "Waiting for daemon set spec update to be observed...", observed=False
        )
    waiting = f'Waiting for daemon set "{view.name}" rollout to finish: '
    if updated < desired:
        return view.result(
            False, waiting + f"{updated} out of {desired} new pods have been updated..."
        )
    if available < desired:
        return view.result(
            False, waiting + f"{available} of {desired} updated pods are available..."
        )
    return view.result(True, f'daemon set "{view.name}" successfully rolled out')


def _statefulset_status(view: _View, revision: int | None) -> RolloutStatus:
    strategy = view.spec.get("updateStrategy") or {}
    if strategy.get("type") != "RollingUpdate":
        raise view.fail(
            RolloutNotSupported, "rollout status is only available for RollingUpdate strategy type"
        )
    desired = _int(view.spec.get("replicas"), 1)
    ready, updated = view.count("readyReplicas"), view.count("updatedReplicas")
    view.counts = {
        "desired": desired,
        "updated": updated,
        "ready": ready,
        "available": view.count("availableReplicas"),
    }
    if view.observed_generation == 0 or view.generation > view.observed_generation:
        return view.result(
            False, "Waiting for statefulset spec update to be observed...", observed=False
        )
    if ready < desired:
        return view.result(False, f"Waiting for {desired - ready} pods to be ready...")
    rolling = strategy.get("rollingUpdate")
    if rolling is not None:
        partition = rolling.get("partition")
        if isinstance(partition, int) and updated < desired - partition:
            return view.result(
                False,
                "Waiting for partitioned roll out to finish: "
                f"{updated} out of {desired - partition} new pods have been updated...",
            )
        return view.result(
            True, f"partitioned roll out complete: {updated} new pods have been updated..."
        )
    update_revision = view.status.get("updateRevision")
    current_revision = view.status.get("currentRevision")
    if update_revision != current_revision:
        return view.result(
            False,
            f"waiting for statefulset rolling update to complete {updated} pods "
            f"at revision {update_revision}...",
        )
    return view.result(
        True,
        f"statefulset rolling update complete {view.count('currentReplicas')} pods "
        f"at revision {current_revision}...",
    )


_STATUS_VIEWERS: dict[str, Callable[[_View, int | None], RolloutStatus]] = {
    "Deployment": _deployment_status,
    "DaemonSet": _daemonset_status,
    "StatefulSet": _statefulset_status,
}


def _condition(status: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for condition in status.get("conditions") or []:
        if isinstance(condition, Mapping) and condition.get("type") == kind:
            return condition
    return None


def _revision_of(obj: Mapping[str, Any]) -> int:
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION)
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


# -- templates ---------------------------------------------------------------------------------


def _pruned(value: Any) -> Any:
    """Drop empty maps, lists and nulls: apimachinery's semantic equality treats them as unset."""
    if isinstance(value, Mapping):
        kept = {k: _pruned(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


def _without_hash(template: Mapping[str, Any]) -> Object:
    copied: Object = copy.deepcopy(dict(template))
    labels = (copied.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(POD_TEMPLATE_HASH, None)
    copied.pop("$patch", None)
    return copied


def _same_template(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return bool(_pruned(_without_hash(a)) == _pruned(_without_hash(b)))


# -- the pod template as kubectl describes it (``rollout history --revision``) ---------------

_MAX_ANNOTATION = 140


def _write_map(
    lines: list[str], title: str, values: Mapping[str, Any] | None, skip: Sequence[str] = ()
) -> None:
    keys = sorted(k for k in (values or {}) if k not in skip)
    if not keys:
        lines.append(f"{title}:\t<none>\n")
        return
    assert values is not None
    for i, key in enumerate(keys):
        lines.append((f"{title}:\t" if i == 0 else "\t") + f"{key}={values[key]}\n")


def _write_annotations(lines: list[str], annotations: Mapping[str, str]) -> None:
    keys = sorted(k for k in annotations if k != LAST_APPLIED)
    if not keys:
        lines.append("  Annotations:\t<none>\n")
        return
    for i, key in enumerate(keys):
        head = "  Annotations:\t" if i == 0 else "\t"
        value = str(annotations[key]).removesuffix("\n")
        if len(value) + len(key) + 2 > _MAX_ANNOTATION or "\n" in value:
            lines.append(f"{head}{key}:\n")
            for part in value.split("\n"):
                cut = part[: _MAX_ANNOTATION - 2] + (
                    "..." if len(part) > _MAX_ANNOTATION - 2 else ""
                )
                lines.append(f"\t  {cut}\n")
        else:
            lines.append(f"{head}{key}: {value}\n")


def _ports(ports: Sequence[Mapping[str, Any]], key: str) -> str:
    shown = []
    for port in ports:
        text = f"{_int(port.get(key))}/{port.get('protocol', 'TCP')}"
        if port.get("name"):
            text += f" ({port['name']})"
        shown.append(text)
    return ", ".join(shown)


def _probe(probe: Mapping[str, Any]) -> str:
    attrs = (
        f"delay={_int(probe.get('initialDelaySeconds'))}s "
        f"timeout={_int(probe.get('timeoutSeconds'))}s "
        f"period={_int(probe.get('periodSeconds'))}s "
        f"successThreshold={_int(probe.get('successThreshold'))} "
        f"failureThreshold={_int(probe.get('failureThreshold'))}"
    )
    if "exec" in probe:
        return f"exec [{' '.join(str(c) for c in probe['exec'].get('command') or [])}] {attrs}"
    if "httpGet" in probe:
        get = probe["httpGet"]
        host = f"{get.get('host', '')}:{get.get('port', '')}"
        return f"http-get {str(get.get('scheme', 'HTTP')).lower()}://{host}{get.get('path', '')} {attrs}"
    if "tcpSocket" in probe:
        tcp = probe["tcpSocket"]
        return f"tcp-socket {tcp.get('host', '')}:{tcp.get('port', '')} {attrs}"
    if "grpc" in probe:
        grpc = probe["grpc"]
        return f"grpc <pod>:{grpc.get('port')} {grpc.get('service', '')} {attrs}"
    return f"unknown {attrs}"


def _resource_value(container: Mapping[str, Any], ref: Mapping[str, Any]) -> str:
    """What a ``resourceFieldRef`` resolves to, as kubectl computes it (rounded up)."""
    kind, _, name = str(ref.get("resource", "")).partition(".")
    try:
        divisor = Quantity(str(ref.get("divisor") or "1"))
        raw = ((container.get("resources") or {}).get(kind) or {}).get(name)
        amount = Quantity(str(raw)) if raw is not None else Quantity("0")
        if name == "cpu":
            return str(math.ceil(amount.milli_value() / max(divisor.milli_value(), 1)))
        return str(math.ceil(amount.value() / max(divisor.value(), 1)))
    except QuantityError:
        return ""


def _write_env(lines: list[str], container: Mapping[str, Any]) -> None:
    env = container.get("env") or []
    lines.append("    Environment:" + ("\t<none>" if not env else "") + "\n")
    for var in env:
        name, source = var.get("name", ""), var.get("valueFrom")
        if source is None:
            for i, part in enumerate(str(var.get("value", "")).split("\n")):
                lines.append(f"      {name}:\t{part}\n" if i == 0 else f"      \t{part}\n")
        elif "fieldRef" in source:
            ref = source["fieldRef"]
            lines.append(
                f"      {name}:\t ({ref.get('apiVersion', '')}:{ref.get('fieldPath', '')})\n"
            )
        elif "resourceFieldRef" in source:
            ref = source["resourceFieldRef"]
            value = _resource_value(container, ref)
            if value == "0" and ref.get("resource") in ("limits.cpu", "limits.memory"):
                value = "node allocatable"
            lines.append(f"      {name}:\t{value} ({ref.get('resource')})\n")
        elif "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            optional = "true" if ref.get("optional") else "false"
            lines.append(
                f"      {name}:\t<set to the key '{ref.get('key')}' in secret "
                f"'{ref.get('name', '')}'>\tOptional: {optional}\n"
            )
        elif "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            optional = "true" if ref.get("optional") else "false"
            lines.append(
                f"      {name}:\t<set to the key '{ref.get('key')}' of config map "
                f"'{ref.get('name', '')}'>\tOptional: {optional}\n"
            )


def _write_containers(
    lines: list[str], label: str, containers: Sequence[Mapping[str, Any]]
) -> None:
    lines.append(f"  {label}:" + (" <none>" if not containers else "") + "\n")
    for c in containers:
        lines.append(f"   {c.get('name', '')}:\n")
        lines.append(f"    Image:\t{c.get('image', '')}\n")
        ports = c.get("ports") or []
        for title, key in (("Port", "containerPort"), ("Host Port", "hostPort")):
            text = _ports(ports, key)
            if "," in text:
                lines.append(f"    {title}s:\t{text}\n")
            else:
                lines.append(f"    {title}:\t{text or '<none>'}\n")
        seccomp = (c.get("securityContext") or {}).get("seccompProfile")
        if seccomp:
            lines.append(f"    SeccompProfile:\t{seccomp.get('type', '')}\n")
            if seccomp.get("type") == "Localhost":
                lines.append(f"      LocalhostProfile:\t{seccomp.get('localhostProfile', '')}\n")
        for title, key in (("Command", "command"), ("Args", "args")):
            if c.get(key):
                lines.append(f"    {title}:\n")
                lines.extend(f"      {part}\n" for arg in c[key] for part in str(arg).split("\n"))
        resources = c.get("resources") or {}
        for title, key in (("Limits", "limits"), ("Requests", "requests")):
            if resources.get(key):
                lines.append(f"    {title}:\n")
                lines.extend(f"      {n}:\t{resources[key][n]}\n" for n in sorted(resources[key]))
        for title, key in (
            ("Liveness", "livenessProbe"),
            ("Readiness", "readinessProbe"),
            ("Startup", "startupProbe"),
        ):
            if c.get(key):
                lines.append(f"    {title}:\t{_probe(c[key])}\n")
        if c.get("envFrom"):
            lines.append("    Environment Variables from:\n")
            for source in c["envFrom"]:
                kind, ref = (
                    ("ConfigMap", source.get("configMapRef"))
                    if "configMapRef" in source
                    else ("Secret", source.get("secretRef") or {})
                )
                optional = "true" if (ref or {}).get("optional") else "false"
                prefix = f" with prefix '{source['prefix']}'" if source.get("prefix") else ""
                lines.append(
                    f"      {(ref or {}).get('name', '')}\t{kind}{prefix}\tOptional: {optional}\n"
                )
        _write_env(lines, c)
        mounts = sorted(c.get("volumeMounts") or [], key=lambda m: str(m.get("mountPath", "")))
        lines.append("    Mounts:" + ("\t<none>" if not mounts else "") + "\n")
        for mount in mounts:
            flags = ["ro" if mount.get("readOnly") else "rw"]
            if mount.get("subPath"):
                flags.append(f'path="{mount["subPath"]}"')
            lines.append(
                f"      {mount.get('mountPath')} from {mount.get('name')} ({','.join(flags)})\n"
            )
        devices = sorted(c.get("volumeDevices") or [], key=lambda d: str(d.get("devicePath", "")))
        if devices:
            lines.append("    Devices:\n")
            lines.extend(f"      {d.get('devicePath')} from {d.get('name')}\n" for d in devices)


def _write_volumes(lines: list[str], volumes: Sequence[Mapping[str, Any]]) -> None:
    if not volumes:
        lines.append("  Volumes:\t<none>\n")
        return
    lines.append("  Volumes:\n")
    for volume in volumes:
        lines.append(f"   {volume.get('name', '')}:\n")
        if "emptyDir" in volume:
            source = volume["emptyDir"] or {}
            size = source.get("sizeLimit") or "<unset>"
            lines.append(
                "    Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n"
                f"    Medium:\t{source.get('medium', '')}\n    SizeLimit:\t{size}\n"
            )
        elif "configMap" in volume:
            source = volume["configMap"]
            lines.append(
                "    Type:\tConfigMap (a volume populated by a ConfigMap)\n"
                f"    Name:\t{source.get('name', '')}\n"
                f"    Optional:\t{'true' if source.get('optional') else 'false'}\n"
            )
        elif "secret" in volume:
            source = volume["secret"]
            lines.append(
                "    Type:\tSecret (a volume populated by a Secret)\n"
                f"    SecretName:\t{source.get('secretName', '')}\n"
                f"    Optional:\t{'true' if source.get('optional') else 'false'}\n"
            )
        elif "persistentVolumeClaim" in volume:
            source = volume["persistentVolumeClaim"]
            lines.append(
                "    Type:\tPersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)\n"
                f"    ClaimName:\t{source.get('claimName', '')}\n"
                f"    ReadOnly:\t{'true' if source.get('readOnly') else 'false'}\n"
            )
        elif "hostPath" in volume:
            source = volume["hostPath"]
            lines.append(
                "    Type:\tHostPath (bare host directory volume)\n"
                f"    Path:\t{source.get('path', '')}\n"
                f"    HostPathType:\t{source.get('type') or '<none>'}\n"
            )
        else:
            kinds = [k for k in volume if k != "name"]
            lines.append(f"    Type:\t{kinds[0] if kinds else '<unknown>'}\n")


def _write_tolerations(lines: list[str], tolerations: Sequence[Mapping[str, Any]]) -> None:
    if not tolerations:
        lines.append("  Tolerations:\t<none>\n")
        return
    for i, t in enumerate(sorted(tolerations, key=lambda t: str(t.get("key", "")))):
        text = str(t.get("key", ""))
        if t.get("value"):
            text += f"={t['value']}"
        if t.get("effect"):
            text += f":{t['effect']}"
        if t.get("operator") == "Exists" and not t.get("value"):
            text += " op=Exists" if (t.get("key") or t.get("effect")) else "op=Exists"
        if t.get("tolerationSeconds") is not None:
            text += f" for {t['tolerationSeconds']}s"
        lines.append(("  Tolerations:\t" if i == 0 else "\t") + text + "\n")


def describe_pod_template(template: Mapping[str, Any]) -> str:
    """The ``Pod Template:`` block of ``kubectl rollout history --revision`` (and describe)."""
    meta, spec = template.get("metadata") or {}, template.get("spec") or {}
    lines = ["Pod Template:\n"]
    _write_map(lines, "  Labels", meta.get("labels"))
    if meta.get("annotations"):
        _write_annotations(lines, meta["annotations"])
    if spec.get("serviceAccountName"):
        lines.append(f"  Service Account:\t{spec['serviceAccountName']}\n")
    if spec.get("initContainers"):
        _write_containers(lines, "Init Containers", spec["initContainers"])
    _write_containers(lines, "Containers", spec.get("containers") or [])
    _write_volumes(lines, spec.get("volumes") or [])
    if spec.get("priorityClassName"):
        lines.append(f"  Priority Class Name:\t{spec['priorityClassName']}\n")
    _write_map(lines, "  Node-Selectors", spec.get("nodeSelector"))
    _write_tolerations(lines, spec.get("tolerations") or [])
    return "".join(lines)


def format_history(target: str, revisions: Sequence[Revision], revision: int | None = None) -> str:
    """``kubectl rollout history`` as text: the revision table, or (``revision``) that
    revision's pod template."""
    if revision:
        for entry in revisions:
            if entry.revision == revision:
                return (
                    f"{target} with revision #{revision}\n{describe_pod_template(entry.template)}"
                )
        return f"{target}\nNo revision {revision} found.\n"
    if not revisions:
        return f"{target}\nNo rollout history found.\n"
    width = max(len("REVISION"), *(len(str(r.revision)) for r in revisions)) + 2
    rows = [f"{'REVISION':<{width}}CHANGE-CAUSE"]
    rows += [f"{r.revision!s:<{width}}{r.change_cause or '<none>'}" for r in revisions]
    return f"{target}\n" + "\n".join(rows) + "\n"


# -- the verbs --------------------------------------------------------------------------------


async def retry_on_conflict(attempt: Callable[[], Awaitable[T]]) -> T:
    """Run a read-decide-write step again when its write lost a race (409 Conflict)."""
    for tries in range(1, _CONFLICT_ATTEMPTS + 1):
        try:
            return await attempt()
        except Conflict:
            if tries == _CONFLICT_ATTEMPTS:
                raise
            await asyncio.sleep(0.05 * tries)
    raise AssertionError("unreachable")


def _rfc3339_now() -> str:
    """Local time to the second with its offset, as Go's ``time.RFC3339`` prints it."""
    text = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


def _dig(obj: Mapping[str, Any], path: Sequence[str]) -> Any:
    value: Any = obj
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _nest(path: Sequence[str], leaf: Object) -> Object:
    for key in reversed(path):
        leaf = {key: leaf}
    return leaf


def _owned_by(obj: Mapping[str, Any], owner_uid: str) -> bool:
    return any(
        ref.get("controller") and ref.get("uid") == owner_uid
        for ref in (obj.get("metadata") or {}).get("ownerReferences") or []
    )


class Rollout:
    """The rollout verbs for one object: ``Rollout(client, "deploy", "web")``.

    ``namespace`` defaults to the client's.  ``status``, ``history``, ``undo``,
    ``restart`` apply to Deployments, StatefulSets and DaemonSets; ``pause`` and
    ``resume`` to Deployments; ``set_image`` to every kind with a pod template.
    """

    def __init__(self, client: Client, kind: Kind, name: str, namespace: str | None = None) -> None:
        self.client = client
        self.kind = kind
        self.name = name
        self._namespace = namespace

    @property
    def namespace(self) -> str:
        return self._namespace or self.client.namespace

    async def _resource(self, verb: str, kinds: Sequence[str] = _ROLLOUT_KINDS) -> ResourceType:
        resource = await self.client.resource(self.kind)
        if resource.group not in ("apps", "", "batch") or resource.kind not in kinds:
            if verb == "rollout pause" and resource.kind in _ROLLOUT_KINDS:
                cause = "pausing is not supported"
            elif verb == "rollout resume" and resource.kind in _ROLLOUT_KINDS:
                cause = "resuming is not supported"
            else:
                names = ", ".join(k.lower() + "s" for k in kinds)
                cause = (
                    f"{verb} is not supported for {resource.qualified_name}; it applies to {names}"
                )
            raise RolloutNotSupported(
                verb, display_name(resource, self.name), self.namespace, cause
            )
        return resource

    def _error(
        self, cls: type[RolloutError], verb: str, resource: ResourceType, cause: str
    ) -> RolloutError:
        return cls(verb, display_name(resource, self.name), self.namespace, cause)

    # -- status -------------------------------------------------------------------------------

    async def status(
        self,
        *,
        watch: bool = True,
        timeout: float | None = None,
        revision: int | None = None,
        on_progress: Callable[[RolloutStatus], None] | None = None,
    ) -> RolloutStatus:
        """Wait until the rollout is complete (``watch=False``: look once) and return its status.

        Raises :class:`ProgressDeadlineExceeded` when the Deployment gave up,
        :class:`RolloutPaused` when it is paused with changes it will not roll out,
        and :class:`RolloutTimeout` after ``timeout`` seconds (``None``: no limit).
        ``on_progress`` receives every status that differs from the last (message or
        replica counts) while waiting.  ``revision`` pins
        the Deployment revision expected, as kubectl's ``--revision``.
        """
        verb = "rollout status"
        resource = await self._resource(verb)
        obj = await self.client.get(resource, self.name, self.namespace)
        current = rollout_status_of(resource, obj, revision)
        if current.done or not watch:
            return current
        self._check_paused(resource, current)
        if on_progress is not None:
            on_progress(current)
        deadline = None if timeout is None else time.monotonic() + timeout
        observer = ObjectWatch(self.client, resource, self.namespace, names=[self.name])
        synced = False
        try:
            while True:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    assert timeout is not None
                    raise self._error(
                        RolloutTimeout,
                        verb,
                        resource,
                        f"timed out after {timeout:g}s: {current.message}",
                    )
                if not synced:
                    synced = await observer.start(remaining)
                    continue
                if not await observer.changed(remaining):
                    continue
                found = observer.get(self.name)
                if found is None:
                    raise self._error(
                        RolloutError, verb, resource, "it was deleted while waiting for the rollout"
                    )
                latest = rollout_status_of(resource, found, revision)
                if latest.done:
                    return latest
                self._check_paused(resource, latest)
                if on_progress is not None and (latest.message, latest.progress) != (
                    current.message,
                    current.progress,
                ):
                    on_progress(latest)
                current = latest
        finally:
            await observer.stop()

    def _check_paused(self, resource: ResourceType, status: RolloutStatus) -> None:
        if status.paused and status.observed and not status.done:
            raise self._error(
                RolloutPaused,
                "rollout status",
                resource,
                f"the rollout is paused and will not finish ({status.message.removesuffix('...')}); "
                "resume it to continue",
            )

    # -- history ------------------------------------------------------------------------------

    async def history(self, revision: int | None = None) -> list[Revision]:
        """Every revision still recorded, oldest first; or only ``revision``
        (:class:`RevisionNotFound` when it is not there)."""
        resource = await self._resource("rollout history")
        obj = await self.client.get(resource, self.name, self.namespace)
        revisions = await self._revisions(resource, obj)
        if not revision:
            return revisions
        chosen = [r for r in revisions if r.revision == revision]
        if not chosen:
            known = ", ".join(str(r.revision) for r in revisions) or "none"
            raise self._error(
                RevisionNotFound,
                "rollout history",
                resource,
                f"unable to find revision {revision} (revisions: {known})",
            )
        return chosen

    async def _revisions(self, resource: ResourceType, obj: Object) -> list[Revision]:
        selector = str(Selector.from_label_selector((obj.get("spec") or {}).get("selector")))
        uid = str(obj["metadata"]["uid"])
        found: dict[int, Revision] = {}
        if resource.kind == "Deployment":
            listed = await self.client.list(
                "replicasets.apps", self.namespace, label_selector=selector
            )
            for rs in listed.get("items") or []:
                if not _owned_by(rs, uid):
                    continue
                annotations = rs["metadata"].get("annotations") or {}
                try:
                    number = int(annotations.get(REVISION, "0"))
                except ValueError:
                    continue  # kubectl skips (and warns about) an unreadable revision
                found[number] = Revision(
                    number,
                    annotations.get(CHANGE_CAUSE) or None,
                    (rs.get("spec") or {}).get("template") or {},
                    f"replicaset.apps/{rs['metadata']['name']}",
                    rs,
                )
        else:
            listed = await self.client.list(
                "controllerrevisions.apps", self.namespace, label_selector=selector
            )
            for history in listed.get("items") or []:
                if not _owned_by(history, uid):
                    continue
                number = _int(history.get("revision"))
                template = _without_hash(_dig(history, ("data", "spec", "template")) or {})
                annotations = history["metadata"].get("annotations") or {}
                found[number] = Revision(
                    number,
                    annotations.get(CHANGE_CAUSE) or None,
                    template,
                    f"controllerrevision.apps/{history['metadata']['name']}",
                    history,
                )
        return [found[n] for n in sorted(found)]

    # -- undo ---------------------------------------------------------------------------------

    async def undo(self, to_revision: int = 0, *, dry_run: bool = False) -> RolloutResult:
        """Roll back to the previous revision, or to ``to_revision``, exactly as kubectl does.

        Raises :class:`RevisionNotFound` for a revision not in the history (the message
        lists those that are) and :class:`RolloutPaused` for a paused Deployment.
        """
        verb = "rollout undo"
        resource = await self._resource(verb)
        if to_revision < 0:
            raise self._error(
                RevisionNotFound,
                verb,
                resource,
                f"unable to find specified revision {to_revision} in history",
            )

        async def attempt() -> RolloutResult:
            obj = await self.client.get(resource, self.name, self.namespace)
            revisions = await self._revisions(resource, obj)
            chosen = self._pick(resource, revisions, to_revision, obj)
            target = display_name(resource, self.name)
            if resource.kind == "Deployment" and (obj.get("spec") or {}).get("paused"):
                raise self._error(
                    RolloutPaused,
                    verb,
                    resource,
                    "you cannot roll back a paused deployment; resume it first and try again",
                )
            current = (obj.get("spec") or {}).get("template") or {}
            if _same_template(chosen.template, current):
                return RolloutResult(
                    target,
                    self.namespace,
                    f"skipped rollback (current template already matches revision {chosen.revision})",
                    False,
                    obj,
                    chosen.revision,
                )
            rv = obj["metadata"]["resourceVersion"]
            if resource.kind == "Deployment":
                annotations = {
                    k: v
                    for k, v in (obj["metadata"].get("annotations") or {}).items()
                    if k in _DEPLOYMENT_OWN_ANNOTATIONS
                }
                annotations |= {
                    k: v
                    for k, v in (chosen.object["metadata"].get("annotations") or {}).items()
                    if k not in _DEPLOYMENT_OWN_ANNOTATIONS
                }
                patched = await self.client.patch(
                    resource,
                    self.name,
                    [
                        {"op": "replace", "path": "/metadata/resourceVersion", "value": rv},
                        {
                            "op": "replace",
                            "path": "/spec/template",
                            "value": _without_hash(chosen.template),
                        },
                        {"op": "add", "path": "/metadata/annotations", "value": annotations},
                    ],
                    self.namespace,
                    patch_type="json",
                    dry_run=dry_run,
                )
            else:
                patch = copy.deepcopy(chosen.object.get("data") or {})
                patch["metadata"] = {"resourceVersion": rv}
                patched = await self.client.patch(
                    resource,
                    self.name,
                    patch,
                    self.namespace,
                    patch_type="strategic",
                    dry_run=dry_run,
                )
            return RolloutResult(
                target, self.namespace, "rolled back", True, patched, chosen.revision, dry_run
            )

        return await retry_on_conflict(attempt)

    def _pick(
        self, resource: ResourceType, revisions: list[Revision], to_revision: int, obj: Object
    ) -> Revision:
        verb = "rollout undo"
        known = ", ".join(str(r.revision) for r in revisions) or "none"
        if to_revision:
            for entry in revisions:
                if entry.revision == to_revision:
                    return entry
            raise self._error(
                RevisionNotFound,
                verb,
                resource,
                f"unable to find specified revision {to_revision} in history (revisions: {known})",
            )
        if resource.kind == "Deployment":
            # The previous revision is the newest but one, wherever the template is now.
            if len(revisions) < 2:
                raise self._error(
                    RevisionNotFound,
                    verb,
                    resource,
                    f'no rollout history found for deployment "{self.name}"',
                )
        elif len(revisions) <= 1:
            raise self._error(RevisionNotFound, verb, resource, "no last revision to roll back to")
        return revisions[-2]

    # -- set image ----------------------------------------------------------------------------

    async def set_image(
        self,
        images: Mapping[str, str],
        *,
        change_cause: str | None = None,
        dry_run: bool = False,
    ) -> RolloutResult:
        """Set container images (``{"web": "nginx:1.27"}``; ``"*"`` means every container),
        in containers and init containers alike, as ``kubectl set image``.

        ``change_cause`` is recorded in ``kubernetes.io/change-cause`` and shows in the
        history.  Nothing is changed when a named container does not exist
        (:class:`ContainerNotFound`, listing the containers there are).
        """
        verb = "set image"
        resource = await self._resource(verb, tuple(_POD_SPEC_PATHS))
        if not images:
            raise self._error(RolloutError, verb, resource, "at least one image update is required")
        if "*" in images and len(images) > 1:
            raise self._error(
                RolloutError,
                verb,
                resource,
                "all containers are already specified by *, but saw more than one container=image pair",
            )
        path = _POD_SPEC_PATHS[resource.kind]

        async def attempt() -> RolloutResult:
            obj = await self.client.get(resource, self.name, self.namespace)
            pod_spec = _dig(obj, path) or {}
            changes: dict[str, list[Object]] = {}
            missing = []
            for container_name, image in images.items():
                found = False
                for field_name in ("initContainers", "containers"):
                    for container in pod_spec.get(field_name) or []:
                        if container_name not in ("*", container.get("name")):
                            continue
                        found = True
                        if container.get("image") != image:
                            changes.setdefault(field_name, []).append(
                                {"name": container["name"], "image": image}
                            )
                if not found:
                    missing.append(container_name)
            if missing:
                present = [
                    c.get("name")
                    for f in ("initContainers", "containers")
                    for c in pod_spec.get(f) or []
                ]
                raise self._error(
                    ContainerNotFound,
                    verb,
                    resource,
                    f"unable to find container named {', '.join(repr(m) for m in missing)} "
                    f"(the containers are {', '.join(map(str, present)) or 'none'})",
                )
            annotations = (obj.get("metadata") or {}).get("annotations") or {}
            record = change_cause is not None and annotations.get(CHANGE_CAUSE) != change_cause
            target = display_name(resource, self.name)
            if not changes and not record:
                return RolloutResult(target, self.namespace, "image unchanged", False, obj)
            patch = _nest(path, dict(changes)) if changes else {}
            patch["metadata"] = {"resourceVersion": obj["metadata"]["resourceVersion"]}
            if record:
                patch["metadata"]["annotations"] = {CHANGE_CAUSE: change_cause}
            patched = await self.client.patch(
                resource, self.name, patch, self.namespace, patch_type="strategic", dry_run=dry_run
            )
            return RolloutResult(
                target, self.namespace, "image updated", True, patched, dry_run=dry_run
            )

        return await retry_on_conflict(attempt)

    # -- restart, pause, resume ---------------------------------------------------------------

    async def restart(self, *, dry_run: bool = False) -> RolloutResult:
        """Replace every pod by a rolling update, as ``kubectl rollout restart``."""
        verb = "rollout restart"
        resource = await self._resource(verb)

        async def attempt() -> RolloutResult:
            obj = await self.client.get(resource, self.name, self.namespace)
            if resource.kind == "Deployment" and (obj.get("spec") or {}).get("paused"):
                raise self._error(
                    RolloutPaused,
                    verb,
                    resource,
                    "can't restart paused deployment (resume it first)",
                )
            now = _rfc3339_now()
            annotations = _dig(obj, ("spec", "template", "metadata", "annotations")) or {}
            if annotations.get(RESTARTED_AT) == now:
                raise self._error(
                    RolloutError,
                    verb,
                    resource,
                    "a restart was already triggered within the past second; wait before triggering another",
                )
            patch = {
                "metadata": {"resourceVersion": obj["metadata"]["resourceVersion"]},
                "spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}},
            }
            patched = await self.client.patch(
                resource, self.name, patch, self.namespace, patch_type="strategic", dry_run=dry_run
            )
            return RolloutResult(
                display_name(resource, self.name),
                self.namespace,
                "restarted",
                True,
                patched,
                dry_run=dry_run,
            )

        return await retry_on_conflict(attempt)

    async def pause(self, *, dry_run: bool = False) -> RolloutResult:
        """Stop the Deployment from rolling out template changes (``spec.paused``)."""
        return await self._set_paused(True, dry_run)

    async def resume(self, *, dry_run: bool = False) -> RolloutResult:
        """Let a paused Deployment roll out again."""
        return await self._set_paused(False, dry_run)

    async def _set_paused(self, paused: bool, dry_run: bool) -> RolloutResult:
        verb = "rollout pause" if paused else "rollout resume"
        resource = await self._resource(verb, ("Deployment",))

        async def attempt() -> RolloutResult:
            obj = await self.client.get(resource, self.name, self.namespace)
            if bool((obj.get("spec") or {}).get("paused")) == paused:
                raise self._error(
                    RolloutError,
                    verb,
                    resource,
                    "it is already paused" if paused else "it is not paused",
                )
            patched = await self.client.patch(
                resource,
                self.name,
                {
                    "metadata": {"resourceVersion": obj["metadata"]["resourceVersion"]},
                    "spec": {"paused": paused},
                },
                self.namespace,
                dry_run=dry_run,
            )
            return RolloutResult(
                display_name(resource, self.name),
                self.namespace,
                "paused" if paused else "resumed",
                True,
                patched,
                dry_run=dry_run,
            )

        return await retry_on_conflict(attempt)


class SyncRollout:
    """:class:`Rollout` for the blocking :class:`~kubeops.api.SyncClient`; each verb runs the
    async one on the client's loop (``on_progress`` is called on that loop's thread)."""

    def __init__(
        self, client: SyncClient, kind: Kind, name: str, namespace: str | None = None
    ) -> None:
        self._client = client
        self.rollout = Rollout(client.client, kind, name, namespace)

    def status(
        self,
        *,
        watch: bool = True,
        timeout: float | None = None,
        revision: int | None = None,
        on_progress: Callable[[RolloutStatus], None] | None = None,
    ) -> RolloutStatus:
        return self._client.run(
            self.rollout.status(
                watch=watch, timeout=timeout, revision=revision, on_progress=on_progress
            )
        )

    def history(self, revision: int | None = None) -> list[Revision]:
        return self._client.run(self.rollout.history(revision))

    def undo(self, to_revision: int = 0, *, dry_run: bool = False) -> RolloutResult:
        return self._client.run(self.rollout.undo(to_revision, dry_run=dry_run))

    def set_image(
        self, images: Mapping[str, str], *, change_cause: str | None = None, dry_run: bool = False
    ) -> RolloutResult:
        return self._client.run(
            self.rollout.set_image(images, change_cause=change_cause, dry_run=dry_run)
        )

    def restart(self, *, dry_run: bool = False) -> RolloutResult:
        return self._client.run(self.rollout.restart(dry_run=dry_run))

    def pause(self, *, dry_run: bool = False) -> RolloutResult:
        return self._client.run(self.rollout.pause(dry_run=dry_run))

    def resume(self, *, dry_run: bool = False) -> RolloutResult:
        return self._client.run(self.rollout.resume(dry_run=dry_run))
