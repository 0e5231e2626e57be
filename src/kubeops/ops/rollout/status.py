"""Where a rollout stands, as ``kubectl rollout status`` words it, and waiting until it is done.

One status viewer per kind (kubectl's ``polymorphichelpers/rollout_status.go``): a
Deployment is done when every replica is updated and available and no old one is
left, a DaemonSet when every scheduled pod is updated and available, a
StatefulSet when its update revision is current (or its partition is reached).
Waiting watches the one object and fails fast on a progress deadline exceeded
or -- where kubectl would wait for ever -- on a paused Deployment with changes
it will not roll out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kubeops.api import ResourceType
from kubeops.models.duration import format_duration
from kubeops.ops.rollout.errors import (
    ProgressDeadlineExceeded,
    RolloutError,
    RolloutNotSupported,
    RolloutPaused,
    RolloutTimeout,
)
from kubeops.ops.rollout.fields import int_field
from kubeops.ops.rollout.history import revision_of
from kubeops.ops.rollout.target import RolloutTarget
from kubeops.ops.wait import ObjectWatch, display_name

__all__ = ["RolloutStatus", "rollout_status_of", "wait_for_rollout"]


@dataclass(frozen=True)
class RolloutStatus:
    """Where a rollout stands: ``done``, kubectl's ``message``, and the replica counts."""

    target: str
    namespace: str | None
    done: bool
    message: str
    desired: int = 0
    updated: int = 0
    ready: int = 0
    available: int = 0
    revision: int | None = None
    paused: bool = False
    observed: bool = True

    def __str__(self) -> str:
        return self.message

    @property
    def progress(self) -> str:
        """``updated 1/3, ready 2/3, available 2/3``: the replica counts at a glance."""
        return ", ".join(
            f"{what} {count}/{self.desired}"
            for what, count in (
                ("updated", self.updated),
                ("ready", self.ready),
                ("available", self.available),
            )
        )

    def to_dict(self) -> dict[str, Any]:
        """The status as JSON-ready data (``-o json``)."""
        return {
            "target": self.target,
            "namespace": self.namespace,
            "done": self.done,
            "message": self.message,
            "progress": self.progress,
            "desired": self.desired,
            "updated": self.updated,
            "ready": self.ready,
            "available": self.available,
            "revision": self.revision,
            "paused": self.paused,
            "observed": self.observed,
        }


def rollout_status_of(
    resource: ResourceType, obj: Mapping[str, Any], revision: int | None = None
) -> RolloutStatus:
    """The status of one Deployment, StatefulSet or DaemonSet, as ``kubectl rollout status``
    words it; raises :class:`ProgressDeadlineExceeded` and, for an ``OnDelete``
    strategy, :class:`RolloutNotSupported`."""
    viewer = _STATUS_VIEWERS.get(resource.kind)
    view = _View(resource, obj)
    if viewer is None:
        raise view.fail(
            RolloutNotSupported,
            f"no status viewer for {resource.qualified_name}; rollouts apply to "
            "deployments, statefulsets and daemonsets",
        )
    return viewer(view, revision)


