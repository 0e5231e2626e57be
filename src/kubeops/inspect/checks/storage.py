"""Storage: claims that do not bind or lost their volume, volumes left behind, and
references to StorageClasses and claims that do not exist."""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterator
from typing import TYPE_CHECKING

from kubeops.inspect.catalog import CheckContext, Hit, register_check
from kubeops.inspect.checks.fields import class_names, explain, meta, name, namespace, spec, status
from kubeops.inspect.model import Severity
from kubeops.models.duration import format_age

if TYPE_CHECKING:
    from kubeops.api import Object

FINISHED_PHASES = ("Succeeded", "Failed")
DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
BETA_CLASS = "volume.beta.kubernetes.io/storage-class"


def claimed_by(pod_name: str | None, pod_spec: Object) -> Iterator[tuple[str, str]]:
    """(volume, claim name) for every claim a Pod spec mounts; with the Pod's name,
    generic ephemeral volumes too (their claim is named ``<pod>-<volume>``)."""
    for volume in pod_spec.get("volumes") or []:
        if not isinstance(volume, dict):
            continue
        claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
        if claim:
            yield str(volume.get("name", "")), str(claim)
        elif pod_name and isinstance(volume.get("ephemeral"), dict):
            yield str(volume.get("name", "")), f"{pod_name}-{volume.get('name', '')}"


def storage_class(pvc: Object) -> str | None:
    """The class a claim asks for: None when it names none, "" for "no class"."""
    annotated = (meta(pvc).get("annotations") or {}).get(BETA_CLASS)
    if annotated is not None:
        return str(annotated)
    value = spec(pvc).get("storageClassName")
    return None if value is None else str(value)


def _duration(age: datetime.timedelta | None) -> str:
    return "for an unknown time" if age is None else f"for {format_age(age.total_seconds())}"


@register_check(
    "pvc-pending",
    title="PersistentVolumeClaim Pending",
    category="storage",
    severity=Severity.ERROR,
    subject="pvcs",
    needs=("pods",),
    thresholds={"minutes": 5},
    rationale="A claim that does not bind keeps every Pod that mounts it from starting: provisioning failed, no volume matches, or the StorageClass is wrong.",
    remediation="`kubectl describe pvc NAME` shows the provisioner's events; check the StorageClass, the requested size and access modes, and the CSI driver's logs.",
)
def pvc_pending(ctx: CheckContext) -> Iterator[Hit]:
    # A claim of a WaitForFirstConsumer class stays Pending until a Pod uses it, by
    # design: without a Pod it is flagged only when its class is known to bind at
    # once (the StorageClasses are read when another enabled check needs them).
    minutes = ctx.threshold("minutes")
    limit = datetime.timedelta(minutes=float(minutes))
    consumers: dict[tuple[str | None, str], list[str]] = defaultdict(list)
    for pod in ctx.objects("pods"):
        if status(pod).get("phase") in FINISHED_PHASES:
            continue
        for _, claim in claimed_by(name(pod), spec(pod)):
            consumers[(namespace(pod), claim)].append(name(pod))
    binding = {
        name(c): c.get("volumeBindingMode") or "Immediate" for c in ctx.objects("storageclasses")
    }
    default = next(
        (
            name(c)
            for c in ctx.objects("storageclasses")
            if (meta(c).get("annotations") or {}).get(DEFAULT_CLASS) == "true"
        ),
        None,
    )
    for pvc in ctx.objects("pvcs"):
        if status(pvc).get("phase") != "Pending":
            continue
        age = ctx.age(meta(pvc).get("creationTimestamp"))
        if age is not None and age < limit:
            continue
        pods = consumers.get((namespace(pvc), name(pvc)), [])
        if pods:
            more = f" and {len(pods) - 1} more" if len(pods) > 1 else ""
            yield Hit(
                pvc,
                f'Pending {_duration(age)} (threshold {minutes}m); Pod "{pods[0]}"{more} cannot start until it binds',
            )
            continue
        cls = storage_class(pvc)
        if cls is None:
            cls = default
        if cls == "" or (cls is not None and binding.get(cls) == "Immediate"):
            what = "no class" if cls == "" else f'class "{cls}" binds immediately'
            yield Hit(
                pvc,
                f"Pending {_duration(age)} (threshold {minutes}m) though no Pod waits for it ({what})",
                Severity.WARNING,
            )


