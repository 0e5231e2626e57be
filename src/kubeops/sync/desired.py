"""The object a target should hold: the source's, minus what its server set, plus overrides and marks.

Pure: :func:`desired_object` reads nothing and writes nothing, so the push
controller, the pull agent's work and ``kubeops sync plan`` compute the same
object from the same source.  Server-set fields are kept in tables
(:data:`COMMON_SERVER_FIELDS`, :data:`KIND_SERVER_FIELDS`) so a kind with its
own allocated fields is one line more.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any, Final

import jsonpatch
import jsonpointer

from kubeops.sync.model import Override, PolicyError, SyncPolicy
from kubeops.sync.ownership import (
    HASH_ANNOTATION,
    POLICY_LABEL,
    SOURCE_ANNOTATION,
    ObjectKey,
    desired_hash,
    source_reference,
)

Path = tuple[str, ...]

COMMON_SERVER_FIELDS: Final[tuple[Path, ...]] = (
    ("metadata", "uid"),
    ("metadata", "resourceVersion"),
    ("metadata", "generation"),
    ("metadata", "creationTimestamp"),
    ("metadata", "managedFields"),
    ("metadata", "selfLink"),
    ("metadata", "deletionTimestamp"),
    ("metadata", "deletionGracePeriodSeconds"),
    ("metadata", "ownerReferences"),
    ("metadata", "finalizers"),
    ("metadata", "annotations", "kubectl.kubernetes.io/last-applied-configuration"),
    ("metadata", "annotations", "deployment.kubernetes.io/revision"),
    ("status",),
)
"""Fields every kind's server (or its controllers) sets: never copied to a target."""

_JOB_UID_LABELS: Final = ("controller-uid", "batch.kubernetes.io/controller-uid")

KIND_SERVER_FIELDS: Final[Mapping[tuple[str, str], tuple[Path, ...]]] = {
    ("", "Service"): (
        ("spec", "clusterIP"),
        ("spec", "clusterIPs"),
        ("spec", "healthCheckNodePort"),
    ),
    ("", "PersistentVolumeClaim"): (
        ("spec", "volumeName"),
        ("metadata", "annotations", "pv.kubernetes.io/bind-completed"),
        ("metadata", "annotations", "pv.kubernetes.io/bound-by-controller"),
    ),
    ("", "Pod"): (("spec", "nodeName"),),
    ("batch", "Job"): (
        ("spec", "selector"),
        *(("metadata", "labels", label) for label in _JOB_UID_LABELS),
        *(("spec", "template", "metadata", "labels", label) for label in _JOB_UID_LABELS),
    ),
}
"""Per ``(group, kind)``: fields the server allocates for that kind (a cluster IP, a bound volume)."""

REPLICA_KINDS: Final = frozenset(
    {
        ("apps", "Deployment"),
        ("apps", "StatefulSet"),
        ("apps", "ReplicaSet"),
        ("", "ReplicationController"),
    }
)
"""Kinds a ``replicas`` override sets ``spec.replicas`` on (others only if they have one)."""

POD_SPEC_PATHS: Final[Mapping[tuple[str, str], Path]] = {
    ("apps", "Deployment"): ("spec", "template", "spec"),
    ("apps", "StatefulSet"): ("spec", "template", "spec"),
    ("apps", "DaemonSet"): ("spec", "template", "spec"),
    ("apps", "ReplicaSet"): ("spec", "template", "spec"),
    ("", "ReplicationController"): ("spec", "template", "spec"),
    ("batch", "Job"): ("spec", "template", "spec"),
    ("batch", "CronJob"): ("spec", "jobTemplate", "spec", "template", "spec"),
    ("", "Pod"): ("spec",),
}
"""Where each kind keeps its pod spec, for image overrides."""


def server_fields(group: str, kind: str) -> tuple[Path, ...]:
    """Every field path stripped from an object of ``group``/``kind``."""
    return COMMON_SERVER_FIELDS + KIND_SERVER_FIELDS.get((group, kind), ())


