"""What every source reads from a trigger: names, durations, numbers, and the scope
(namespaces and label selector) an object must be in.

Validation and matching share these readers, so a trigger ``respond check``
accepts is read the same way when the daemon runs it.  Problems are phrases
naming the field (``params.for: must be a duration like 5m``); the rules loader
prefixes the file, line and rule.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kubeops.inspect.catalog import parse_time
from kubeops.models import DurationError, Selector, SelectorError, parse_duration
from kubeops.respond.event import Object
from kubeops.respond.model import Trigger

__all__ = [
    "Scope",
    "check_names",
    "check_scope",
    "duration_param",
    "number_param",
    "timestamp",
]


def timestamp(value: object) -> datetime.datetime | None:
    """An RFC 3339 time from an object (aware, UTC when no zone); None when absent or bad."""
    if not isinstance(value, str):
        return None
    moment = parse_time(value)
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment


def duration_param(params: Mapping[str, Any], key: str, default: float = 0.0) -> float:
    """``params[key]`` in seconds: a number of seconds or a duration (``5m``); ``default`` if absent.

    Raises ValueError with the field's phrase when it is neither.
    """
    value = params.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        raise ValueError(f"params.{key}: must be a duration like 5m, not {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        try:
            seconds = parse_duration(str(value))
        except DurationError:
            raise ValueError(f"params.{key}: must be a duration like 5m, not {value!r}") from None
    if seconds < 0:
        raise ValueError(f"params.{key}: must not be negative ({value!r})")
    return seconds


def number_param(
    params: Mapping[str, Any], key: str, default: float | None = None, *, minimum: float = 0.0
) -> float:
    """``params[key]`` as a number at least ``minimum``; ``default`` when absent (None: required)."""
    value = params.get(key)
    if value is None:
        if default is None:
            raise ValueError(f"params.{key}: is required")
        return default
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"params.{key}: must be a number, not {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"params.{key}: must be a number, not {value!r}") from None
    if not number >= minimum:  # also refuses NaN
        raise ValueError(f"params.{key}: must be at least {minimum:g}, not {value!r}")
    return number


def check_names(trigger: Trigger, allowed: Iterable[str]) -> list[str]:
    """A problem for each trigger name not in ``allowed``."""
    known = list(allowed)
    return [
        f"names: unknown event {name!r} for source {trigger.source!r} (one of {', '.join(known)})"
        for name in trigger.names
        if name not in known
    ]


def check_scope(trigger: Trigger) -> list[str]:
    """Problems with the trigger's namespaces and selector."""
    problems = [
        f"namespaces: {ns!r} is not a namespace name"
        for ns in trigger.namespaces
        if not isinstance(ns, str) or not ns
    ]
    try:
        Selector.parse(trigger.selector or "")
    except SelectorError as err:
        problems.append(f"selector: {err}")
    return problems


def collect(*checks: Any) -> list[str]:
    """Run each zero-argument check; each ValueError it raises becomes one problem."""
    problems: list[str] = []
    for check in checks:
        try:
            check()
        except ValueError as err:
            problems.append(str(err))
    return problems


@dataclass(frozen=True, slots=True)
class Scope:
    """The namespaces (empty: all) and label selector an object must be in."""

    namespaces: frozenset[str]
    selector: Selector

    @classmethod
    def of(cls, trigger: Trigger) -> Scope:
        """The scope a (validated) trigger names (parsed once per namespaces and selector)."""
        return _scope(tuple(trigger.namespaces), trigger.selector or "")

    def matches(self, obj: Object | None) -> bool:
        """Whether ``obj`` is in these namespaces (cluster-scoped objects always are) and selected."""
        if obj is None:
            return not self.namespaces and self.selector.selects_everything
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace")
        if self.namespaces and namespace and namespace not in self.namespaces:
            return False
        return self.selector.matches(meta.get("labels") or {})


@functools.lru_cache(maxsize=1024)
def _scope(namespaces: tuple[str, ...], selector: str) -> Scope:
    # Matching runs for every event and rule: parse a selector once, not each time.
    return Scope(frozenset(namespaces), Selector.parse(selector))


def watched_namespaces(triggers: Iterable[Trigger]) -> tuple[str, ...] | None:
    """The namespaces to watch for these triggers: None (all) when any wants all."""
    found: set[str] = set()
    for trigger in triggers:
        if not trigger.namespaces:
            return None
        found.update(trigger.namespaces)
    return tuple(sorted(found))
