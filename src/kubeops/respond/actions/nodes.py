"""``cordon`` and ``drain``: Node maintenance through :mod:`kubeops.ops.node`.

The Node defaults to the event's: the Node itself, the Node a Pod runs on, or
the one a Kubernetes Event is about.  Both are repeatable as they are (a
cordoned Node stays cordoned; a drained one has nothing left to evict), and the
plan names the Nodes for the blast-radius limit.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubeops.models.duration import DurationError, parse_duration
from kubeops.ops import cordon, drain
from kubeops.respond.action import ActionContext, Plan
from kubeops.respond.actions.base import ActionError, BaseAction
from kubeops.respond.actions.target import event_reference
from kubeops.respond.actions.values import Params
from kubeops.respond.event import Event, ObjectRef

__all__ = ["DEFAULT_DRAIN_TIMEOUT", "CordonAction", "DrainAction", "NodeSettings", "node_of"]

DEFAULT_DRAIN_TIMEOUT = 300.0
"""Seconds a drain waits for evictions a budget refuses, unless ``timeout`` says otherwise."""


@dataclass(frozen=True)
class NodeSettings:
    """``cordon``'s and ``drain``'s settings."""

    node: str
    ignore_daemonsets: bool = False
    force: bool = False
    delete_emptydir_data: bool = False
    timeout: float | None = None
    grace_period: int | None = None


def node_of(event: Event) -> str:
    """The Node an event is about: a Node, a Pod's Node, or a Kubernetes Event's Node."""
    ref = event_reference(event)
    if ref is not None and ref.get("kind") == "Node":
        return str(ref.get("name") or "")
    obj = event.object
    if obj is not None and obj.get("kind") == "Pod":
        return str((obj.get("spec") or {}).get("nodeName") or "")
    return ""


class CordonAction(BaseAction[NodeSettings]):
    """Mark a Node unschedulable."""

    kind = "cordon"

    def configure(self, params: Params) -> NodeSettings:
        """``node`` (default: the event's)."""
        return NodeSettings(params.string("node"))

    def _node(self, ctx: ActionContext) -> tuple[NodeSettings, str, ObjectRef]:
        settings = self.settings_for(ctx)
        node = settings.node or node_of(ctx.event)
        if not node:
            raise ActionError(
                self.kind, ctx.event.subject, "the event is about no Node; name one with node:"
            )
        return settings, node, ObjectRef("Node", node, api_version="v1")

    async def plan(self, ctx: ActionContext) -> Plan:
        """Name the Node."""
        _, node, ref = self._node(ctx)
        obj = await self.guard(ref, ctx.client.get("nodes", node))
        state = " (already cordoned)" if (obj.get("spec") or {}).get("unschedulable") else ""
        return self.plan_of(ref, f"cordon {ref}{state}", nodes=(node,))

    async def execute(self, ctx: ActionContext, plan: Plan) -> str:
        """Cordon it (a server-side dry run when dry)."""
        _, node, ref = self._node(ctx)
        result = await self.guard(ref, cordon(ctx.client, node, dry_run=ctx.dry_run))
        dry = " (dry run)" if ctx.dry_run else ""
        return f"cordoned {ref}{dry}" if result.changed else f"{ref} already cordoned"


class DrainAction(CordonAction):
    """Cordon a Node and evict its Pods, honouring PodDisruptionBudgets."""

    kind = "drain"

    def configure(self, params: Params) -> NodeSettings:
        """``node``, ``ignoreDaemonSets``, ``force``, ``deleteEmptyDirData``, ``timeout``, ``gracePeriod``."""
        timeout_text = params.string("timeout")
        timeout = DEFAULT_DRAIN_TIMEOUT
        if timeout_text and params.known("timeout"):
            try:
                timeout = parse_duration(timeout_text, positive=True)
            except DurationError as err:
                raise params.fail("timeout", str(err)) from None
        return NodeSettings(
            params.string("node"),
            ignore_daemonsets=params.boolean("ignoreDaemonSets"),
            force=params.boolean("force"),
            delete_emptydir_data=params.boolean("deleteEmptyDirData"),
            timeout=timeout,
            grace_period=params.integer("gracePeriod"),
        )

    async def plan(self, ctx: ActionContext) -> Plan:
        """Name the Node and count the Pods on it."""
        _, node, ref = self._node(ctx)
        await self.guard(ref, ctx.client.get("nodes", node))
        pods = await self.guard(
            ref,
            ctx.client.list("pods", all_namespaces=True, field_selector=f"spec.nodeName={node}"),
        )
        count = len(pods.get("items") or [])
        return self.plan_of(ref, f"drain {ref} ({count} Pods on it)", nodes=(node,), pods=count)

    async def execute(self, ctx: ActionContext, plan: Plan) -> str:
        """Drain it; a drain that leaves Pods behind is a failure naming them."""
        settings, node, ref = self._node(ctx)
        report = await self.guard(
            ref,
            drain(
                ctx.client,
                node,
                ignore_daemonsets=settings.ignore_daemonsets,
                force=settings.force,
                delete_emptydir_data=settings.delete_emptydir_data,
                timeout=settings.timeout,
                grace_period=settings.grace_period,
                dry_run=ctx.dry_run,
            ),
        )
        if not report.complete:
            raise ActionError(self.kind, ref, report.summary())
        return report.summary()
