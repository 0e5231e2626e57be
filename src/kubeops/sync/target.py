"""The one interface the push controller drives every target through, Push or Pull.

The controller (:mod:`kubeops.sync.engine`) owns one work queue per target and
calls :meth:`Target.reconcile` for each ``(policy, key)`` it dequeues, with the
desired object it computed from the source (:func:`kubeops.sync.desired.desired_object`)
or ``None`` once the source object's absence has been confirmed.  A Push target
(:class:`kubeops.sync.push.PushTarget`) diffs against its own state store and
applies to the member; a Pull target (:class:`kubeops.sync.work.PullTarget`)
writes the member's ``SyncWork`` on the hub for its agent.  Either way the
controller never learns how the object reached the member.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from kubeops.sync.model import SyncPolicy
from kubeops.sync.operation import Operation
from kubeops.sync.ownership import ObjectKey

CONFLICT_RECHECK = 10.0
"""Seconds between looks at a name a foreign object holds (Abort): it may have gone, and a
target's store holds only owned objects, so its deletion is never seen as an event."""

Changed = Callable[[str, ObjectKey], None]
"""Called with ``(policy name, key)`` when a target's copy changed by itself (drift, deletion)."""


class TargetDown(Exception):
    """The target cannot be reached; the controller pauses its queue and keeps the key."""


class Target(Protocol):
    """One member cluster as the controller sees it."""

    name: str

    async def start(self, on_change: Changed) -> None:
        """Start watching what the sync owns there; ``on_change`` reports changes made by others."""

    async def stop(self) -> None:
        """Stop watching and release connections."""

    def watch_kind(self, group: str, kind: str) -> Awaitable[None]:
        """Make sure objects of this kind are watched (a policy selecting it started)."""

    def owned(self, policy: str) -> list[ObjectKey]:
        """Every object the store holds as owned by ``policy`` (orphans are found from these)."""

    def synced(self) -> bool:
        """Whether the target's store holds a complete, current view (never act on a partial one)."""

    async def reconcile(
        self, policy: SyncPolicy, key: ObjectKey, desired: dict[str, Any] | None
    ) -> Operation:
        """Bring the target's object to ``desired`` (None: the source's is gone) as ``policy`` says.

        Returns the operation carried out (``Action.NONE`` when nothing was
        written).  Raises :class:`TargetDown` when the target is unreachable, and
        a ``KubeopsError`` naming object, operation and cause for anything else.
        """

    async def probe(self) -> bool:
        """Whether the target answers now (``/readyz`` for Push, the agent's heartbeat for Pull)."""
