"""``kubeops sync plan``: what the sync would do on every target, computed now, writing nothing.

One-shot lists, no informers: the source's selected objects, and each target's
objects of the same kinds (foreign ones too, so conflicts show).  Every pair goes
through the same :func:`~kubeops.sync.desired.desired_object` and
:func:`~kubeops.sync.diff.decide` as the controller, so the plan is what ``run``
then does.  Objects the policy owns on a target whose source is gone (or no
longer selected) are planned for deletion or orphaning -- a failed list raises
instead, so a plan never shows deletions inferred from an error.  A Pull member
is compared with its ``SyncWork`` manifests on the hub: its agent applies them.
A paused policy is planned all the same, each change saying that ``run`` waits.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from kubeops.api import Client, RetryPolicy, UnknownKind
from kubeops.errors import KubeopsError, NotFound
from kubeops.sync.desired import desired_object
from kubeops.sync.diff import decide
from kubeops.sync.members import connect, list_members
from kubeops.sync.model import Member, PolicyError, ResourceSelector, SyncMode, SyncPolicy
from kubeops.sync.operation import Action, Operation, State
from kubeops.sync.ownership import POLICY_LABEL, ObjectKey, is_owned, source_reference
from kubeops.sync.render import PAUSED_NOTE, PULL_NOTE
from kubeops.sync.work import WORK_RESOURCE, work_key, work_state

Objects = dict[ObjectKey, dict[str, Any]]

PLAN_RETRY = RetryPolicy(max_retries=2)
"""A plan is read by someone waiting: a member that does not answer fails it in seconds."""


class PlanError(KubeopsError):
    """A cluster could not be read for the plan; the message names the policy, the cluster
    and the cause (a plan is never made from a partial view)."""


async def plan(hub: Client, policy: SyncPolicy, *, target: str | None = None) -> list[Operation]:
    """Every operation ``policy`` would carry out now, on each of its targets (or ``target``).

    Raises :class:`PolicyError` when the source or a target is not a ``MemberCluster``
    (or ``target`` is not one of the policy's), and :class:`PlanError` when a cluster
    cannot be listed.
    """
    where = f"ClusterSyncPolicy {policy.name!r}"
    members = {m.name: m for m in await list_members(hub)}
    source = members.get(policy.source_cluster)
    if source is None:
        raise PolicyError(
            f"{where}: source cluster {policy.source_cluster!r} is not a MemberCluster on the hub"
        )
    if source.mode is SyncMode.PULL:
        raise PolicyError(
            f"{where}: source cluster {source.name!r} is a Pull member; the hub cannot read it"
        )
    names = policy.targets({name: m.labels for name, m in members.items()})
    unknown = [name for name in names if name not in members]
    if unknown:
        raise PolicyError(
            f"{where}: target {', '.join(map(repr, unknown))} is not a MemberCluster on the hub"
        )
    if target is not None:
        if target not in names:
            listed = ", ".join(names) or "none"
            raise PolicyError(f"{where}: {target!r} is not one of its targets ({listed})")
        names = (target,)
    try:
        async with await connect(hub, source, retry=PLAN_RETRY) as client:
            sources = await _selected(client, policy)
    except (PolicyError, PlanError):
        raise
    except KubeopsError as err:
        raise PlanError(f"{where}: cannot list source cluster {source.name!r}: {err}") from None
    planned = await asyncio.gather(
        *(_plan_target(hub, policy, members[name], sources) for name in names)
    )
    return [op for ops in planned for op in ops]


async def _plan_target(
    hub: Client, policy: SyncPolicy, member: Member, sources: Objects
) -> list[Operation]:
    desired = {
        key: desired_object(obj, policy, member.name, member.labels, policy.source_cluster)
        for key, obj in sources.items()
    }
    try:
        if member.mode is SyncMode.PULL:
            return await _plan_pull(hub, policy, member, desired)
        async with await connect(hub, member, retry=PLAN_RETRY) as client:
            actual, unserved = await _target_objects(client, policy)
    except (PolicyError, PlanError):
        raise
    except KubeopsError as err:
        raise PlanError(
            f"ClusterSyncPolicy {policy.name!r}: cannot list target cluster {member.name!r}: {err}"
        ) from None
    return _decide_all(policy, member.name, desired, actual, unserved)


def _decide_all(
    policy: SyncPolicy,
    target: str,
    desired: Mapping[ObjectKey, dict[str, Any]],
    actual: Objects,
    unserved: Iterable[str] = (),
) -> list[Operation]:
    """Operations for every desired object, then for every owned one whose source is gone."""
    missing = set(unserved)
    ops: list[Operation] = []
    for key, want in sorted(desired.items()):
        op = decide(policy, target, key, want, actual.get(key))
        if _kind(key) in missing:
            op = dataclasses.replace(
                op, reason=f"{op.reason} (the target does not serve {_kind(key)} yet)"
            )
        ops.append(op)
    for key, have in sorted(actual.items()):
        if key not in desired and is_owned(
            have, policy.name, source_reference(policy.source_cluster, key)
        ):
            ops.append(decide(policy, target, key, None, have))
    if policy.paused:
        ops = [
            dataclasses.replace(op, reason=f"{op.reason}; {PAUSED_NOTE}") if op.writes else op
            for op in ops
        ]
    return ops


async def _plan_pull(
    hub: Client, policy: SyncPolicy, member: Member, desired: Mapping[ObjectKey, dict[str, Any]]
) -> list[Operation]:
    works: dict[ObjectKey, Mapping[str, Any]] = {}
    try:
        listed = await hub.list(
            WORK_RESOURCE, member.work_namespace, label_selector=f"{POLICY_LABEL}={policy.name}"
        )
    except (UnknownKind, NotFound):
        listed = {"items": []}  # no SyncWork API or namespace yet: no work written
    for work in listed.get("items") or []:
        name, key = work_key(work)
        if name == policy.name:
            works[key] = work
    manifests = {
        key: dict((work.get("spec") or {}).get("manifest") or {}) for key, work in works.items()
    }
    ops = []
    for decided in _decide_all(policy, member.name, desired, manifests):
        op, work = decided, works.get(decided.key)
        if work is not None and op.action is Action.NONE and op.state is State.IN_SYNC:
            state, message = work_state(work)  # the agent's word on the member's copy
            if state is not State.IN_SYNC:
                op = dataclasses.replace(op, state=state, reason=message or state.value)
        ops.append(dataclasses.replace(op, reason=f"{op.reason}; {PULL_NOTE}"))
    return ops


def _kind(key: ObjectKey) -> str:
    return f"{key.kind}.{key.group}" if key.group else key.kind


def _kinds(policy: SyncPolicy) -> dict[tuple[str, str], list[ResourceSelector]]:
    kinds: dict[tuple[str, str], list[ResourceSelector]] = {}
    for entry in policy.resources:
        kinds.setdefault((entry.group, entry.kind), []).append(entry)
    return kinds


def _namespaces(entries: list[ResourceSelector]) -> tuple[str, ...] | None:
    """The namespaces to list, or None for all of them."""
    if any(not entry.namespaces for entry in entries):
        return None
    return tuple(sorted({ns for entry in entries for ns in entry.namespaces}))


async def _list(
    client: Client,
    group: str,
    kind: str,
    namespaces: tuple[str, ...] | None,
    label_selector: str | None = None,
) -> Objects:
    """Every object of the kind in ``namespaces`` (None: all), keyed; apiVersion and kind set."""
    resource = await client.resource(_kind(ObjectKey(group, kind, "", "")))
    if namespaces is None or not resource.namespaced:
        pages = [await client.list(resource, all_namespaces=True, label_selector=label_selector)]
    else:
        pages = [
            await client.list(resource, ns, label_selector=label_selector) for ns in namespaces
        ]
    found: Objects = {}
    api_version = f"{group}/{resource.version}" if group else resource.version
    for page in pages:
        for item in page.get("items") or []:
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
            meta = item.get("metadata") or {}
            found[ObjectKey(group, kind, meta.get("namespace") or "", meta["name"])] = item
    return found


async def _selected(client: Client, policy: SyncPolicy) -> Objects:
    """The source objects ``policy`` selects."""
    selected: Objects = {}
    for (group, kind), entries in _kinds(policy).items():
        listed = await _list(client, group, kind, _namespaces(entries))
        selected.update(
            (key, obj) for key, obj in listed.items() if policy.selects(obj, group, kind)
        )
    return selected


async def _target_objects(client: Client, policy: SyncPolicy) -> tuple[Objects, list[str]]:
    """The target's objects of the policy's kinds: all of them in the selected namespaces
    (foreign ones show as conflicts) plus everything the policy owns elsewhere; and the
    kinds the target does not serve."""
    found: Objects = {}
    unserved: list[str] = []
    for (group, kind), entries in _kinds(policy).items():
        namespaces = _namespaces(entries)
        try:
            found.update(await _list(client, group, kind, namespaces))
            if namespaces is not None:
                owned = f"{POLICY_LABEL}={policy.name}"
                found.update(await _list(client, group, kind, None, owned))
        except UnknownKind:
            unserved.append(_kind(ObjectKey(group, kind, "", "")))
    return found, unserved
