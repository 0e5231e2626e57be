"""``switchService``: point a Service at other Pods -- the database failover.

The Service's selector becomes exactly the one given (a JSON patch ``replace``,
so keys of the old selector do not linger), which is repeatable as it is.  The
plan says the selector before and after and how many Pods the new one selects:
a switch to nothing is refused rather than taking the Service down.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubeops.respond.action import ActionContext, Plan
from kubeops.respond.actions.base import ActionError, BaseAction
from kubeops.respond.actions.values import Params
from kubeops.respond.event import ObjectRef

__all__ = ["SwitchServiceAction", "SwitchServiceSettings", "selector_text"]


@dataclass(frozen=True)
class SwitchServiceSettings:
    """Which Service, and its new selector."""

    name: str
    namespace: str
    selector: dict[str, str]
    allow_empty: bool = False


def selector_text(selector: dict[str, str]) -> str:
    """``a=1,b=2``: a Service selector as a label query."""
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))


class SwitchServiceAction(BaseAction[SwitchServiceSettings]):
    """See the module doc."""

    kind = "switchService"

    def configure(self, params: Params) -> SwitchServiceSettings:
        """``service: {name, namespace?}``, ``selector`` (a map), ``allowEmpty``."""
        service = params.nested("service", required=True)
        assert service is not None
        name = service.string("name", required=True)
        namespace = service.string("namespace")
        service.done()
        selector = params.string_map("selector", required=True)
        allow_empty = params.boolean("allowEmpty")
        return SwitchServiceSettings(
            name, namespace, {k: v or "" for k, v in selector.items()}, allow_empty
        )

    def _ref(self, ctx: ActionContext, settings: SwitchServiceSettings) -> ObjectRef:
        subject = ctx.event.subject
        namespace = (
            settings.namespace or (subject.namespace if subject else "") or ctx.client.namespace
        )
        return ObjectRef("Service", settings.name, namespace, api_version="v1")

    async def plan(self, ctx: ActionContext) -> Plan:
        """The selector now and after, and the Pods the new one selects."""
        settings = self.settings_for(ctx)
        ref = self._ref(ctx, settings)
        service = await self.guard(ref, ctx.client.get("services", ref.name, ref.namespace))
        before = dict((service.get("spec") or {}).get("selector") or {})
        wanted = selector_text(settings.selector)
        pods = await self.guard(ref, ctx.client.list("pods", ref.namespace, label_selector=wanted))
        count = len(pods.get("items") or [])
        if count == 0 and not settings.allow_empty:
            raise ActionError(
                self.kind,
                ref,
                f"no Pod matches the new selector {wanted} (allowEmpty: true to switch anyway)",
            )
        state = " (already)" if before == settings.selector else ""
        summary = f"switch {ref} selector from {selector_text(before) or '<none>'} to {wanted}{state} ({count} Pods)"
        return self.plan_of(ref, summary, before=before, after=settings.selector, pods=count)

    async def execute(self, ctx: ActionContext, plan: Plan) -> str:
        """Replace the selector."""
        settings = self.settings_for(ctx)
        ref = self._ref(ctx, settings)
        body = [{"op": "add", "path": "/spec/selector", "value": settings.selector}]
        await self.guard(
            ref,
            ctx.client.patch(
                "services", ref.name, body, ref.namespace, patch_type="json", dry_run=ctx.dry_run
            ),
        )
        dry = " (dry run)" if ctx.dry_run else ""
        return f"switched {ref} to {selector_text(settings.selector)}{dry}"
