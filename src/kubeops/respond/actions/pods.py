"""``deletePod``: delete a Pod (its controller makes a new one), at most once.

The delete requires the uid the rule saw: run again after the Pod was replaced
by one of the same name (a StatefulSet's), it deletes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubeops.errors import Conflict, NotFound
from kubeops.respond.action import ActionContext, Plan
from kubeops.respond.actions.base import ActionError, BaseAction
from kubeops.respond.actions.target import TargetSpec
from kubeops.respond.actions.values import Params

__all__ = ["DeletePodAction", "DeletePodSettings"]


@dataclass(frozen=True)
class DeletePodSettings:
    """``deletePod``'s settings."""

    target: TargetSpec
    grace_period: int | None


class DeletePodAction(BaseAction[DeletePodSettings]):
    """See the module doc."""

    kind = "deletePod"

    def configure(self, params: Params) -> DeletePodSettings:
        """``target`` (a Pod), ``gracePeriod`` seconds."""
        return DeletePodSettings(TargetSpec.read(params), params.integer("gracePeriod"))

    async def plan(self, ctx: ActionContext) -> Plan:
        """Find the Pod; refuse any other kind."""
        settings = self.settings_for(ctx)
        try:
            target = await self.target(ctx, settings.target)
        except ActionError as err:
            if isinstance(err.__cause__, NotFound):
                return self.plan_of(
                    ctx.event.subject, f"delete {ctx.event.subject}: already gone", uid=""
                )
            raise
        if target.resource.kind != "Pod" or target.resource.group:
            raise ActionError(self.kind, target.ref, f"is a {target.resource.kind}, not a Pod")
        grace = "" if settings.grace_period is None else f" (grace period {settings.grace_period}s)"
        return self.plan_of(target.ref, f"delete {target.ref}{grace}", uid=target.uid)

    async def execute(self, ctx: ActionContext, plan: Plan) -> str:
        """Delete the planned Pod, if it is still the same one."""
        settings = self.settings_for(ctx)
        ref, uid = plan.target, str(plan.details.get("uid") or "")
        if ref is None or not uid:
            return f"{ref} already gone"
        try:
            await self.guard(
                ref,
                ctx.client.delete(
                    "pods",
                    ref.name,
                    ref.namespace,
                    grace_period_seconds=settings.grace_period,
                    preconditions={"uid": uid},
                    dry_run=ctx.dry_run,
                ),
            )
        except ActionError as err:
            if isinstance(err.__cause__, NotFound):
                return f"{ref} already gone"
            if isinstance(err.__cause__, Conflict):
                return f"{ref} already replaced by another Pod of the same name"
            raise
        return f"deleted {ref}" + (" (dry run)" if ctx.dry_run else "")
