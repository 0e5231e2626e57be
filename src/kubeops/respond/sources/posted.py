"""Triggers on posted events -- plain JSON (``http``) and Alertmanager alerts
(``alert``): their validation and matching.

The events themselves arrive through the daemon's receiver, which names an
alert's event after its ``alertname`` and puts ``status`` and ``labels`` in the
payload; a trigger's ``params.labels`` must all match exactly and
``params.status`` (default ``firing``) must equal the alert's.
"""

from __future__ import annotations

from collections.abc import Mapping

from kubeops.respond.event import ALERT, HTTP, Event
from kubeops.respond.model import Trigger

__all__ = [
    "ALERT_PARAMS",
    "STATUSES",
    "matches_alert",
    "matches_http",
    "validate_alert",
    "validate_http",
]

ALERT_PARAMS = ("labels", "status")
STATUSES = ("firing", "resolved")


def _objectless(trigger: Trigger, what: str) -> list[str]:
    problems = [
        f"{field}: {what} trigger is about no object"
        for field in ("kind", "selector")
        if getattr(trigger, field)
    ]
    if trigger.namespaces:
        problems.append(f"namespaces: {what} trigger is about no object")
    return problems


def _names(trigger: Trigger) -> list[str]:
    return [
        f"names: {name!r} is not an event name"
        for name in trigger.names
        if not isinstance(name, str) or not name
    ]


def validate_http(trigger: Trigger) -> list[str]:
    """Problems with an http trigger: names only (what the poster sends as ``name``)."""
    problems = _names(trigger) + _objectless(trigger, "an http")
    problems += [
        f"params.{key}: an http trigger takes no params (match payload fields with a condition)"
        for key in sorted(trigger.params)
    ]
    return problems


def matches_http(trigger: Trigger, event: Event) -> bool:
    """Whether a posted event answers ``trigger`` (by name; any name if none given)."""
    return event.source == HTTP and (not trigger.names or event.name in trigger.names)


def validate_alert(trigger: Trigger) -> list[str]:
    """Problems with an alert trigger, each a phrase naming the field."""
    params = trigger.params
    problems = _names(trigger) + _objectless(trigger, "an alert")
    problems += [
        f"params.{key}: unknown for an alert trigger (one of {', '.join(ALERT_PARAMS)})"
        for key in sorted(set(params) - set(ALERT_PARAMS))
    ]
    labels = params.get("labels")
    if labels is not None and (
        not isinstance(labels, Mapping)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items())
    ):
        problems.append("params.labels: must map label names to strings (exact matches)")
    status = params.get("status")
    if status is not None and status not in STATUSES:
        problems.append(f"params.status: must be firing or resolved, not {status!r}")
    return problems


def matches_alert(trigger: Trigger, event: Event) -> bool:
    """Whether an alert answers ``trigger``: alertname, every label, and status."""
    if event.source != ALERT or (trigger.names and event.name not in trigger.names):
        return False
    params = trigger.params
    if event.payload.get("status", "firing") != (params.get("status") or "firing"):
        return False
    labels = event.payload.get("labels") or {}
    wanted = params.get("labels") or {}
    return all(labels.get(key) == value for key, value in wanted.items())
