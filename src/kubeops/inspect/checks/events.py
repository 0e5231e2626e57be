"""Events: objects piling up Warning events."""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kubeops.inspect.catalog import CheckContext, Hit, parse_time, register_check
from kubeops.inspect.model import Severity

if TYPE_CHECKING:
    from kubeops.api import Object


def event_count(event: Object) -> int:
    """How many times the event happened: its series count, else its count, else once."""
    series = event.get("series") or {}
    for value in (series.get("count"), event.get("count")):
        if isinstance(value, int) and value > 0:
            return value
    return 1


def last_seen(event: Object) -> datetime.datetime | None:
    """When the event last happened, from the most precise timestamp it carries."""
    series = event.get("series") or {}
    for stamp in (
        series.get("lastObservedTime"),
        event.get("lastTimestamp"),
        event.get("eventTime"),
        (event.get("metadata") or {}).get("creationTimestamp"),
    ):
        when = parse_time(stamp)
        if when is not None:
            return when
    return None


@dataclass
class _Pile:
    involved: Object
    total: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    latest: tuple[datetime.datetime, str] | None = None


def _target(event: Object) -> Object:
    """The involved object as a finding names it."""
    involved = event.get("involvedObject") or event.get("regarding") or {}
    meta: Object = {"name": involved.get("name", "")}
    if involved.get("namespace"):
        meta["namespace"] = involved["namespace"]
    return {
        "apiVersion": involved.get("apiVersion", ""),
        "kind": involved.get("kind", ""),
        "metadata": meta,
    }


@register_check(
    "event-warnings-piling-up",
    title="Object accumulating Warning events",
    category="events",
    severity=Severity.WARNING,
    subject="events",
    thresholds={"count": 10, "minutes": 60},
    rationale="Many Warning events on one object in a short time (BackOff, FailedMount, FailedScheduling, Unhealthy...) mean something keeps failing right now, even when the object's status looks settled.",
    remediation="Read the events (`kubectl events --for KIND/NAME -n NAMESPACE --types=Warning`) and fix their cause.",
)
def warnings_piling_up(ctx: CheckContext) -> Iterator[Hit]:
    limit = int(ctx.threshold("count"))
    window = datetime.timedelta(minutes=ctx.threshold("minutes"))
    since = ctx.now - window
    piles: dict[tuple[str, str, str, str], _Pile] = {}
    for event in ctx.objects("events"):
        if event.get("type") != "Warning":
            continue
        when = last_seen(event)
        if when is None or when < since:
            continue
        target = _target(event)
        meta = target["metadata"]
        key = (target["kind"], target["apiVersion"], meta.get("namespace", ""), meta["name"])
        pile = piles.get(key)
        if pile is None:
            pile = piles[key] = _Pile(target)
        count = event_count(event)
        pile.total += count
        pile.reasons[str(event.get("reason") or "no reason")] += count
        if pile.latest is None or when > pile.latest[0]:
            pile.latest = (when, str(event.get("message") or "").strip())
    minutes = ctx.threshold("minutes")
    for pile in piles.values():
        if pile.total < limit:
            continue
        reasons = ", ".join(f"{r} ({n})" for r, n in pile.reasons.most_common(3))
        last = f'; latest: "{pile.latest[1][:200]}"' if pile.latest and pile.latest[1] else ""
        yield Hit(
            pile.involved,
            f"{pile.total} Warning events in the last {minutes} minutes (threshold {limit}): {reasons}{last}",
        )
