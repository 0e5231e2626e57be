"""What every action shares: settings read twice (load and plan), errors on one line,
and the marks that make a repeated action a no-op.

An action is built once per rule (:meth:`BaseAction.configure` checks the
settings, with ``${...}`` values as placeholders); each plan renders the settings
for the event and configures again, now with every value known.  Errors of
execution name the action, the object and the cause; kubeops' operation errors
already do and pass through unchanged.

A *mark* is an annotation (or label) an action writes on its target before or
with its change, holding the action id: a new leader re-running the same action
finds it and does what the first one meant, not a second change.
"""

from __future__ import annotations

import datetime
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, TypeVar

from kubeops.api import Client, ResourceType
from kubeops.errors import KubeopsError
from kubeops.ops import OperationError
from kubeops.respond.action import ActionContext, ActionSpecError, Plan
from kubeops.respond.actions.target import Resolved, TargetSpec, resolve
from kubeops.respond.actions.values import Params, compile_values, has_templates, render
from kubeops.respond.event import ObjectRef
from kubeops.respond.model import ActionSpec

__all__ = ["MARK_PREFIX", "ActionError", "BaseAction", "mark", "marked", "pointer", "rfc3339"]

MARK_PREFIX = "respond.kubeops.io/"
Config = TypeVar("Config")
T = TypeVar("T")


class ActionError(KubeopsError):
    """An action failed: ``<action> <object>: <cause>``."""

    def __init__(self, action: str, target: ObjectRef | str | None, cause: str) -> None:
        where = f" {target}" if target else ""
        super().__init__(f"{action}{where}: {cause}")
        self.action = action
        self.target = target
        self.cause = cause


class BaseAction(Generic[Config]):
    """An action built from its spec: ``configure`` reads settings into ``Config``."""

    kind = ""

    def __init__(self, spec: ActionSpec) -> None:
        self.spec = spec
        self._values = compile_values(dict(spec.params))
        self._templated = has_templates(self._values)
        params = Params(self._values)
        self.config: Config = self.configure(params)
        params.done()

    def configure(self, params: Params) -> Config:
        """Read and check the settings (the subclass's)."""
        raise NotImplementedError

    def settings_for(self, ctx: ActionContext) -> Config:
        """The settings with every ``${...}`` evaluated for ``ctx.event``."""
        if not self._templated:
            return self.config
        try:
            params = Params(render(self._values, ctx.event.as_activation()))
            config = self.configure(params)
            params.done()
        except ActionSpecError as err:
            subject = ctx.event.subject
            raise ActionError(self.kind, subject, str(err)) from err
        return config

    async def target(self, ctx: ActionContext, spec: TargetSpec) -> Resolved:
        """The object to act on, read now."""
        return await self.guard(None, resolve(ctx.client, spec, ctx.event, self.kind))

    async def guard(self, target: ObjectRef | str | None, work: Awaitable[T]) -> T:
        """Await ``work``; a kubeops error that does not name the action is given that name."""
        try:
            return await work
        except (OperationError, ActionError):
            raise
        except KubeopsError as err:
            raise ActionError(self.kind, target, str(err)) from err

    def plan_of(
        self,
        target: ObjectRef | None,
        summary: str,
        *,
        scale_percent: float | None = None,
        nodes: tuple[str, ...] = (),
        **details: Any,
    ) -> Plan:
        """A :class:`Plan` of this action."""
        return Plan(self.kind, target, summary, scale_percent, nodes, dict(details))

    async def plan(self, ctx: ActionContext) -> Plan:
        """See :class:`kubeops.respond.action.Action`."""
        raise NotImplementedError

    async def execute(self, ctx: ActionContext, plan: Plan) -> str:
        """See :class:`kubeops.respond.action.Action`."""
        raise NotImplementedError


def marked(obj: Mapping[str, Any], key: str, *, label: bool = False) -> str | None:
    """The mark ``key`` on ``obj`` (an annotation, or a label), None when absent."""
    meta = obj.get("metadata") or {}
    values = meta.get("labels" if label else "annotations") or {}
    value = values.get(MARK_PREFIX + key)
    return str(value) if value is not None else None


async def mark(
    client: Client,
    resource: ResourceType,
    target: Resolved,
    key: str,
    value: str,
    *,
    label: bool = False,
) -> None:
    """Write the mark ``key`` on the target (never in a dry run: callers check)."""
    where = "labels" if label else "annotations"
    await client.patch(
        resource,
        target.name,
        {"metadata": {where: {MARK_PREFIX + key: value}}},
        target.namespace,
    )


def pointer(*keys: str) -> str:
    """A JSON pointer to ``keys`` (``/metadata/labels/app.kubernetes.io~1name``)."""
    return "".join("/" + k.replace("~", "~0").replace("/", "~1") for k in keys)


def rfc3339(moment: datetime.datetime) -> str:
    """``moment`` in UTC to the second, as Kubernetes writes times."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


ActionFactory = Callable[[ActionSpec], Any]
