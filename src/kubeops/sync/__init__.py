"""Multi-cluster sync: ``ClusterSyncPolicy`` objects keep resources consistent across clusters.

The guide's four parts, one module each: the source's event watcher and every
cluster's state store (:mod:`~kubeops.sync.store`), the pure diff engine that
turns desired against actual into operations (:mod:`~kubeops.sync.desired`,
:mod:`~kubeops.sync.diff`), and the executor that applies them per target
(:mod:`~kubeops.sync.executor`).  The push controller (:mod:`~kubeops.sync.engine`)
runs them on a hub; the pull agent (:mod:`~kubeops.sync.agent`) runs beside a
member the hub cannot reach.

::

    from kubeops.sync import SyncController, policy_from_object
    from kubeops.sync.plan import plan

    ops = await plan(hub, policy_from_object(obj))     # what run would do; writes nothing
    await SyncController(hub).run(stop)                 # the push controller (no Lease)

Names are imported on first use, so ``import kubeops.sync`` stays cheap; a name that
is also a module's (``plan``, ``install``) is not re-exported, so the module stays
reachable as ``kubeops.sync.plan``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubeops._exports import lazy_exports

if TYPE_CHECKING:
    from kubeops.sync.agent import Agent
    from kubeops.sync.desired import desired_object
    from kubeops.sync.diff import decide, differences
    from kubeops.sync.engine import SyncController
    from kubeops.sync.members import connect, join
    from kubeops.sync.model import (
        Conflict,
        Deletion,
        Drift,
        Member,
        PolicyError,
        SyncMode,
        SyncPolicy,
        member_from_object,
        policy_from_object,
    )
    from kubeops.sync.operation import Action, Operation, State
    from kubeops.sync.ownership import ObjectKey
    from kubeops.sync.plan import PlanError

_MODULE_OF = {
    "Agent": "kubeops.sync.agent",
    "desired_object": "kubeops.sync.desired",
    "decide": "kubeops.sync.diff",
    "differences": "kubeops.sync.diff",
    "SyncController": "kubeops.sync.engine",
    "connect": "kubeops.sync.members",
    "join": "kubeops.sync.members",
    "Conflict": "kubeops.sync.model",
    "Deletion": "kubeops.sync.model",
    "Drift": "kubeops.sync.model",
    "Member": "kubeops.sync.model",
    "PolicyError": "kubeops.sync.model",
    "SyncMode": "kubeops.sync.model",
    "SyncPolicy": "kubeops.sync.model",
    "member_from_object": "kubeops.sync.model",
    "policy_from_object": "kubeops.sync.model",
    "Action": "kubeops.sync.operation",
    "Operation": "kubeops.sync.operation",
    "State": "kubeops.sync.operation",
    "ObjectKey": "kubeops.sync.ownership",
    "PlanError": "kubeops.sync.plan",
}

__all__ = [
    "Action",
    "Agent",
    "Conflict",
    "Deletion",
    "Drift",
    "Member",
    "ObjectKey",
    "Operation",
    "PlanError",
    "PolicyError",
    "State",
    "SyncController",
    "SyncMode",
    "SyncPolicy",
    "connect",
    "decide",
    "desired_object",
    "differences",
    "join",
    "member_from_object",
    "policy_from_object",
]

__getattr__, __dir__ = lazy_exports(__name__, _MODULE_OF, __all__)
