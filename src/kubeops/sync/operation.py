"""The diff engine's output: one operation on one target object, with its reason.

``kubeops sync plan`` prints these, the executor carries them out, and the
policy's status counts their outcomes, so what ``plan`` shows is what ``run``
then does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from kubeops.sync.ownership import ObjectKey


class Action(StrEnum):
    """What the executor does to the target object."""

    CREATE = "create"
    """POST the desired object (the target has none of that name)."""
    APPLY = "apply"
    """Server-side apply (force) under the sync's field manager: an update, or an Adopt."""
    REPLACE = "replace"
    """PUT the desired object over the actual one (Overwrite of a foreign object)."""
    DELETE = "delete"
    """Delete the target object (uid precondition), the source being gone and deletion Prune."""
    ORPHAN = "orphan"
    """Remove the sync's marks and leave the object (deletion Orphan)."""
    NONE = "none"
    """In sync -- or drift reported, or a conflict refused: nothing is written."""


class State(StrEnum):
    """What an object's last evaluation on a target found; the status counts these."""

    IN_SYNC = "InSync"
    DRIFTED = "Drifted"
    """Differs from desired and drift is Report (with Correct it is fixed and counts InSync)."""
    CONFLICT = "Conflict"
    """A foreign object holds the name and conflictResolution is Abort."""
    FAILED = "Failed"
    PENDING = "Pending"
    """Queued, or its target is unreachable."""


@dataclass(frozen=True)
class Operation:
    """One decision of :func:`kubeops.sync.diff.decide` for one object on one target."""

    policy: str
    target: str
    key: ObjectKey
    action: Action
    reason: str
    """One phrase a user reads in plan and status: "not on the target", "source changed",
    "drifted: spec.replicas", "owned by policy other", "source deleted"..."""
    state: State = State.IN_SYNC
    """What the object's state is once the action succeeded."""
    desired: dict[str, Any] | None = None
    """The object to send (marks and hash included); None for delete, orphan and none."""
    actual: dict[str, Any] | None = None
    """The target's object as the state store holds it; None when it has none."""
    differences: tuple[str, ...] = field(default=())
    """Dotted paths where actual differs from desired (``spec.replicas``, ``metadata.labels.app``)."""

    @property
    def writes(self) -> bool:
        """Whether carrying it out changes the target."""
        return self.action is not Action.NONE