@register_check(
    "pvc-lost",
    title="PersistentVolumeClaim Lost",
    category="storage",
    severity=Severity.CRITICAL,
    subject="pvcs",
    rationale="A Lost claim's PersistentVolume is gone: the Pods that mount it cannot start and its data may be lost.",
    remediation="Find out what deleted the volume (`kubectl describe pvc NAME`, the storage backend); restore it from a backup or re-create the PersistentVolume with the same claimRef.",
)
def pvc_lost(ctx: CheckContext) -> Iterator[Hit]:
    for pvc in ctx.objects("pvcs"):
        if status(pvc).get("phase") == "Lost":
            volume = spec(pvc).get("volumeName")
            gone = f'its PersistentVolume "{volume}"' if volume else "its PersistentVolume"
            yield Hit(pvc, f"the claim is Lost: {gone} no longer exists")


def _claim(pv: Object) -> str:
    ref = spec(pv).get("claimRef") or {}
    if not ref.get("name"):
        return ""
    where = f"{ref['namespace']}/" if ref.get("namespace") else ""
    return f" (was bound to {where}{ref['name']})"


@register_check(
    "pv-released",
    title="PersistentVolume Released",
    category="storage",
    severity=Severity.WARNING,
    subject="pvs",
    rationale="A Released volume outlived its claim (reclaim policy Retain): it keeps costing storage and no new claim can bind it until an administrator acts.",
    remediation="Back up or recover its data if needed, then delete it (`kubectl delete pv NAME`) and the disk behind it, or clear spec.claimRef to make it Available again.",
)
def pv_released(ctx: CheckContext) -> Iterator[Hit]:
    for pv in ctx.objects("pvs"):
        if status(pv).get("phase") == "Released":
            policy = spec(pv).get("persistentVolumeReclaimPolicy") or "Retain"
            yield Hit(pv, f"the volume is Released with reclaim policy {policy}{_claim(pv)}")


@register_check(
    "pv-failed",
    title="PersistentVolume Failed",
    category="storage",
    severity=Severity.ERROR,
    subject="pvs",
    rationale="A Failed volume could not be reclaimed automatically (deletion or recycling failed): the disk may still exist, costing money and holding data.",
    remediation="Read the reason (`kubectl describe pv NAME`), clean up the disk in the storage backend by hand, then delete the PersistentVolume.",
)
def pv_failed(ctx: CheckContext) -> Iterator[Hit]:
    for pv in ctx.objects("pvs"):
        st = status(pv)
        if st.get("phase") == "Failed":
            why = explain(st)
            yield Hit(
                pv, "reclaiming the volume failed" + (f" ({why})" if why else "") + _claim(pv)
            )


@register_check(
    "pvc-missing-storageclass",
    title="PersistentVolumeClaim names a missing StorageClass",
    category="storage",
    severity=Severity.ERROR,
    subject="pvcs",
    needs=("storageclasses",),
    rationale="A claim whose StorageClass does not exist cannot be provisioned (it stays Pending); a bound one can no longer be expanded or re-provisioned the same way.",
    remediation="Create the StorageClass or re-create the claim with one from `kubectl get storageclass`; mark a default class for claims that name none.",
)
def pvc_missing_storageclass(ctx: CheckContext) -> Iterator[Hit]:
    classes, has_default = class_names(ctx.objects("storageclasses"), DEFAULT_CLASS)
    for pvc in ctx.objects("pvcs"):
        cls = storage_class(pvc)
        bound = status(pvc).get("phase") == "Bound"
        if cls:
            if cls not in classes:
                yield Hit(
                    pvc,
                    f'StorageClass "{cls}" does not exist'
                    + (" (the claim is bound)" if bound else ""),
                    Severity.WARNING if bound else None,
                )
        elif cls is None and not bound and not has_default and not spec(pvc).get("volumeName"):
            yield Hit(
                pvc,
                "the claim names no StorageClass and the cluster has no default one",
                Severity.WARNING,
            )


@register_check(
    "volume-missing-pvc",
    title="Pod mounts a missing PersistentVolumeClaim",
    category="storage",
    severity=Severity.ERROR,
    subject="podspecs",
    needs=("pvcs",),
    rationale="A Pod whose claim does not exist stays Pending (ContainerCreating) forever; a workload template naming one never gets a running Pod.",
    remediation="Create the PersistentVolumeClaim, or fix the claimName in the Pod template (`kubectl get pvc -n NAMESPACE`).",
)
def volume_missing_pvc(ctx: CheckContext) -> Iterator[Hit]:
    claims = {(namespace(c), name(c)) for c in ctx.objects("pvcs")}
    for owner in ctx.pod_specs():
        obj = owner.obj
        if obj.get("kind") == "Pod" and status(obj).get("phase") in FINISHED_PHASES:
            continue
        # Ephemeral volumes are left out: a controller makes their claims with each Pod.
        for volume, claim in claimed_by(None, owner.spec):
            if (namespace(obj), claim) not in claims:
                yield Hit(
                    obj,
                    f'volume "{volume}" mounts PersistentVolumeClaim "{claim}", which does not exist',
                )
