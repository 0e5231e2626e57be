"""The diff engine: desired against actual, one :class:`Operation` with its reason.

Pure, so the push controller, the pull agent and ``kubeops sync plan`` decide
alike.  Actual objects carry what their server added (defaults, status,
managed fields), so "differs" means *actual does not contain desired*: maps
are compared as subsets, lists item by item at the same length, and resource
quantities by value (``"1000m"`` equals ``"1"``).  The sync's own marks are
compared by :func:`decide` (ownership, hash), never reported as drift paths.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from kubeops.models.quantity import Quantity, QuantityError
from kubeops.sync.model import Conflict, Deletion, Drift, SyncPolicy
from kubeops.sync.operation import Action, Operation, State
from kubeops.sync.ownership import (
    HASH_ANNOTATION,
    POLICY_LABEL,
    SOURCE_ANNOTATION,
    ObjectKey,
    is_owned,
    owner_policy,
    source_reference,
)

MARKS: Final = (
    ("metadata", "labels", POLICY_LABEL),
    ("metadata", "annotations", SOURCE_ANNOTATION),
    ("metadata", "annotations", HASH_ANNOTATION),
)
"""The sync's own fields: :func:`differences` skips them."""

_NOT_QUANTITIES: Final = frozenset({"metadata", "data", "stringData", "binaryData"})
"""Top-level fields whose strings are never quantities (labels, ConfigMap data)."""
_VERBATIM_LISTS: Final = frozenset({"env", "args", "command"})
"""Fields whose strings are compared as written, wherever they are."""


def differences(desired: Mapping[str, Any], actual: Mapping[str, Any]) -> tuple[str, ...]:
    """Dotted paths where ``actual`` does not contain ``desired`` (``spec.replicas``,
    ``metadata.labels.app``, ``spec.template.spec.containers[0].image``), marks skipped."""
    found: list[str] = []
    _compare(desired, actual, (), found)
    return tuple(found)


def _compare(desired: Any, actual: Any, path: tuple[str | int, ...], found: list[str]) -> None:
    if path in MARKS:
        return
    if isinstance(desired, Mapping):
        if not isinstance(actual, Mapping):
            if actual is not None or desired:
                found.append(_dotted(path))
            return
        for name, value in desired.items():
            _compare(value, actual.get(name), (*path, name), found)
        return
    if isinstance(desired, list):
        if not isinstance(actual, list):
            if actual is not None or desired:
                found.append(_dotted(path))
            return
        if len(desired) != len(actual):
            found.append(_dotted(path))
            return
        for index, (want, have) in enumerate(zip(desired, actual, strict=True)):
            _compare(want, have, (*path, index), found)
        return
    if desired is None or _same_scalar(desired, actual, path):
        return
    found.append(_dotted(path))


def _same_scalar(desired: Any, actual: Any, path: tuple[str | int, ...]) -> bool:
    if type(desired) is type(actual) and desired == actual:
        return True
    if isinstance(desired, bool) or isinstance(actual, bool):
        return False
    if desired == actual:  # 1 == 1.0
        return True
    if not path or path[0] in _NOT_QUANTITIES or _VERBATIM_LISTS.intersection(map(str, path)):
        return False
    left, right = _quantity(desired), _quantity(actual)
    return left is not None and left == right


def _quantity(value: Any) -> Quantity | None:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    try:
        return Quantity(value)
    except (QuantityError, TypeError):
        return None


def project(actual: Any, desired: Any, path: tuple[str | int, ...] = ()) -> Any:
    """``actual`` cut to the shape of ``desired``: only the fields desired names, and values
    equal by :func:`differences`' rules written as desired writes them -- what a diff of the
    two shows is then only what the sync would change."""
    if isinstance(desired, Mapping) and isinstance(actual, Mapping):
        return {
            name: project(actual[name], value, (*path, name)) if name in actual else value
            for name, value in desired.items()
            if name in actual or value in (None, {}, [])  # missing equals empty
        }
    if isinstance(desired, list) and isinstance(actual, list):
        return [
            project(item, desired[i], (*path, i)) if i < len(desired) else item
            for i, item in enumerate(actual)
        ]
    if desired is None or (
        not isinstance(desired, Mapping | list) and _same_scalar(desired, actual, path)
    ):
        return desired
    return actual


