"""Nodes: readiness, pressure, cordons and kubelet version skew."""

from __future__ import annotations

import re
from collections.abc import Iterator

from kubeops.inspect.catalog import CheckContext, Hit, register_check
from kubeops.inspect.checks.fields import condition_true, conditions, explain
from kubeops.inspect.model import Severity


@register_check(
    "node-not-ready",
    title="Node not Ready",
    category="nodes",
    severity=Severity.CRITICAL,
    subject="nodes",
    rationale="A node whose Ready condition is False or Unknown runs no new Pods, and its Pods are evicted after the toleration period.",
    remediation="Look at the node's conditions and kubelet logs (`kubectl describe node`); drain and replace it if it does not recover.",
)
def not_ready(ctx: CheckContext) -> Iterator[Hit]:
    for node in ctx.objects("nodes"):
        ready = conditions(node).get("Ready")
        if ready is None:
            yield Hit(node, "the node reports no Ready condition")
        elif ready.get("status") != "True":
            why = explain(ready)
            yield Hit(node, f"Ready is {ready.get('status')}" + (f" ({why})" if why else ""))


@register_check(
    "node-pressure",
    title="Node under memory, disk or PID pressure",
    category="nodes",
    severity=Severity.ERROR,
    subject="nodes",
    rationale="Under pressure the kubelet evicts Pods and refuses new ones of lower priority.",
    remediation="Free or add the resource under pressure; check which Pods use it most.",
)
def pressure(ctx: CheckContext) -> Iterator[Hit]:
    for node in ctx.objects("nodes"):
        for kind in ("MemoryPressure", "DiskPressure", "PIDPressure"):
            if condition_true(node, kind):
                yield Hit(node, f"{kind} is True")


@register_check(
    "node-cordoned",
    title="Node cordoned",
    category="nodes",
    severity=Severity.WARNING,
    subject="nodes",
    rationale="A cordoned node takes no new Pods; forgotten cordons shrink the cluster silently.",
    remediation="Uncordon the node (`kubeops node uncordon NAME`) when its maintenance is over.",
)
def cordoned(ctx: CheckContext) -> Iterator[Hit]:
    for node in ctx.objects("nodes"):
        if (node.get("spec") or {}).get("unschedulable"):
            yield Hit(node, "the node is cordoned (spec.unschedulable)")


_VERSION = re.compile(r"v?(\d+)\.(\d+)")


def _minor(version: str) -> tuple[int, int] | None:
    found = _VERSION.match(version or "")
    return (int(found[1]), int(found[2])) if found else None


@register_check(
    "node-version-skew",
    title="Kubelet version outside the supported skew",
    category="nodes",
    severity=Severity.WARNING,
    subject="nodes",
    thresholds={"max_minor_skew": 3},
    rationale="A kubelet may be at most three minor versions older than the API server and never newer; outside that, behaviour is untested and upgrades break.",
    remediation="Upgrade (or replace) the node so its kubelet is within the supported skew.",
)
def version_skew(ctx: CheckContext) -> Iterator[Hit]:
    server = _minor(ctx.snapshot.server_version)
    if server is None:
        return
    limit = int(ctx.threshold("max_minor_skew"))
    for node in ctx.objects("nodes"):
        kubelet_version = ((node.get("status") or {}).get("nodeInfo") or {}).get(
            "kubeletVersion", ""
        )
        kubelet = _minor(kubelet_version)
        if kubelet is None or kubelet[0] != server[0]:
            continue
        skew = server[1] - kubelet[1]
        if skew < 0:
            yield Hit(
                node,
                f"kubelet {kubelet_version} is newer than the API server {ctx.snapshot.server_version}",
            )
        elif skew > limit:
            yield Hit(
                node,
                f"kubelet {kubelet_version} is {skew} minor versions behind the API server {ctx.snapshot.server_version} (at most {limit})",
            )
