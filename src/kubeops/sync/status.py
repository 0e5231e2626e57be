"""What the sync knows of each (policy, target): every object's last state, and the policy status.

The controller records each evaluation here; :class:`StatusWriter` turns the
counts into the ``ClusterSyncPolicy`` status (per-target counts, last error,
conditions ``Ready`` and ``Valid``, ``observedGeneration``) and writes it with
a merge patch on the status subresource -- at most every 2 s per policy, and
only when it changed, so a storm of changes costs the hub one write per
policy per period.  :meth:`StatusBook.snapshot` is the same view for
``kubeops sync status`` and for tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kubeops.api import Client
from kubeops.errors import KubeopsError, NotFound
from kubeops.sync.members import set_condition
from kubeops.sync.model import GROUP
from kubeops.sync.operation import State
from kubeops.sync.ownership import FIELD_MANAGER, ObjectKey
from kubeops.sync.work import format_time

__all__ = ["POLICY_RESOURCE", "PolicyView", "StatusBook", "StatusWriter", "TargetView"]

log = logging.getLogger(__name__)

POLICY_RESOURCE = f"clustersyncpolicies.{GROUP}"
WRITE_INTERVAL = 2.0
_PROBLEMS = (State.FAILED, State.CONFLICT, State.DRIFTED)
_COUNTED = {
    State.IN_SYNC: "inSync",
    State.DRIFTED: "drifted",
    State.CONFLICT: "conflicts",
    State.FAILED: "failed",
    State.PENDING: "pending",
}


@dataclass
class TargetView:
    """One target of one policy: each object's last state, the last error, whether it is up."""

    name: str
    mode: str = "Push"
    states: dict[ObjectKey, State] = field(default_factory=dict)
    last_error: str = ""
    last_sync_time: str = ""
    up: bool = True

    def counts(self) -> dict[str, int]:
        """``desired`` and one count per state, as ``status.targets[]`` names them."""
        counted = dict.fromkeys(_COUNTED.values(), 0)
        for state in self.states.values():
            counted[_COUNTED[state]] += 1
        return {"desired": len(self.states), **counted}

    def row(self) -> dict[str, Any]:
        """This target's ``status.targets[]`` entry."""
        row: dict[str, Any] = {"name": self.name, "mode": self.mode, **self.counts()}
        row["lastError"] = self.last_error
        if self.last_sync_time:
            row["lastSyncTime"] = self.last_sync_time
        return row


@dataclass
class PolicyView:
    """One policy's targets, validity and generation, as the status shows them."""

    name: str
    generation: int = 0
    valid: bool = True
    invalid_reason: str = ""
    targets: dict[str, TargetView] = field(default_factory=dict)
    conditions: list[dict[str, Any]] = field(default_factory=list)
    paused: bool = False
    source_error: str = ""
    """Why the source's objects cannot be listed or watched now ("" when they can)."""

    def ready(self) -> tuple[bool, str, str]:
        """Whether every target holds every object in sync: (ready, reason, message)."""
        if not self.valid:
            return False, "Invalid", self.invalid_reason
        if self.paused:
            return False, "Paused", "spec.paused is set: nothing is written"
        if self.source_error:
            return False, "SourceUnavailable", self.source_error
        lagging = []
        for view in sorted(self.targets.values(), key=lambda v: v.name):
            counts = view.counts()
            if not view.up:
                lagging.append(f"{view.name} unreachable")
            elif counts["inSync"] != counts["desired"]:
                behind = counts["desired"] - counts["inSync"]
                lagging.append(f"{view.name}: {behind} of {counts['desired']} not in sync")
        if lagging:
            return False, "NotInSync", "; ".join(lagging)
        return True, "InSync", f"every object in sync on {len(self.targets)} target(s)"


