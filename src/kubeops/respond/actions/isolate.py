"""``isolate``: take a Pod out of service and off the network, and keep it for forensics.

The Pod loses the labels its Services select on (so no traffic reaches it, and
its ReplicaSet, which selects on the same labels, starts a replacement), gains
``respond.kubeops.io/quarantine: "true"`` and an annotation recording the labels
removed (to restore them by hand), and a deny-all NetworkPolicy selecting the
quarantine label (ingress and egress) is made in its namespace.  The policy is
created first, so the Pod is cut off from the moment it is relabelled; both
steps are repeatable (the policy exists; the labels are already gone).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from kubeops.errors import AlreadyExists
from kubeops.respond.action import ActionContext, Plan
from kubeops.respond.actions.base import MARK_PREFIX, ActionError, BaseAction
from kubeops.respond.actions.target import TargetSpec
from kubeops.respond.actions.values import Params

__all__ = [
    "ISOLATED_LABELS",
    "POLICY_NAME",
    "QUARANTINE_LABEL",
    "IsolateAction",
    "deny_all_policy",
    "selected_keys",
]

QUARANTINE_LABEL = MARK_PREFIX + "quarantine"
ISOLATED_LABELS = MARK_PREFIX + "isolated-labels"
POLICY_NAME = "kubeops-respond-quarantine"


def selected_keys(labels: Mapping[str, str], services: list[Mapping[str, Any]]) -> set[str]:
    """The label keys by which any of ``services`` selects a Pod labelled ``labels``."""
    keys: set[str] = set()
    for service in services:
        selector = (service.get("spec") or {}).get("selector") or {}
        if selector and all(labels.get(k) == v for k, v in selector.items()):
            keys |= set(selector)
    return keys


def deny_all_policy(namespace: str) -> dict[str, Any]:
    """The NetworkPolicy that denies all traffic to and from quarantined Pods."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": POLICY_NAME,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "kubeops-respond"},
        },
        "spec": {
            "podSelector": {"matchLabels": {QUARANTINE_LABEL: "true"}},
            "policyTypes": ["Ingress", "Egress"],
        },
    }


class IsolateAction(BaseAction[TargetSpec]):
    """See the module doc."""

    kind = "isolate"

    def configure(self, params: Params) -> TargetSpec:
        """``target`` (a Pod; default the event's)."""
        return TargetSpec.read(params)

    async def _look(self, ctx: ActionContext) -> tuple[Any, set[str]]:
        target = await self.target(ctx, self.settings_for(ctx))
        if target.resource.kind != "Pod" or target.resource.group:
            raise ActionError(self.kind, target.ref, f"is a {target.resource.kind}, not a Pod")
        labels = (target.object.get("metadata") or {}).get("labels") or {}
        services = await self.guard(target.ref, ctx.client.list("services", target.namespace))
        return target, selected_keys(labels, services.get("items") or [])

    async def plan(self, ctx: ActionContext) -> Plan:
        """The labels to remove, and whether the Pod is already quarantined."""
        target, keys = await self._look(ctx)
        labels = (target.object.get("metadata") or {}).get("labels") or {}
        already = labels.get(QUARANTINE_LABEL) == "true" and not keys
        removed = ", ".join(sorted(keys)) or "none"
        summary = f"isolate {target.ref}: remove labels {removed}, deny all traffic"
        if already:
            summary = f"isolate {target.ref}: already isolated"
        return self.plan_of(target.ref, summary, labels=sorted(keys), policy=POLICY_NAME)

    async def execute(self, ctx: ActionContext, plan: Plan) -> str:
        """Create the deny-all policy, then relabel the Pod."""
        target, keys = await self._look(ctx)
        namespace = target.namespace or ""
        try:
            await self.guard(
                target.ref, ctx.client.create(deny_all_policy(namespace), dry_run=ctx.dry_run)
            )
        except ActionError as err:
            if not isinstance(err.__cause__, AlreadyExists):
                raise
        labels = (target.object.get("metadata") or {}).get("labels") or {}
        patch: dict[str, Any] = {
            "metadata": {
                "labels": {**dict.fromkeys(keys), QUARANTINE_LABEL: "true"},
            }
        }
        if keys:
            kept = {k: labels[k] for k in sorted(keys)}
            patch["metadata"]["annotations"] = {ISOLATED_LABELS: json.dumps(kept, sort_keys=True)}
        patch["metadata"]["uid"] = target.uid  # only the Pod the rule saw
        await self.guard(
            target.ref,
            ctx.client.patch("pods", target.name, patch, namespace, dry_run=ctx.dry_run),
        )
        dry = " (dry run)" if ctx.dry_run else ""
        removed = ", ".join(sorted(keys)) or "none"
        return f"isolated {target.ref}: removed labels {removed}, NetworkPolicy {POLICY_NAME}{dry}"