def strip_server_fields(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``obj`` without the fields its server set (empty maps left behind removed)."""
    result: dict[str, Any] = copy.deepcopy(dict(obj))
    key = ObjectKey.of(result)
    for path in server_fields(key.group, key.kind):
        _remove(result, path)
    return result


def override_applies(
    override: Override, target: str, target_labels: Mapping[str, str], source: Mapping[str, Any]
) -> bool:
    """Whether ``override`` is meant for ``target`` and for the object ``source``."""
    if override.target_clusters or override.target_selector is not None:
        named = target in override.target_clusters
        selected = override.target_selector is not None and override.target_selector.matches(
            target_labels
        )
        if not (named or selected):
            return False
    if not override.resources:
        return True
    key = ObjectKey.of(source)
    return any(
        r.group == key.group and r.kind == key.kind and r.matches(source)
        for r in override.resources
    )


def desired_object(
    source: Mapping[str, Any],
    policy: SyncPolicy,
    target: str,
    target_labels: Mapping[str, str],
    source_cluster: str,
) -> dict[str, Any]:
    """What ``target`` should hold for ``source`` under ``policy``, marks and hash included.

    Raises one :class:`PolicyError` naming the policy, target, object and patch
    operation when an override's JSON patch cannot apply to this object.
    """
    key = ObjectKey.of(source)
    obj = strip_server_fields(source)
    for index, override in enumerate(policy.overrides):
        if override_applies(override, target, target_labels, source):
            _apply_override(obj, override, key, policy.name, target, index)
            if _identity(obj) != _identity(source):
                raise PolicyError(
                    f"ClusterSyncPolicy {policy.name!r}: spec.overrides[{index}] changes the "
                    f"apiVersion, kind, name or namespace of {key} for target {target!r}; "
                    "an override may not move an object"
                )
    meta = obj.setdefault("metadata", {})
    meta.setdefault("labels", {})[POLICY_LABEL] = policy.name
    annotations = meta.setdefault("annotations", {})
    annotations[SOURCE_ANNOTATION] = source_reference(source_cluster, key)
    annotations[HASH_ANNOTATION] = desired_hash(obj)
    return obj


def _identity(obj: Mapping[str, Any]) -> tuple[Any, ...]:
    meta = obj.get("metadata") or {}
    return (obj.get("apiVersion"), obj.get("kind"), meta.get("name"), meta.get("namespace"))


def _apply_override(
    obj: dict[str, Any], override: Override, key: ObjectKey, policy: str, target: str, index: int
) -> None:
    if override.replicas is not None:
        spec = obj.get("spec")
        if (key.group, key.kind) in REPLICA_KINDS or (
            isinstance(spec, dict) and "replicas" in spec
        ):
            obj.setdefault("spec", {})["replicas"] = override.replicas
    if override.images:
        _set_images(obj, key, override)
    meta = obj.setdefault("metadata", {})
    if override.labels:
        meta.setdefault("labels", {}).update(override.labels)
    if override.annotations:
        meta.setdefault("annotations", {}).update(override.annotations)
    for op in override.json_patch:
        try:
            patched = jsonpatch.apply_patch(obj, [dict(op)], in_place=True)
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as err:
            what = f"{op.get('op')} {op.get('path')}"
            raise PolicyError(
                f"ClusterSyncPolicy {policy!r}: spec.overrides[{index}].jsonPatch "
                f"{what!r} cannot apply to {key} for target {target!r}: {err}"
            ) from None
        if patched is not obj:  # a patch replacing the root: keep the caller's dict
            obj.clear()
            obj.update(patched)


def _set_images(obj: dict[str, Any], key: ObjectKey, override: Override) -> None:
    path = POD_SPEC_PATHS.get((key.group, key.kind))
    pod_spec = _get(obj, path) if path is not None else None
    if not isinstance(pod_spec, dict):
        return
    for image in override.images:
        if not image.container:
            for container in _containers(pod_spec, ("containers",)):
                container["image"] = image.image
            continue
        for container in _containers(pod_spec, ("containers", "initContainers")):
            if container.get("name") == image.container:
                container["image"] = image.image


def _containers(pod_spec: Mapping[str, Any], fields: Sequence[str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for name in fields:
        items = pod_spec.get(name)
        if isinstance(items, list):
            found.extend(c for c in items if isinstance(c, dict))
    return found


def _get(obj: Mapping[str, Any], path: Path) -> Any:
    value: Any = obj
    for part in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _remove(obj: dict[str, Any], path: Path) -> None:
    parents: list[dict[str, Any]] = []
    node: Any = obj
    for part in path[:-1]:
        if not isinstance(node, dict) or not isinstance(node.get(part), dict):
            return
        parents.append(node)
        node = node[part]
    if not isinstance(node, dict):
        return
    node.pop(path[-1], None)
    # drop maps the removal emptied (metadata.annotations holding only the revision),
    # never a top-level field such as metadata or spec
    for parent, part in zip(reversed(parents), reversed(path[:-1]), strict=True):
        if parent is obj or parent[part] != {}:
            break
        del parent[part]