class StatusBook:
    """Every (policy, target, object) state the controller recorded."""

    def __init__(self) -> None:
        self._policies: dict[str, PolicyView] = {}
        self._changed: set[str] = set()

    def policy(self, name: str) -> PolicyView:
        """The view of ``name`` (made empty on first use)."""
        view = self._policies.get(name)
        if view is None:
            view = self._policies[name] = PolicyView(name)
        return view

    def set_policy(
        self,
        name: str,
        *,
        generation: int,
        targets: Mapping[str, str],
        valid: bool = True,
        reason: str = "",
        paused: bool = False,
        conditions: list[dict[str, Any]] | None = None,
    ) -> None:
        """Set a policy's generation, validity and targets (name -> mode); others are dropped."""
        view = self.policy(name)
        if conditions is not None and not view.conditions:
            view.conditions = [dict(c) for c in conditions]
        view.generation, view.valid, view.invalid_reason = generation, valid, reason
        view.paused = paused
        for gone in set(view.targets) - set(targets):
            del view.targets[gone]
        for target, mode in targets.items():
            view.targets.setdefault(target, TargetView(target, mode)).mode = mode
        self._changed.add(name)

    def set_source_error(self, name: str, error: str) -> None:
        """Record why the policy's source cannot be listed ("" once it can again)."""
        view = self._policies.get(name)
        if view is not None and view.source_error != error:
            view.source_error = error
            self._changed.add(name)

    def drop_policy(self, name: str) -> None:
        """Forget a deleted policy."""
        self._policies.pop(name, None)
        self._changed.discard(name)

    def record(
        self, policy: str, target: str, key: ObjectKey, state: State, error: str = ""
    ) -> None:
        """Record an object's state on a target (``error`` for a failure)."""
        view = self._policies.get(policy)
        if view is None or target not in view.targets:
            return
        entry = view.targets[target]
        if entry.states.get(key) is not state:
            entry.states[key] = state
            self._changed.add(policy)
        if error:
            entry.last_error = error
            self._changed.add(policy)
        elif state is not State.PENDING:
            entry.last_sync_time = format_time()
            if entry.last_error and not any(s in _PROBLEMS for s in entry.states.values()):
                entry.last_error = ""
            self._changed.add(policy)

    def pending(self, policy: str, target: str, key: ObjectKey) -> None:
        """Count a queued object as pending unless it already has a state."""
        view = self._policies.get(policy)
        if view is not None and target in view.targets:
            entry = view.targets[target]
            if key not in entry.states:
                entry.states[key] = State.PENDING
                self._changed.add(policy)

    def forget(self, policy: str, target: str, key: ObjectKey) -> None:
        """The object is no longer desired on the target (its source is gone and it was pruned)."""
        view = self._policies.get(policy)
        entry = view.targets.get(target) if view is not None else None
        if entry is not None and entry.states.pop(key, None) is not None:
            self._changed.add(policy)

    def set_up(self, target: str, up: bool, error: str = "") -> None:
        """Mark a target reachable or not, in every policy that targets it."""
        for name, view in self._policies.items():
            entry = view.targets.get(target)
            if entry is not None and entry.up != up:
                entry.up = up
                if error:
                    entry.last_error = error
                self._changed.add(name)

    def counts(self, policy: str, target: str) -> dict[str, int]:
        """The counts of one (policy, target) (empty when unknown)."""
        view = self._policies.get(policy)
        entry = view.targets.get(target) if view is not None else None
        return entry.counts() if entry is not None else {}

    def take_changed(self) -> set[str]:
        """The policies changed since the last call."""
        changed, self._changed = self._changed, set()
        return changed

    def status(self, name: str) -> dict[str, Any]:
        """The ``status`` of policy ``name`` as the writer patches it."""
        view = self.policy(name)
        ready, reason, message = view.ready()
        conditions = set_condition(
            view.conditions,
            "Valid",
            view.valid,
            "Resolved" if view.valid else "Unresolved",
            "source and targets are MemberClusters" if view.valid else view.invalid_reason,
            observed_generation=view.generation,
        )
        conditions = set_condition(
            conditions, "Ready", ready, reason, message, observed_generation=view.generation
        )
        view.conditions = conditions
        return {
            "observedGeneration": view.generation,
            "conditions": conditions,
            "targets": [view.targets[t].row() for t in sorted(view.targets)],
        }

    def snapshot(self) -> dict[str, Any]:
        """Every policy's targets and counts, plain data (``kubeops sync status``, tests)."""
        out: dict[str, Any] = {}
        for name in sorted(self._policies):
            view = self._policies[name]
            ready, reason, message = view.ready()
            out[name] = {
                "generation": view.generation,
                "valid": view.valid,
                "ready": ready,
                "reason": reason,
                "message": message,
                "sourceError": view.source_error,
                "targets": [view.targets[t].row() for t in sorted(view.targets)],
            }
        return out


class StatusWriter:
    """Writes changed policies' status to the hub, at most every ``interval`` seconds."""

    def __init__(self, hub: Client, book: StatusBook, *, interval: float = WRITE_INTERVAL) -> None:
        self.hub = hub
        self.book = book
        self.interval = interval
        self._written: dict[str, dict[str, Any]] = {}

    async def run(self, stop: asyncio.Event) -> None:
        """Write every ``interval`` until ``stop`` is set; nothing after (the lease may be lost)."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)
            if not stop.is_set():
                await self.flush()

    async def flush(self) -> None:
        """Write the status of every policy changed since the last flush."""
        for name in sorted(self.book.take_changed()):
            status = self.book.status(name)
            if _comparable(status) == _comparable(self._written.get(name, {})):
                continue
            try:
                await self.hub.patch(
                    POLICY_RESOURCE,
                    name,
                    {"status": status},
                    subresource="status",
                    field_manager=FIELD_MANAGER,
                )
            except NotFound:
                continue  # deleted meanwhile
            except KubeopsError as err:
                log.warning("ClusterSyncPolicy %s: writing its status failed: %s", name, err)
                self.book._changed.add(name)
                continue
            self._written[name] = status


def _comparable(status: Mapping[str, Any]) -> Any:
    """The status without times, so only real changes are written."""
    conditions = [
        {k: v for k, v in c.items() if k != "lastTransitionTime"}
        for c in status.get("conditions") or []
    ]
    targets = [
        {k: v for k, v in t.items() if k != "lastSyncTime"} for t in status.get("targets") or []
    ]
    return (status.get("observedGeneration"), conditions, targets)
