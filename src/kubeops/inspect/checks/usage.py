"""Usage: what nodes and containers actually consume, from the metrics API
(metrics-server's metrics.k8s.io).  Without that API these checks are reported
as not run, never as passed."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from typing import TYPE_CHECKING

from kubeops.inspect.catalog import CheckContext, Hit, register_check
from kubeops.inspect.model import Severity
from kubeops.models import Quantity, QuantityError

if TYPE_CHECKING:
    from kubeops.api import Object


def quantity(value: object) -> Fraction | None:
    """A quantity's exact value; None when absent or malformed."""
    if value is None:
        return None
    try:
        return Quantity(str(value)).as_fraction()
    except QuantityError:
        return None


def percent(used: object, total: object) -> float | None:
    """used as a percentage of total; None when either is missing or total is zero."""
    a, b = quantity(used), quantity(total)
    if a is None or b is None or b <= 0:
        return None
    return float(a * 100 / b)


def _meta(obj: Object) -> tuple[str | None, str]:
    meta = obj.get("metadata") or {}
    return meta.get("namespace") or None, str(meta.get("name", ""))


def _node_usage(ctx: CheckContext, resource: str, unit: str) -> Iterator[Hit]:
    limit = float(ctx.threshold("percent"))
    nodes = ctx.by_name("nodes")
    for metrics in ctx.objects("nodemetrics"):
        node = nodes.get((None, _meta(metrics)[1]))
        if node is None:
            continue
        status = node.get("status") or {}
        total = (status.get("allocatable") or {}).get(resource) or (
            status.get("capacity") or {}
        ).get(resource)
        used = (metrics.get("usage") or {}).get(resource)
        share = percent(used, total)
        if share is not None and share >= limit:
            yield Hit(
                node,
                f"{resource} usage {used} is {share:.0f}% of the {total}{unit} allocatable (threshold {limit:g}%)",
            )


@register_check(
    "usage-node-cpu",
    title="Node CPU usage high",
    category="usage",
    severity=Severity.WARNING,
    subject="nodemetrics",
    needs=["nodes"],
    thresholds={"percent": 90},
    rationale="A node whose CPU is saturated throttles every Pod on it: latency rises and probes time out, even for Pods within their requests.",
    remediation="See what uses it (`kubectl top pods -A --sort-by=cpu`, by node); spread the load, set CPU limits on the noisy Pods or add nodes.",
)
def node_cpu(ctx: CheckContext) -> Iterator[Hit]:
    yield from _node_usage(ctx, "cpu", " CPU")


@register_check(
    "usage-node-memory",
    title="Node memory usage high",
    category="usage",
    severity=Severity.WARNING,
    subject="nodemetrics",
    needs=["nodes"],
    thresholds={"percent": 90},
    rationale="A node near its allocatable memory is close to memory pressure: the kubelet starts evicting Pods, and the kernel OOM-kills containers.",
    remediation="See what uses it (`kubectl top pods -A --sort-by=memory`, by node); set memory limits, move Pods or add nodes.",
)
def node_memory(ctx: CheckContext) -> Iterator[Hit]:
    yield from _node_usage(ctx, "memory", "")


@register_check(
    "usage-container-memory-limit",
    title="Container close to its memory limit",
    category="usage",
    severity=Severity.WARNING,
    subject="podmetrics",
    needs=["pods"],
    thresholds={"percent": 90},
    rationale="A container that reaches its memory limit is OOM-killed and restarted; one running close to it is one traffic spike away from that.",
    remediation="Raise the container's memory limit (and request) to fit its real use, or find the leak; `kubectl top pod NAME --containers` shows current use.",
)
def container_memory_limit(ctx: CheckContext) -> Iterator[Hit]:
    limit = float(ctx.threshold("percent"))
    pods = ctx.by_name("pods")
    for metrics in ctx.objects("podmetrics"):
        pod = pods.get(_meta(metrics))
        if pod is None:
            continue
        limits = {
            c.get("name", ""): ((c.get("resources") or {}).get("limits") or {}).get("memory")
            for c in (pod.get("spec") or {}).get("containers") or []
        }
        for container in metrics.get("containers") or []:
            name = container.get("name", "")
            memory_limit = limits.get(name)
            used = (container.get("usage") or {}).get("memory")
            share = percent(used, memory_limit)
            if share is not None and share >= limit:
                yield Hit(
                    pod,
                    f'container "{name}" uses {used} of its {memory_limit} memory limit ({share:.0f}%, threshold {limit:g}%)',
                )