class _View:
    """One object seen by a status viewer: its parts, and how to report on it."""

    def __init__(self, resource: ResourceType, obj: Mapping[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        self.obj = obj
        self.name = str(meta.get("name", ""))
        self.target = display_name(resource, self.name)
        self.namespace: str | None = meta.get("namespace")
        self.spec: Mapping[str, Any] = obj.get("spec") or {}
        self.status: Mapping[str, Any] = obj.get("status") or {}
        self.generation = int_field(meta.get("generation"))
        self.observed_generation = int_field(self.status.get("observedGeneration"))
        self.counts: dict[str, Any] = {}

    def count(self, field: str, default: int = 0) -> int:
        return int_field(self.status.get(field), default)

    def result(self, done: bool, message: str, *, observed: bool = True) -> RolloutStatus:
        return RolloutStatus(
            self.target, self.namespace, done, message, observed=observed, **self.counts
        )

    def fail(self, cls: type[RolloutError], cause: str) -> RolloutError:
        return cls("rollout status", self.target, self.namespace, cause)

    def rolling_update(self) -> Mapping[str, Any]:
        """The ``updateStrategy``, which must be RollingUpdate: kubectl has no status for
        OnDelete (a DaemonSet's or StatefulSet's pods change only when deleted)."""
        strategy: Mapping[str, Any] = self.spec.get("updateStrategy") or {}
        if strategy.get("type") != "RollingUpdate":
            raise self.fail(
                RolloutNotSupported,
                "rollout status is only available for RollingUpdate strategy type",
            )
        return strategy


def _deployment_status(view: _View, revision: int | None) -> RolloutStatus:
    current = revision_of(view.obj)
    if revision and revision != current:
        raise view.fail(
            RolloutError,
            f"desired revision ({revision}) is different from the running revision ({current})",
        )
    desired = int_field(view.spec.get("replicas"), 1)
    updated, available = view.count("updatedReplicas"), view.count("availableReplicas")
    view.counts = {
        "desired": desired,
        "updated": updated,
        "ready": view.count("readyReplicas"),
        "available": available,
        "revision": current or None,
        "paused": bool(view.spec.get("paused")),
    }
    if view.generation > view.observed_generation:
        return view.result(
            False, "Waiting for deployment spec update to be observed...", observed=False
        )
    progressing = _condition(view.status, "Progressing")
    if progressing and progressing.get("reason") == "ProgressDeadlineExceeded":
        detail = progressing.get("message")
        raise view.fail(
            ProgressDeadlineExceeded,
            f'deployment "{view.name}" exceeded its progress deadline'
            + (f": {detail}" if detail else ""),
        )
    waiting = f'Waiting for deployment "{view.name}" rollout to finish: '
    total = view.count("replicas")
    if updated < desired:
        return view.result(
            False, waiting + f"{updated} out of {desired} new replicas have been updated..."
        )
    if total > updated:
        return view.result(
            False, waiting + f"{total - updated} old replicas are pending termination..."
        )
    if available < updated:
        return view.result(
            False, waiting + f"{available} of {updated} updated replicas are available..."
        )
    return view.result(True, f'deployment "{view.name}" successfully rolled out')


def _daemonset_status(view: _View, revision: int | None) -> RolloutStatus:
    view.rolling_update()
    desired = view.count("desiredNumberScheduled")
    updated, available = view.count("updatedNumberScheduled"), view.count("numberAvailable")
    view.counts = {
        "desired": desired,
        "updated": updated,
        "ready": view.count("numberReady"),
        "available": available,
    }
    if view.generation > view.observed_generation:
        return view.result(
            False, "Waiting for daemon set spec update to be observed...", observed=False
        )
    waiting = f'Waiting for daemon set "{view.name}" rollout to finish: '
    if updated < desired:
        return view.result(
            False, waiting + f"{updated} out of {desired} new pods have been updated..."
        )
    if available < desired:
        return view.result(
            False, waiting + f"{available} of {desired} updated pods are available..."
        )
    return view.result(True, f'daemon set "{view.name}" successfully rolled out')


def _statefulset_status(view: _View, revision: int | None) -> RolloutStatus:
    strategy = view.rolling_update()
    desired = int_field(view.spec.get("replicas"), 1)
    ready, updated = view.count("readyReplicas"), view.count("updatedReplicas")
    view.counts = {
        "desired": desired,
        "updated": updated,
        "ready": ready,
        "available": view.count("availableReplicas"),
    }
    if view.observed_generation == 0 or view.generation > view.observed_generation:
        return view.result(
            False, "Waiting for statefulset spec update to be observed...", observed=False
        )
    if ready < desired:
        return view.result(False, f"Waiting for {desired - ready} pods to be ready...")
    rolling = strategy.get("rollingUpdate")
    if rolling is not None:
        partition = rolling.get("partition")
        if isinstance(partition, int) and updated < desired - partition:
            return view.result(
                False,
                "Waiting for partitioned roll out to finish: "
                f"{updated} out of {desired - partition} new pods have been updated...",
            )
        return view.result(
            True, f"partitioned roll out complete: {updated} new pods have been updated..."
        )
    update_revision = view.status.get("updateRevision")
    current_revision = view.status.get("currentRevision")
    if update_revision != current_revision:
        return view.result(
            False,
            f"waiting for statefulset rolling update to complete {updated} pods "
            f"at revision {update_revision}...",
        )
    return view.result(
        True,
        f"statefulset rolling update complete {view.count('currentReplicas')} pods "
        f"at revision {current_revision}...",
    )


_STATUS_VIEWERS: dict[str, Callable[[_View, int | None], RolloutStatus]] = {
    "Deployment": _deployment_status,
    "DaemonSet": _daemonset_status,
    "StatefulSet": _statefulset_status,
}


def _condition(status: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for condition in status.get("conditions") or []:
        if isinstance(condition, Mapping) and condition.get("type") == kind:
            return condition
    return None


async def wait_for_rollout(
    target: RolloutTarget,
    *,
    watch: bool = True,
    timeout: float | None = None,
    revision: int | None = None,
    on_progress: Callable[[RolloutStatus], None] | None = None,
) -> RolloutStatus:
    """Wait until the rollout of ``target`` is complete (``watch=False``: look once); see
    :meth:`kubeops.ops.rollout.Rollout.status`."""
    verb = "rollout status"
    resource, name = target.resource, target.name
    obj = await target.read()
    current = rollout_status_of(resource, obj, revision)
    if current.done or not watch:
        return current
    _check_paused(target, current)
    if on_progress is not None:
        on_progress(current)
    observer = ObjectWatch(target.client, resource, target.namespace, names=[name])
    try:
        async for _ in observer.changes(timeout):
            found = observer.get(name)
            if found is None:
                raise target.error(
                    RolloutError, verb, "it was deleted while waiting for the rollout"
                )
            latest = rollout_status_of(resource, found, revision)
            if latest.done:
                return latest
            _check_paused(target, latest)
            if on_progress is not None and (latest.message, latest.progress) != (
                current.message,
                current.progress,
            ):
                on_progress(latest)
            current = latest
        assert timeout is not None
        raise target.error(
            RolloutTimeout,
            verb,
            f"timed out after {format_duration(timeout)}: {current.message}",
        )
    finally:
        await observer.stop()


def _check_paused(target: RolloutTarget, status: RolloutStatus) -> None:
    if status.paused and status.observed and not status.done:
        raise target.error(
            RolloutPaused,
            "rollout status",
            f"the rollout is paused and will not finish ({status.message.removesuffix('...')}); "
            "resume it to continue",
        )
