"""The storage checks' edge cases: how long a claim may be Pending and whether anyone
waits for it, StorageClass references, and the claims Pod specs mount."""

from __future__ import annotations

import datetime
from typing import Any

from kubeops.inspect.catalog import catalog
from kubeops.inspect.checks.storage import claimed_by
from kubeops.inspect.checks.storage import storage_class as class_of
from kubeops.inspect.config import InspectConfig, parse_inspect_config
from kubeops.inspect.model import ClusterResult, Severity
from kubeops.inspect.runner import run_checks
from kubeops.inspect.snapshot import Snapshot

Object = dict[str, Any]
NOW = datetime.datetime(2025, 6, 1, 12, 0, tzinfo=datetime.UTC)
HOUR_AGO = "2025-06-01T11:00:00Z"


def live(*objects: Object) -> Snapshot:
    return Snapshot(cluster="test", data=Snapshot.from_objects(objects).data)


def run(snapshot: Snapshot, *checks: str, config: InspectConfig | None = None) -> ClusterResult:
    result = run_checks(snapshot, config or InspectConfig(only=checks), now=NOW)
    assert not result.not_run, result.not_run
    return result


def flagged(result: ClusterResult) -> dict[str, Severity]:
    return {f"{f.object.kind}/{f.object.name}": f.severity for f in result.findings}


def pvc(
    name: str,
    phase: str | None = "Bound",
    cls: str | None = None,
    created: str = HOUR_AGO,
    annotations: dict[str, str] | None = None,
    **spec: Any,
) -> Object:
    metadata: Object = {"name": name, "namespace": "shop", "creationTimestamp": created}
    if annotations:
        metadata["annotations"] = annotations
    if cls is not None:
        spec["storageClassName"] = cls
    obj: Object = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": metadata,
        "spec": spec,
    }
    if phase is not None:
        obj["status"] = {"phase": phase}
    return obj


def storage_class(name: str, binding: str | None = None, default: bool = False) -> Object:
    obj: Object = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": name},
        "provisioner": "example.com/csi",
    }
    if binding is not None:
        obj["volumeBindingMode"] = binding
    if default:
        obj["metadata"]["annotations"] = {"storageclass.kubernetes.io/is-default-class": "true"}
    return obj


def pod(name: str, *volumes: Object, phase: str = "Pending", namespace: str = "shop") -> Object:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"containers": [], "volumes": list(volumes)},
        "status": {"phase": phase},
    }


def claim(name: str, volume: str = "data") -> Object:
    return {"name": volume, "persistentVolumeClaim": {"claimName": name}}


def test_claimed_by() -> None:
    spec = {
        "volumes": [
            claim("data"),
            {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}},
            {"name": "config", "configMap": {"name": "cfg"}},
            {"name": "broken", "persistentVolumeClaim": {}},
        ]
    }
    assert list(claimed_by("web-0", spec)) == [("data", "data"), ("scratch", "web-0-scratch")]
    assert list(claimed_by(None, spec)) == [("data", "data")]
    assert list(claimed_by("x", {})) == []


def test_storage_class_prefers_the_beta_annotation() -> None:
    assert class_of(pvc("a")) is None
    assert class_of(pvc("a", cls="")) == ""
    assert class_of(pvc("a", cls="fast")) == "fast"
    beta = {"volume.beta.kubernetes.io/storage-class": "old"}
    assert class_of(pvc("a", cls="fast", annotations=beta)) == "old"


def test_pvc_pending() -> None:
    snapshot = live(
        pvc("awaited", "Pending", "wffc"),
        pod("db-0", claim("awaited")),
        pod("db-1", claim("awaited")),
        pvc("scratch-pod-scratch", "Pending", "wffc"),
        pod("scratch-pod", {"name": "scratch", "ephemeral": {}}),
        pvc("immediate", "Pending", "fast"),
        pvc("static", "Pending", ""),
        pvc("defaulted", "Pending"),
        pvc("waiting", "Pending", "wffc"),
        pvc("unknown-class", "Pending", "gone"),
        pvc("new", "Pending", "fast", created="2025-06-01T11:58:00Z"),
        pvc("done-with", "Pending", "wffc"),
        pod("finished", claim("done-with"), phase="Succeeded"),
        pvc("bound"),
        storage_class("fast", default=True),
        storage_class("wffc", "WaitForFirstConsumer"),
    )
    result = run(snapshot, "pvc-pending")
    assert flagged(result) == {
        "PersistentVolumeClaim/awaited": Severity.ERROR,
        "PersistentVolumeClaim/scratch-pod-scratch": Severity.ERROR,
        "PersistentVolumeClaim/immediate": Severity.WARNING,
        "PersistentVolumeClaim/static": Severity.WARNING,
        "PersistentVolumeClaim/defaulted": Severity.WARNING,
    }
    messages = {f.object.name: f.message for f in result.findings}
    assert messages["awaited"] == (
        'Pending for 60m (threshold 5m); Pod "db-0" and 1 more cannot start until it binds'
    )
    config = parse_inspect_config({"checks": {"pvc-pending": {"thresholds": {"minutes": 0}}}})
    config = InspectConfig(checks=config.checks, only=("pvc-pending",))
    assert "PersistentVolumeClaim/new" in flagged(run(snapshot, config=config))


