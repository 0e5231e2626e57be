"""``recordEvent``: a Kubernetes Event on the target, from ``kubeops-respond``.

``kubectl describe`` then shows what automation did next to what happened.
The Event's name comes from the object's name and the action id, so a re-run
finds it (AlreadyExists) instead of recording it twice.
"""

from __future__ import annotations

import datetime
import socket
from dataclasses import dataclass
from typing import Any

from kubeops.errors import AlreadyExists
from kubeops.respond.action import ActionContext, Plan
from kubeops.respond.actions.base import ActionError, BaseAction, rfc3339
from kubeops.respond.actions.target import Resolved, TargetSpec
from kubeops.respond.actions.values import Params

__all__ = ["COMPONENT", "RecordEventAction", "RecordEventSettings", "event_manifest"]

COMPONENT = "kubeops-respond"


@dataclass(frozen=True)
class RecordEventSettings:
    """``recordEvent``'s settings."""

    target: TargetSpec
    reason: str
    message: str
    type: str


def event_manifest(
    target: Resolved, settings: RecordEventSettings, action_id: str, now: datetime.datetime
) -> dict[str, Any]:
    """The core/v1 Event to create about ``target``."""
    namespace = target.namespace or "default"
    stamp = rfc3339(now)
    name = f"{target.name[:200]}.{action_id[:16]}"
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": namespace},
        "involvedObject": {
            "apiVersion": target.resource.api_version,
            "kind": target.resource.kind,
            "name": target.name,
            "namespace": target.namespace or "",
            "uid": target.ref.uid,
            "resourceVersion": str(
                (target.object.get("metadata") or {}).get("resourceVersion") or ""
            ),
        },
        "reason": settings.reason,
        "message": settings.message[:1024],
        "type": settings.type,
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": socket.gethostname()[:128],
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }


class RecordEventAction(BaseAction[RecordEventSettings]):
    """See the module doc."""

    kind = "recordEvent"

    def configure(self, params: Params) -> RecordEventSettings:
        """``target``, ``reason`` (CamelCase word), ``message``, ``type`` Normal|Warning."""
        target = TargetSpec.read(params)
        reason = params.string("reason", required=True)
        if params.known("reason") and (len(reason) > 128 or not reason.replace("_", "").isalnum()):
            raise params.fail(
                "reason", f"must be one word of letters and digits (CamelCase), not {reason!r}"
            )
        message = params.string("message", required=True)
        kind = params.choice("type", ("Normal", "Warning"), "Normal")
        return RecordEventSettings(target, reason, message, kind)

    async def plan(self, ctx: ActionContext) -> Plan:
        """The Event to record."""
        settings = self.settings_for(ctx)
        target = await self.target(ctx, settings.target)
        return self.plan_of(
            target.ref, f"record {settings.type} event {settings.reason} on {target.ref}"
        )

    async def execute(self, ctx: ActionContext, plan: Plan) -> str:
        """Create it; the same one already there is success."""
        settings = self.settings_for(ctx)
        target = await self.target(ctx, settings.target)
        body = event_manifest(target, settings, ctx.action_id, ctx.event.time)
        try:
            await self.guard(target.ref, ctx.client.create(body, dry_run=ctx.dry_run))
        except ActionError as err:
            if isinstance(err.__cause__, AlreadyExists):
                return f"event {settings.reason} on {target.ref} already recorded"
            raise
        return f"recorded event {settings.reason} on {target.ref}" + (
            " (dry run)" if ctx.dry_run else ""
        )
