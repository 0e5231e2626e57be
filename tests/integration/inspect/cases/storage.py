"""Storage cases: claims and volumes carry the phase the PV controller would give them."""

from __future__ import annotations

from typing import Any

from ..harness import Case

Object = dict[str, Any]


def pvc(
    name: str, phase: str | None = "Bound", storage_class: str | None = None, **spec: Any
) -> Object:
    body: Object = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "1Gi"}},
        **spec,
    }
    if storage_class is not None:
        body["storageClassName"] = storage_class
    obj: Object = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name},
        "spec": body,
    }
    if phase is not None:
        obj["status"] = {"phase": phase}
    return obj


def pv(name: str, phase: str, claim: str = "", **status: str) -> Object:
    spec: Object = {
        "capacity": {"storage": "1Gi"},
        "accessModes": ["ReadWriteOnce"],
        "persistentVolumeReclaimPolicy": "Retain",
        "storageClassName": "",
        "hostPath": {"path": f"/srv/{name}"},
    }
    if claim:
        spec["claimRef"] = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", **_ref(claim)}
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name},
        "spec": spec,
        "status": {"phase": phase, **status},
    }


def _ref(claim: str) -> dict[str, str]:
    namespace, name = claim.split("/")
    return {"namespace": namespace, "name": name}


def storage_class(name: str, binding: str = "Immediate") -> Object:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": name},
        "provisioner": "example.com/csi",
        "volumeBindingMode": binding,
    }


def pod(name: str, *claims: str, phase: str = "Pending") -> Object:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "containers": [{"name": "app", "image": "registry.example.com/app:1.0"}],
            "volumes": [
                {"name": f"v{index}", "persistentVolumeClaim": {"claimName": claim}}
                for index, claim in enumerate(claims)
            ],
        },
        "status": {"phase": phase},
    }


def deployment(name: str, claim: str) -> Object:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": pod(name, claim)["spec"],
            },
        },
    }


CASES = [
    Case(
        "pvc-pending",
        bad=[
            pvc("awaited", "Pending", "pvc-pending-immediate"),
            pod("db-0", "awaited"),
            # Nobody waits for it, but its class binds at once: provisioning is broken.
            pvc("unbound", "Pending", "pvc-pending-immediate"),
        ],
        good=[
            pvc("bound"),
            # WaitForFirstConsumer: Pending until a Pod uses it, by design.
            pvc("waiting", "Pending", "pvc-pending-wffc"),
            storage_class("pvc-pending-immediate"),
            storage_class("pvc-pending-wffc", "WaitForFirstConsumer"),
        ],
        expect=["PersistentVolumeClaim/awaited", "PersistentVolumeClaim/unbound"],
        thresholds={"minutes": 0},
    ),
    Case(
        "pvc-lost",
        bad=[pvc("data", "Lost", volumeName="pvc-0001")],
        good=[pvc("data", "Bound")],
        expect=["PersistentVolumeClaim/data"],
    ),
    Case(
        "pv-released",
        bad=[pv("pv-released-old", "Released", "pv-released-bad/data")],
        good=[
            pv("pv-released-ok", "Bound", "pv-released-good/data"),
            pv("pv-released-free", "Available"),
        ],
        expect=["PersistentVolume/pv-released-old"],
    ),
    Case(
        "pv-failed",
        bad=[pv("pv-failed-broken", "Failed", "pv-failed-bad/data", message="deleter failed")],
        good=[pv("pv-failed-ok", "Released", "pv-failed-good/data")],
        expect=["PersistentVolume/pv-failed-broken"],
    ),
    Case(
        "pvc-missing-storageclass",
        bad=[
            pvc("pending", "Pending", "pvc-missing-storageclass-gone"),
            pvc("bound", "Bound", "pvc-missing-storageclass-gone"),
        ],
        good=[
            pvc("fast", "Bound", "pvc-missing-storageclass-fast"),
            pvc("static", "Bound", ""),
            storage_class("pvc-missing-storageclass-fast"),
        ],
        expect=["PersistentVolumeClaim/pending", "PersistentVolumeClaim/bound"],
    ),
    Case(
        "volume-missing-pvc",
        bad=[
            pod("orphan", "data", "ghost"),
            pvc("data"),
            deployment("web", "ghost"),
        ],
        good=[
            pod("db", "data"),
            pvc("data"),
            deployment("web", "data"),
            # A finished Pod will not start again.
            pod("done", "ghost", phase="Succeeded"),
        ],
        expect=["Pod/orphan", "Deployment/web"],
    ),
]