def test_pvc_pending_without_storage_classes_flags_only_awaited_claims() -> None:
    snapshot = live(
        pvc("awaited", "Pending", "x"), pod("db-0", claim("awaited")), pvc("idle", "Pending", "x")
    )
    del snapshot.data["storageclasses"]
    assert set(flagged(run(snapshot, "pvc-pending"))) == {"PersistentVolumeClaim/awaited"}


def test_pvc_lost() -> None:
    result = run(live(pvc("gone", "Lost", volumeName="pv-1"), pvc("ok")), "pvc-lost")
    assert flagged(result) == {"PersistentVolumeClaim/gone": Severity.CRITICAL}
    assert (
        result.findings[0].message
        == 'the claim is Lost: its PersistentVolume "pv-1" no longer exists'
    )


def pv(name: str, phase: str | None, claim: Object | None = None, **status: str) -> Object:
    spec: Object = {}
    if claim is not None:
        spec["claimRef"] = claim
    obj: Object = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name},
        "spec": spec,
    }
    if phase is not None:
        obj["status"] = {"phase": phase, **status}
    return obj


def test_pv_released_and_failed() -> None:
    snapshot = live(
        pv("released", "Released", {"namespace": "shop", "name": "data"}),
        pv("released-bare", "Released"),
        pv("failed", "Failed", {"name": "data"}, message="host_path deleter only supports /tmp"),
        pv("bound", "Bound", {"namespace": "shop", "name": "db"}),
        pv("unknown", None),
    )
    released = run(snapshot, "pv-released")
    assert set(flagged(released)) == {"PersistentVolume/released", "PersistentVolume/released-bare"}
    messages = {f.object.name: f.message for f in released.findings}
    assert messages["released"] == (
        "the volume is Released with reclaim policy Retain (was bound to shop/data)"
    )
    failed = run(snapshot, "pv-failed")
    assert flagged(failed) == {"PersistentVolume/failed": Severity.ERROR}
    assert failed.findings[0].message == (
        "reclaiming the volume failed (host_path deleter only supports /tmp) (was bound to data)"
    )


def test_pvc_missing_storageclass() -> None:
    claims = [
        pvc("gone", "Pending", "gone"),
        pvc("gone-bound", "Bound", "gone"),
        pvc("beta", "Pending", annotations={"volume.beta.kubernetes.io/storage-class": "gone"}),
        pvc("fast", "Pending", "fast"),
        pvc("static", "Pending", ""),
        pvc("classless", "Pending"),
        pvc("classless-bound", "Bound"),
        pvc("classless-prebound", "Pending", volumeName="pv-1"),
    ]
    result = run(live(storage_class("fast"), *claims), "pvc-missing-storageclass")
    assert flagged(result) == {
        "PersistentVolumeClaim/gone": Severity.ERROR,
        "PersistentVolumeClaim/gone-bound": Severity.WARNING,
        "PersistentVolumeClaim/beta": Severity.ERROR,
        "PersistentVolumeClaim/classless": Severity.WARNING,
    }
    # With a default class, a claim naming none gets it.
    result = run(live(storage_class("fast", default=True), *claims), "pvc-missing-storageclass")
    assert "PersistentVolumeClaim/classless" not in flagged(result)


def test_volume_missing_pvc() -> None:
    template = {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"volumes": [claim("ghost"), {"name": "tmp", "ephemeral": {}}]},
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"template": template},
    }
    owned = pod("web-abc", claim("ghost"))
    owned["metadata"]["ownerReferences"] = [
        {"kind": "Deployment", "name": "web", "controller": True}
    ]
    result = run(
        live(
            pvc("data"),
            deployment,
            # The Deployment is judged, not each of its Pods.
            owned,
            pod("ok", claim("data")),
            pod("orphan", claim("data", "a"), claim("ghost", "b")),
            pod("elsewhere", claim("data"), namespace="other"),
            pod("done", claim("ghost"), phase="Failed"),
            # Its claim is made by a controller with each Pod.
            pod("scratch", {"name": "tmp", "ephemeral": {}}),
        ),
        "volume-missing-pvc",
    )
    assert flagged(result) == {
        "Deployment/web": Severity.ERROR,
        "Pod/orphan": Severity.ERROR,
        "Pod/elsewhere": Severity.ERROR,
    }
    messages = {f.object.name: f.message for f in result.findings}
    assert (
        messages["orphan"]
        == 'volume "b" mounts PersistentVolumeClaim "ghost", which does not exist'
    )


def test_storage_checks_survive_bare_objects() -> None:
    bare = [
        {"apiVersion": "v1", "kind": kind, "metadata": {"name": "x"}}
        for kind in ("PersistentVolumeClaim", "PersistentVolume", "Pod")
    ] + [{"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "x"}}]
    ids = tuple(
        c.id for c in catalog().values() if c.func.__module__ == "kubeops.inspect.checks.storage"
    )
    result = run_checks(live(*bare), InspectConfig(only=ids), now=NOW)
    assert not result.not_run
    assert sorted(result.checks_run) == sorted(ids)
    assert len(ids) == 6
