"""``kubectl rollout restart``: replace every pod by a rolling update, by stamping the time
into the pod template's ``kubectl.kubernetes.io/restartedAt`` annotation."""

from __future__ import annotations

import datetime

from kubeops.api import retry_on_conflict
from kubeops.ops.rollout.errors import RolloutError, RolloutPaused
from kubeops.ops.rollout.fields import field_at
from kubeops.ops.rollout.target import RolloutResult, RolloutTarget

__all__ = ["RESTARTED_AT", "restart"]

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


async def restart(target: RolloutTarget, *, dry_run: bool = False) -> RolloutResult:
    """Restart ``target``'s pods; see :meth:`kubeops.ops.rollout.Rollout.restart`."""
    verb = "rollout restart"

    async def attempt() -> RolloutResult:
        obj = await target.read()
        if target.kind == "Deployment" and (obj.get("spec") or {}).get("paused"):
            raise target.error(
                RolloutPaused, verb, "can't restart paused deployment (resume it first)"
            )
        now = _rfc3339_now()
        annotations = field_at(obj, ("spec", "template", "metadata", "annotations")) or {}
        if annotations.get(RESTARTED_AT) == now:
            raise target.error(
                RolloutError,
                verb,
                "a restart was already triggered within the past second; wait before triggering another",
            )
        patch = {
            "metadata": {"resourceVersion": obj["metadata"]["resourceVersion"]},
            "spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}},
        }
        patched = await target.patch(patch, patch_type="strategic", dry_run=dry_run)
        return target.result("restarted", patched, dry_run=dry_run)

    return await retry_on_conflict(attempt)


def _rfc3339_now() -> str:
    """Local time to the second with its offset, as Go's ``time.RFC3339`` prints it."""
    text = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text
