"""The contract between the engine and an action.

An action is built from its :class:`~kubeops.respond.model.ActionSpec` when the
rules load (bad settings fail then, with the spec's origin), then, for each
event, first *planned* -- what it would change, read from the cluster but not
written -- and then *executed*.  The plan is what dry-run audits, what the blast
radius limits measure (a scale's percentage, the Nodes a drain touches) and what
the audit log says was intended even when execution fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from kubeops.errors import KubeopsError
from kubeops.respond.event import Event, ObjectRef
from kubeops.respond.model import ActionSpec, Rule

if TYPE_CHECKING:
    from kubeops.api import Client


class ActionSpecError(KubeopsError, ValueError):
    """An action's settings are wrong; the message names the field and the cause."""


@dataclass(frozen=True, slots=True)
class ActionContext:
    """What an action needs to plan and act for one event."""

    client: Client
    event: Event
    rule: Rule
    action_id: str
    """Stable across retries and leaders: derived from the rule, action and event identity."""
    dry_run: bool = False
    settings: Any = None
    """Daemon-wide settings an action may need (SMTP server, notification defaults)."""


@dataclass(frozen=True, slots=True)
class Plan:
    """What an action is about to do."""

    action: str
    target: ObjectRef | None
    summary: str
    """One line: ``scale deployment/prod/web from 3 to 6 replicas``."""
    scale_percent: float | None = None
    nodes: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)


class Action(Protocol):
    """One built action; see the module doc."""

    spec: ActionSpec

    async def plan(self, ctx: ActionContext) -> Plan:
        """Read what is needed and say what would change; change nothing."""
        ...

    async def execute(self, ctx: ActionContext, plan: Plan) -> str:
        """Do what ``plan`` says; return one line saying what was done.

        Must be idempotent for the same ``ctx.action_id``: a new leader re-runs an
        action the old one claimed but did not finish.
        """
        ...
