"""``patch``, ``label`` and ``annotate``: change an object through the API server's patches.

Merge and strategic patches, labels and annotations are repeatable as they are.
A JSON patch may not be (``add`` to a list adds twice), so it is sent with a
``test`` of the resourceVersion that was read and an ``add`` of this action's
mark, in one request: either both apply or neither, and a re-run that finds the
mark changes nothing.  Every write is a server-side dry run when dry.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubeops.api import PatchType
from kubeops.api.retry import CONFLICT_ATTEMPTS
from kubeops.errors import Invalid
from kubeops.respond.action import ActionContext, Plan
from kubeops.respond.actions.base import MARK_PREFIX, ActionError, BaseAction, marked, pointer
from kubeops.respond.actions.target import TargetSpec
from kubeops.respond.actions.values import Params, Template

__all__ = ["AnnotateAction", "LabelAction", "PatchAction", "PatchSettings"]

MARK = "patched"
PATCH_TYPES = ("merge", "strategic", "json")


@dataclass(frozen=True)
class PatchSettings:
    """What to send: the target, the patch body and its type."""

    target: TargetSpec
    body: Any
    patch_type: PatchType


class PatchAction(BaseAction[PatchSettings]):
    """Patch the target with ``patch`` (``type`` merge, json or strategic)."""

    kind = "patch"

    def configure(self, params: Params) -> PatchSettings:
        """``target``, ``patch`` (a mapping; a list of operations for json), ``type``."""
        target = TargetSpec.read(params)
        patch_type = params.choice("type", PATCH_TYPES, "merge")
        body = params.raw("patch", required=True)
        if not isinstance(body, Template) and params.known("type"):
            if patch_type == "json":
                if not isinstance(body, list) or not all(
                    isinstance(op, Mapping) and "op" in op and "path" in op for op in body
                ):
                    raise params.fail("patch", "a json patch is a list of {op, path, value?}")
            elif not isinstance(body, Mapping) or not body:
                raise params.fail("patch", f"a {patch_type} patch is a non-empty mapping")
        return PatchSettings(target, body, patch_type)  # type: ignore[arg-type]

    def _what(self, settings: PatchSettings) -> str:
        return f"{settings.patch_type} patch"

    async def plan(self, ctx: ActionContext) -> Plan:
        """Read the target; say whether this action already changed it."""
        settings = self.settings_for(ctx)
        target = await self.target(ctx, settings.target)
        done = marked(target.object, MARK) == ctx.action_id
        state = " (already done)" if done else ""
        return self.plan_of(target.ref, f"{self._what(settings)} {target.ref}{state}", done=done)

    async def execute(self, ctx: ActionContext, plan: Plan) -> str:
        """Send the patch with this action's mark (conditional, for json: a change in
        between fails the ``test``, and the object is read and decided again)."""
        settings = self.settings_for(ctx)
        target = await self.target(ctx, settings.target)
        obj = target.object
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            if marked(obj, MARK) == ctx.action_id:
                return f"{target.ref} already changed by this action"
            version = str((obj.get("metadata") or {}).get("resourceVersion") or "")
            try:
                await self.guard(
                    target.ref,
                    ctx.client.patch(
                        target.resource,
                        target.name,
                        self._body(settings, obj, ctx.action_id),
                        target.namespace,
                        patch_type=settings.patch_type,
                        dry_run=ctx.dry_run,
                    ),
                )
                break
            except ActionError as err:
                if settings.patch_type != "json" or not isinstance(err.__cause__, Invalid):
                    raise
                obj = await self.guard(
                    target.ref, ctx.client.get(target.resource, target.name, target.namespace)
                )
                changed = (obj.get("metadata") or {}).get("resourceVersion") != version
                if not changed or attempt == CONFLICT_ATTEMPTS:
                    raise
        dry = " (dry run)" if ctx.dry_run else ""
        return f"patched {target.ref} ({settings.patch_type}){dry}"

    @staticmethod
    def _body(settings: PatchSettings, obj: Mapping[str, Any], action_id: str) -> Any:
        """The patch, carrying this action's mark (and, for json, the resourceVersion test)."""
        meta = obj.get("metadata") or {}
        if settings.patch_type != "json":
            body = copy.deepcopy(dict(settings.body))
            metadata = body.setdefault("metadata", {})
            metadata.setdefault("annotations", {})[MARK_PREFIX + MARK] = action_id
            return body
        ops: list[dict[str, Any]] = [
            {"op": "test", "path": "/metadata/resourceVersion", "value": meta["resourceVersion"]}
        ]
        if meta.get("annotations"):
            path = pointer("metadata", "annotations", MARK_PREFIX + MARK)
            ops.append({"op": "add", "path": path, "value": action_id})
        else:
            value = {MARK_PREFIX + MARK: action_id}
            ops.append({"op": "add", "path": "/metadata/annotations", "value": value})
        return [*ops, *settings.body]


class LabelAction(PatchAction):
    """Set (or, with null, remove) labels on the target."""

    kind = "label"
    field = "labels"

    def configure(self, params: Params) -> PatchSettings:
        """``target``, ``labels`` (or ``annotations``): a map; null removes a key."""
        target = TargetSpec.read(params)
        values = params.string_map(self.field, required=True, allow_null=True)
        body = {"metadata": {self.field: values}}
        return PatchSettings(target, body, "merge")

    def _what(self, settings: PatchSettings) -> str:
        changes = settings.body["metadata"][self.field]
        shown = ", ".join(k if v is None else f"{k}={v}" for k, v in sorted(changes.items()))
        return f"set {self.field} {shown} on"

    async def execute(self, ctx: ActionContext, plan: Plan) -> str:
        """Send the merge patch."""
        settings = self.settings_for(ctx)
        target = await self.target(ctx, settings.target)
        await self.guard(
            target.ref,
            ctx.client.patch(
                target.resource, target.name, settings.body, target.namespace, dry_run=ctx.dry_run
            ),
        )
        dry = " (dry run)" if ctx.dry_run else ""
        return f"{self._what(settings)} {target.ref}{dry}"


class AnnotateAction(LabelAction):
    """Set (or, with null, remove) annotations on the target."""

    kind = "annotate"
    field = "annotations"
