"""Quotas: ResourceQuotas about to refuse new objects."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

from kubeops.inspect.catalog import CheckContext, Hit, register_check
from kubeops.inspect.model import Severity
from kubeops.models import Quantity, QuantityError


def usage_ratio(used: object, hard: object) -> Fraction | None:
    """used / hard as an exact fraction; None when either is not a quantity or the
    hard limit is zero (a quota that forbids a resource is not "near" it)."""
    try:
        limit = Quantity(str(hard)).as_fraction()
        consumed = Quantity(str(used)).as_fraction()
    except QuantityError:
        return None
    if limit <= 0:
        return None
    return consumed / limit


@register_check(
    "quota-near-limit",
    title="ResourceQuota near its limit",
    category="quotas",
    severity=Severity.WARNING,
    subject="resourcequotas",
    thresholds={"percent": 90},
    rationale="Once a quota's used value reaches its hard limit the API server rejects new Pods, Services or claims in the namespace: deployments and scale-ups fail.",
    remediation="Raise the quota's hard limit or free the resource (delete unused objects, lower requests); `kubectl describe resourcequota -n NAMESPACE` shows used and hard.",
)
def near_limit(ctx: CheckContext) -> Iterator[Hit]:
    threshold = Fraction(ctx.threshold("percent")) / 100
    for quota in ctx.objects("resourcequotas"):
        status = quota.get("status") or {}
        hard = status.get("hard") or (quota.get("spec") or {}).get("hard") or {}
        used = status.get("used") or {}
        for resource in sorted(hard):
            if resource not in used:
                continue
            ratio = usage_ratio(used[resource], hard[resource])
            if ratio is None or ratio < threshold:
                continue
            percent = int(ratio * 100)
            full = ratio >= 1
            yield Hit(
                quota,
                f"{resource} used {used[resource]} of {hard[resource]} ({percent}%, "
                + ("limit reached)" if full else f"threshold {ctx.threshold('percent')}%)"),
                Severity.ERROR if full else None,
            )