def _dotted(path: tuple[str | int, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "."


def missing_marks(desired: Mapping[str, Any], actual: Mapping[str, Any]) -> tuple[str, ...]:
    """The marks ``desired`` carries that ``actual`` lacks or holds otherwise (removed by hand)."""
    gone: list[str] = []
    for section, name in (("labels", POLICY_LABEL), ("annotations", SOURCE_ANNOTATION)):
        want = ((desired.get("metadata") or {}).get(section) or {}).get(name)
        have = ((actual.get("metadata") or {}).get(section) or {}).get(name)
        if want is not None and want != have:
            gone.append(f"metadata.{section}.{name}")
    return tuple(gone)


def _hash(obj: Mapping[str, Any]) -> str | None:
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(HASH_ANNOTATION)
    return value if isinstance(value, str) else None


def decide(
    policy: SyncPolicy,
    target: str,
    key: ObjectKey,
    desired: dict[str, Any] | None,
    actual: dict[str, Any] | None,
) -> Operation:
    """The operation that brings ``target``'s ``actual`` to ``desired`` as ``policy`` says.

    ``desired`` is None once the source object's absence is confirmed;
    ``actual`` is None when the target has no object of that name.
    """

    def op(action: Action, reason: str, state: State = State.IN_SYNC, **extra: Any) -> Operation:
        return Operation(
            policy.name,
            target,
            key,
            action,
            reason,
            state,
            desired=desired if action in (Action.CREATE, Action.APPLY, Action.REPLACE) else None,
            actual=actual,
            **extra,
        )

    source_ref = source_reference(policy.source_cluster, key)
    if desired is None:
        if actual is None:
            return op(Action.NONE, "source deleted; not on the target")
        if not is_owned(actual, policy.name, source_ref):
            return op(Action.NONE, "source deleted; the target's object is not the sync's")
        if _terminating(actual):
            return op(Action.NONE, "source deleted; being deleted on the target")
        if policy.deletion is Deletion.ORPHAN:
            return op(Action.ORPHAN, "source deleted; orphaned as deletion is Orphan")
        return op(Action.DELETE, "source deleted")
    if actual is None:
        return op(Action.CREATE, "not on the target")
    if _terminating(actual):
        return op(Action.NONE, "being deleted on the target", State.PENDING)
    if not is_owned(actual, policy.name, source_ref):
        other = owner_policy(actual)
        owner = f"owned by policy {other}" if other else "not created by the sync"
        diffs = differences(desired, actual)
        if policy.conflict is Conflict.ADOPT:
            return op(Action.APPLY, f"adopt ({owner})", differences=diffs)
        if policy.conflict is Conflict.OVERWRITE:
            return op(Action.REPLACE, f"overwrite ({owner})", differences=diffs)
        return op(Action.NONE, owner, State.CONFLICT, differences=diffs)
    diffs = differences(desired, actual)
    if _hash(actual) is not None and _hash(actual) != _hash(desired):
        return op(Action.APPLY, "source changed", differences=diffs)
    drift = missing_marks(desired, actual) + diffs
    if _hash(actual) is None:
        drift += (f"metadata.annotations.{HASH_ANNOTATION}",)
    if not drift:
        return op(Action.NONE, "in sync")
    reason = "drifted: " + _paths(drift)
    if policy.drift is Drift.REPORT:
        return op(Action.NONE, reason, State.DRIFTED, differences=drift)
    return op(Action.APPLY, reason, differences=drift)


def _paths(paths: tuple[str, ...], shown: int = 5) -> str:
    more = f" and {len(paths) - shown} more" if len(paths) > shown else ""
    return ", ".join(paths[:shown]) + more


def _terminating(obj: Mapping[str, Any]) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))
