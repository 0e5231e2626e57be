"""``kubectl rollout pause`` and ``resume``: whether a Deployment rolls out template changes
(``spec.paused``)."""

from __future__ import annotations

from kubeops.api import retry_on_conflict
from kubeops.ops.rollout.errors import RolloutError
from kubeops.ops.rollout.target import RolloutResult, RolloutTarget

__all__ = ["set_paused"]


async def set_paused(
    target: RolloutTarget, paused: bool, *, dry_run: bool = False
) -> RolloutResult:
    """Pause (``paused=True``) or resume the Deployment ``target``; refused
    (:class:`RolloutError`) when it already is as asked."""
    verb = "rollout pause" if paused else "rollout resume"

    async def attempt() -> RolloutResult:
        obj = await target.read()
        if bool((obj.get("spec") or {}).get("paused")) == paused:
            raise target.error(
                RolloutError, verb, "it is already paused" if paused else "it is not paused"
            )
        patch = {
            "metadata": {"resourceVersion": obj["metadata"]["resourceVersion"]},
            "spec": {"paused": paused},
        }
        patched = await target.patch(patch, dry_run=dry_run)
        return target.result("paused" if paused else "resumed", patched, dry_run=dry_run)

    return await retry_on_conflict(attempt)
