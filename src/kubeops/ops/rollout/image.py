"""``kubectl set image``: new images for named containers of any kind with a pod template."""

from __future__ import annotations

from collections.abc import Mapping

from kubeops.api import Object, retry_on_conflict
from kubeops.ops.rollout.errors import ContainerNotFound, RolloutError
from kubeops.ops.rollout.fields import field_at, nested
from kubeops.ops.rollout.history import CHANGE_CAUSE
from kubeops.ops.rollout.target import RolloutResult, RolloutTarget

__all__ = ["POD_SPEC_PATHS", "set_image"]

# Where each kind keeps its pod spec (``set image`` works on all of them).
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
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


async def set_image(
    target: RolloutTarget,
    images: Mapping[str, str],
    *,
    change_cause: str | None = None,
    dry_run: bool = False,
) -> RolloutResult:
    """Set container images of ``target``; see :meth:`kubeops.ops.rollout.Rollout.set_image`."""
    verb = "set image"
    if not images:
        raise target.error(RolloutError, verb, "at least one image update is required")
    if "*" in images and len(images) > 1:
        raise target.error(
            RolloutError,
            verb,
            "all containers are already specified by *, but saw more than one container=image pair",
        )
    path = POD_SPEC_PATHS[target.kind]

    async def attempt() -> RolloutResult:
        obj = await target.read()
        pod_spec = field_at(obj, path) or {}
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
            raise target.error(
                ContainerNotFound,
                verb,
                f"unable to find container named {', '.join(repr(m) for m in missing)} "
                f"(the containers are {', '.join(map(str, present)) or 'none'})",
            )
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        record = change_cause is not None and annotations.get(CHANGE_CAUSE) != change_cause
        if not changes and not record:
            return target.result("image unchanged", obj, changed=False)
        patch = nested(path, dict(changes)) if changes else {}
        patch["metadata"] = {"resourceVersion": obj["metadata"]["resourceVersion"]}
        if record:
            patch["metadata"]["annotations"] = {CHANGE_CAUSE: change_cause}
        patched = await target.patch(patch, patch_type="strategic", dry_run=dry_run)
        return target.result("image updated", patched, dry_run=dry_run)

    return await retry_on_conflict(attempt)
