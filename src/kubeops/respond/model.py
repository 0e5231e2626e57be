"""What a rule is: a trigger, conditions, actions and safety settings.

Rules come from YAML files (:mod:`kubeops.respond.rules`) or from Python
decorators; both build these frozen values, so the engine, ``respond check`` and
``respond replay`` see one shape.  Source- and action-specific settings stay in
``params`` mappings, validated by the source or action that owns them when the
rules are loaded -- before anything starts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubeops.respond.event import Event


@dataclass(frozen=True, slots=True)
class Trigger:
    """Which events a rule answers.

    ``source`` is one of :data:`kubeops.respond.event.SOURCES`; ``names`` the event
    names that match (empty: any); ``kind``/``api_version``/``namespaces``/
    ``selector`` narrow events about objects; ``condition`` is a CEL expression over
    ``object``, ``oldObject``, ``payload`` and ``event``; ``params`` hold what only
    one source understands (a derived state's threshold, a usage window, a cron).
    """

    source: str
    names: tuple[str, ...] = ()
    kind: str = ""
    api_version: str = ""
    namespaces: tuple[str, ...] = ()
    selector: str = ""
    condition: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """One action of a rule: its kind (``scale``, ``notify``...) and its settings."""

    kind: str
    params: Mapping[str, Any] = field(default_factory=dict)
    origin: str = ""
    """Where it was declared (``rules/cpu.yaml:14``), for messages."""


@dataclass(frozen=True, slots=True)
class Window:
    """At most ``count`` actions per ``seconds``."""

    count: int
    seconds: float


@dataclass(frozen=True, slots=True)
class Safety:
    """A rule's limits; every one that stops an action is named in the audit log."""

    dry_run: bool = False
    cooldown: float = 0.0
    """Seconds after an action on an object before the rule acts on it again."""
    max_actions: Window | None = None
    """Actions of this rule per window, over all objects."""
    dedup_window: float = 0.0
    """Seconds during which the same event name on the same object counts once."""
    max_scale_percent: float | None = None
    """Never change replicas by more than this percentage in one action."""
    max_drained_nodes: Window | None = None
    """Nodes this rule may cordon or drain per window."""


PythonAction = Callable[[Event], Awaitable[Any] | Any]


@dataclass(frozen=True, slots=True)
class Rule:
    """A named rule: when ``trigger`` fires and every condition holds, run ``actions``."""

    name: str
    trigger: Trigger
    actions: tuple[ActionSpec, ...]
    conditions: tuple[str, ...] = ()
    safety: Safety = field(default_factory=Safety)
    description: str = ""
    origin: str = ""
    """Where it was declared (``rules/cpu.yaml:3`` or ``module:function``)."""
    functions: Mapping[str, PythonAction] = field(default_factory=dict)
    """Python callables the ``call`` actions of this rule name (decorated rules)."""


@dataclass(frozen=True, slots=True)
class GlobalLimits:
    """Limits over every rule together, and where the daemon keeps its state."""

    max_actions: Window | None = None
    dry_run: bool = False
    namespace: str = "kubeops-system"
    """Where the action ledger and the kill switch live."""
    kill_switch: str = "kubeops-respond-control"
    """A ConfigMap whose ``data.paused: "true"`` pauses every action."""
