"""``restart`` and ``rollback``: kubectl's rollout restart and undo, made repeatable.

A plain restart stamps the time it runs, so running it twice restarts twice; here
the pod template gets ``restartedAt`` from the event's time and a mark holding
the action id, so a second run writes the same template -- no new rollout.

A plain undo goes to the newest revision but one, which after a rollback is the
bad one again.  Here the plan picks the revision, and before undoing the target
gets a label naming the action and that revision's ReplicaSet (or
ControllerRevision), which survives the undo: a re-run finds it and undoes to
the same revision, which kubeops skips when the template already matches.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubeops.api import retry_on_conflict
from kubeops.ops.rollout import RESTARTED_AT, Revision, RevisionNotFound, Rollout, RolloutPaused
from kubeops.ops.rollout.target import RolloutTarget
from kubeops.ops.rollout.template import same_template
from kubeops.respond.action import ActionContext, Plan
from kubeops.respond.actions.base import MARK_PREFIX, BaseAction, mark, rfc3339
from kubeops.respond.actions.target import Resolved, TargetSpec
from kubeops.respond.actions.values import Params
from kubeops.respond.event import identity_of

__all__ = ["RestartAction", "RollbackAction", "RollbackSettings"]

RESTART_MARK = MARK_PREFIX + "restart"
UNDO_ATTEMPTS = 3
ROLLBACK_MARK = "rollback"


class RestartAction(BaseAction[TargetSpec]):
    """See the module doc."""

    kind = "restart"

    def configure(self, params: Params) -> TargetSpec:
        """``target`` only."""
        return TargetSpec.read(params)

    async def _rollout(self, ctx: ActionContext, target: Resolved) -> RolloutTarget:
        return await RolloutTarget.resolve(
            ctx.client, target.resource, target.name, target.namespace or "", "rollout restart"
        )

    async def plan(self, ctx: ActionContext) -> Plan:
        """Check the kind restarts; say whether this action already did."""
        target = await self.target(ctx, self.settings_for(ctx))
        await self._rollout(ctx, target)
        template = (target.object.get("spec") or {}).get("template") or {}
        done = ((template.get("metadata") or {}).get("annotations") or {}).get(RESTART_MARK)
        if done == ctx.action_id:
            return self.plan_of(target.ref, f"restart {target.ref}: already done", done=True)
        return self.plan_of(target.ref, f"restart {target.ref}: replace its Pods", done=False)

    async def execute(self, ctx: ActionContext, plan: Plan) -> str:
        """Stamp the pod template (restartedAt from the event's time, the action's mark)."""
        target = await self.target(ctx, self.settings_for(ctx))
        rollout = await self._rollout(ctx, target)
        stamp = {RESTARTED_AT: rfc3339(ctx.event.time), RESTART_MARK: ctx.action_id}

        async def attempt() -> str:
            obj = await rollout.read()
            template = (obj.get("spec") or {}).get("template") or {}
            annotations = (template.get("metadata") or {}).get("annotations") or {}
            if annotations.get(RESTART_MARK) == ctx.action_id:
                return f"{target.ref} already restarted by this action"
            if rollout.kind == "Deployment" and (obj.get("spec") or {}).get("paused"):
                raise rollout.error(
                    RolloutPaused,
                    "rollout restart",
                    "can't restart paused deployment (resume it first)",
                )
            patch = {
                "metadata": {"resourceVersion": obj["metadata"]["resourceVersion"]},
                "spec": {"template": {"metadata": {"annotations": stamp}}},
            }
            await rollout.patch(patch, patch_type="strategic", dry_run=ctx.dry_run)
            return f"restarted {target.ref}" + (" (dry run)" if ctx.dry_run else "")

        return await self.guard(target.ref, retry_on_conflict(attempt))


@dataclass(frozen=True)
class RollbackSettings:
    """``rollback``'s settings."""

    target: TargetSpec
    to_revision: int


def _source_key(revision: Revision) -> str:
    return identity_of(revision.source)[:16]


class RollbackAction(BaseAction[RollbackSettings]):
    """See the module doc."""

    kind = "rollback"

    def configure(self, params: Params) -> RollbackSettings:
        """``target``, ``toRevision`` (default: the previous one)."""
        target = TargetSpec.read(params)
        to_revision = params.integer("toRevision", default=0) or 0
        return RollbackSettings(target, to_revision)

    async def _choose(
        self, ctx: ActionContext, target: Resolved
    ) -> tuple[Rollout, Revision, int, bool]:
        settings = self.settings_for(ctx)
        rollout = Rollout(ctx.client, target.resource, target.name, target.namespace)
        found = await rollout.history()
        current = found[-1].revision if found else 0
        label = ((target.object.get("metadata") or {}).get("labels") or {}).get(
            MARK_PREFIX + ROLLBACK_MARK, ""
        )
        action, _, key = str(label).partition(".")
        if action and action == ctx.action_id[:40] and key:
            for revision in found:
                if _source_key(revision) == key:
                    return rollout, revision, current, True
        if settings.to_revision:
            chosen = [r for r in found if r.revision == settings.to_revision]
            if not chosen:
                known = ", ".join(str(r.revision) for r in found) or "none"
                raise RevisionNotFound(
                    "rollout undo",
                    str(target.ref),
                    target.namespace,
                    f"unable to find revision {settings.to_revision} (revisions: {known})",
                )
            return rollout, chosen[0], current, False
        if len(found) < 2:
            raise RevisionNotFound(
                "rollout undo",
                str(target.ref),
                target.namespace,
                "no previous revision to roll back to",
            )
        return rollout, found[-2], current, False

    async def plan(self, ctx: ActionContext) -> Plan:
        """Pick the revision to go back to (or the one this action picked before)."""
        target = await self.target(ctx, self.settings_for(ctx).target)
        _, chosen, current, again = await self.guard(target.ref, self._choose(ctx, target))
        summary = f"roll back {target.ref} from revision {current} to {chosen.revision}"
        if again:
            summary = f"roll back {target.ref} to revision {chosen.revision} (as this action chose before)"
        return self.plan_of(
            target.ref, summary, revision=chosen.revision, current=current, source=chosen.source
        )

    async def execute(self, ctx: ActionContext, plan: Plan) -> str:
        """Label the target with the action and its revision, then undo to that revision.

        Revision numbers move while the controller records a rollback, so the
        template is compared first, and an undo that misses its number is decided again.
        """
        target = await self.target(ctx, self.settings_for(ctx).target)
        dry = " (dry run)" if ctx.dry_run else ""
        for attempt in range(1, UNDO_ATTEMPTS + 1):
            rollout, chosen, _, again = await self.guard(target.ref, self._choose(ctx, target))
            current = (target.object.get("spec") or {}).get("template") or {}
            if again and same_template(chosen.template, current):
                return f"{target.ref} already at the template of revision {chosen.revision}"
            if not again and not ctx.dry_run:
                value = f"{ctx.action_id[:40]}.{_source_key(chosen)}"
                await self.guard(
                    target.ref,
                    mark(ctx.client, target.resource, target, ROLLBACK_MARK, value, label=True),
                )
            try:
                result = await rollout.undo(chosen.revision, dry_run=ctx.dry_run)
            except RevisionNotFound:
                if attempt == UNDO_ATTEMPTS:
                    raise
                target = await self.target(ctx, self.settings_for(ctx).target)
                continue
            if not result.changed:
                return f"{target.ref} already at the template of revision {chosen.revision}"
            return f"rolled back {target.ref} to the template of revision {chosen.revision}{dry}"
        raise AssertionError("unreachable")  # pragma: no cover
