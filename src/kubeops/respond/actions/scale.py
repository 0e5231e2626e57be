"""``scale``: set a workload's replicas -- to a number, by a step or by a factor --
always within ``min``/``max``, through :func:`kubeops.ops.scale`.

The plan says the change as a percentage of the current replicas, which the
blast-radius limit measures.  Before scaling, the action marks the target with
its id and the replicas from and to, so a new leader re-running it sets the same
number instead of applying the factor a second time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kubeops.ops import scale
from kubeops.respond.action import ActionContext, Plan
from kubeops.respond.actions.base import BaseAction, mark, marked
from kubeops.respond.actions.target import TargetSpec
from kubeops.respond.actions.values import Params

__all__ = ["ScaleAction", "ScaleSettings", "desired_replicas", "scale_percent"]

MARK = "scale"


@dataclass(frozen=True)
class ScaleSettings:
    """``scale``'s settings: exactly one of replicas, by and factor; bounds."""

    target: TargetSpec
    replicas: int | None
    by: int | None
    factor: float | None
    minimum: int
    maximum: int


def desired_replicas(current: int, settings: ScaleSettings) -> int:
    """The replicas to set from ``current``, within the bounds.

    A factor above 1 rounds up and one below rounds down, so it always moves.
    """
    if settings.replicas is not None:
        wanted = settings.replicas
    elif settings.by is not None:
        wanted = current + settings.by
    else:
        factor = settings.factor or 1.0
        product = current * factor
        wanted = math.ceil(product - 1e-9) if factor >= 1 else math.floor(product + 1e-9)
    return max(settings.minimum, min(settings.maximum, wanted))


def scale_percent(current: int, new: int) -> float:
    """How much the replicas change, in percent of the current ones (of 1 from zero)."""
    return abs(new - current) * 100.0 / max(current, 1)


class ScaleAction(BaseAction[ScaleSettings]):
    """See the module doc."""

    kind = "scale"

    def configure(self, params: Params) -> ScaleSettings:
        """``target``, one of ``replicas``/``by``/``factor``, ``min`` (default 1), ``max``."""
        target = TargetSpec.read(params)
        given = [k for k in ("replicas", "by", "factor") if params.has(k)]
        if len(given) != 1:
            raise params.fail(
                "replicas",
                "give exactly one of replicas, by and factor"
                + (f" (got {', '.join(given)})" if given else ""),
            )
        replicas = params.integer("replicas")
        by = params.integer("by", minimum=-1_000_000)
        factor = params.number("factor", positive=True)
        minimum = params.integer("min", default=1)
        maximum = params.integer("max", required=True)
        assert minimum is not None
        assert maximum is not None
        if params.known("min", "max") and minimum > maximum:
            raise params.fail("min", f"must not be above max ({minimum} > {maximum})")
        if by == 0 and params.known("by"):
            raise params.fail("by", "must not be 0")
        return ScaleSettings(target, replicas, by, factor, minimum, maximum)

    async def plan(self, ctx: ActionContext) -> Plan:
        """Read the current replicas; say the new ones and the change in percent."""
        settings = self.settings_for(ctx)
        target = await self.target(ctx, settings.target)
        replicas = (target.object.get("spec") or {}).get("replicas", 1)
        current = replicas if isinstance(replicas, int) else 1
        done = _mark_of(marked(target.object, MARK), ctx.action_id)
        if done is not None:
            current, new = done
        else:
            new = desired_replicas(current, settings)
        summary = f"scale {target.ref} from {current} to {new} replicas"
        if new == current:
            summary = f"scale {target.ref}: stays at {current} replicas (bounds {settings.minimum}-{settings.maximum})"
        return self.plan_of(
            target.ref,
            summary,
            scale_percent=scale_percent(current, new),
            kind=target.resource.qualified_name,
            previous=current,
            replicas=new,
            marked=done is not None,
        )

    async def execute(self, ctx: ActionContext, plan: Plan) -> str:
        """Mark the target with this action, then set the planned replicas."""
        target = await self.target(ctx, self.settings_for(ctx).target)
        previous, new = int(plan.details["previous"]), int(plan.details["replicas"])
        if not ctx.dry_run and _mark_of(marked(target.object, MARK), ctx.action_id) is None:
            value = f"{ctx.action_id} {previous} {new}"
            await self.guard(target.ref, mark(ctx.client, target.resource, target, MARK, value))
        result = await scale(
            ctx.client, target.resource, target.name, new, target.namespace, dry_run=ctx.dry_run
        )
        dry = " (dry run)" if ctx.dry_run else ""
        return f"scaled {target.ref} from {result.previous} to {result.replicas} replicas{dry}"


def _mark_of(value: str | None, action_id: str) -> tuple[int, int] | None:
    """The replicas from and to this action recorded, if the mark is this action's."""
    if not value:
        return None
    parts = value.split()
    if len(parts) != 3 or parts[0] != action_id:
        return None
    try:
        return int(parts[1]), int(parts[2])
    except ValueError:
        return None
