"""Scaling through the ``scale`` subresource, as ``kubectl scale`` does it.

::

    await scale(client, "deploy", "web", 5)
    await scale(client, "statefulset", "db", 3, current_replicas=2)   # only if it has 2 now
    await scale(client, "deploy", "web", 0, wait=True, timeout=60)    # until status agrees
    scale(sync_client, "deploy", "web", 5)                            # blocks: a SyncClient

Any kind with a scale subresource works (Deployments, ReplicaSets, StatefulSets,
ReplicationControllers, custom resources that declare one); any other kind is
refused with :class:`NoScaleSubresource`.  Preconditions on the current replicas
or resourceVersion are checked and then enforced by the server: the write carries
the resourceVersion it was checked against, so a change in between is a conflict,
after which the precondition is checked again on what the server holds now.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubeops.api import Client, Kind, Object, ResourceType, either_client, retry_on_conflict
from kubeops.errors import Conflict, MethodNotAllowed, NotFound
from kubeops.models.duration import format_duration
from kubeops.ops.errors import OperationError
from kubeops.ops.wait import display_name

__all__ = [
    "NoScaleSubresource",
    "ScaleError",
    "ScalePreconditionFailed",
    "ScaleResult",
    "ScaleTimeout",
    "scale",
]


class ScaleError(OperationError):
    """Scaling failed: names the object, its namespace and the cause."""


class NoScaleSubresource(ScaleError):
    """The kind has no scale subresource, so it cannot be scaled."""


class ScalePreconditionFailed(ScaleError):
    """The current replicas (or resourceVersion) are not what the caller required."""


class ScaleTimeout(ScaleError):
    """``wait=True`` and the status did not reach the new replicas in time."""


@dataclass(frozen=True)
class ScaleResult:
    """The replicas before and after, the replicas the status reports, and the Scale object."""

    target: str
    namespace: str | None
    replicas: int
    previous: int
    status_replicas: int
    dry_run: bool = False
    object: Object = field(default_factory=dict, compare=False, repr=False)

    @property
    def changed(self) -> bool:
        """Whether the replicas are not what they were."""
        return self.replicas != self.previous

    def __str__(self) -> str:
        return f"{self.target} scaled" + (" (server dry run)" if self.dry_run else "")

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data (``-o json``)."""
        return {
            "target": self.target,
            "namespace": self.namespace,
            "replicas": self.replicas,
            "previous": self.previous,
            "statusReplicas": self.status_replicas,
            "changed": self.changed,
            "dryRun": self.dry_run,
            "object": self.object,
        }


def _replicas(scale_obj: Object, part: str) -> int:
    value = (scale_obj.get(part) or {}).get("replicas")
    return value if isinstance(value, int) else 0


async def _read_scale(
    client: Client, resource: ResourceType, name: str, namespace: str | None, target: str
) -> Object:
    try:
        return await client.get(resource, name, namespace, subresource="scale")
    except (NotFound, MethodNotAllowed) as err:
        # Is the object missing, or only its scale subresource?
        await client.get(resource, name, namespace)  # raises the object's NotFound
        raise NoScaleSubresource(
            "scale",
            target,
            namespace,
            f"{resource.qualified_name} has no scale subresource, so it cannot be scaled "
            "(kinds that can: deployments, replicasets, statefulsets, replicationcontrollers "
            "and custom resources that declare a scale subresource)",
        ) from err


@either_client
async def scale(
    client: Client,
    kind: Kind,
    name: str,
    replicas: int,
    namespace: str | None = None,
    *,
    current_replicas: int | None = None,
    resource_version: str | None = None,
    dry_run: bool = False,
    wait: bool = False,
    timeout: float | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> ScaleResult:
    """Set ``replicas`` through the scale subresource; with a ``SyncClient``, blocking.

    ``current_replicas`` and ``resource_version`` are preconditions
    (:class:`ScalePreconditionFailed` when they do not hold).  With ``wait``, return once
    the status reports the new replicas (:class:`ScaleTimeout` after ``timeout``
    seconds); ``on_progress(status_replicas, replicas)`` is called as they change.
    """
    resource = await client.resource(kind)
    ns = (namespace or client.namespace) if resource.namespaced else None
    target = display_name(resource, name)
    if replicas < 0:
        raise ScaleError("scale", target, ns, f"replicas must be 0 or more, not {replicas}")
    if current_replicas is not None and current_replicas < 0:
        raise ScaleError(
            "scale", target, ns, f"current replicas must be 0 or more, not {current_replicas}"
        )
    checked = current_replicas is not None or bool(resource_version)

    async def attempt() -> tuple[Object, Object]:
        before = await _read_scale(client, resource, name, ns, target)
        now, version = _replicas(before, "spec"), before["metadata"].get("resourceVersion", "")
        if current_replicas is not None and now != current_replicas:
            raise ScalePreconditionFailed(
                "scale", target, ns, f"expected replicas to be {current_replicas}, was {now}"
            )
        if resource_version and version != resource_version:
            raise ScalePreconditionFailed(
                "scale",
                target,
                ns,
                f"expected resource version to be {resource_version}, was {version}",
            )
        patch: Object = {"spec": {"replicas": replicas}}
        if checked:
            patch["metadata"] = {"resourceVersion": version}
        after = await client.patch(resource, name, patch, ns, subresource="scale", dry_run=dry_run)
        return before, after

    try:
        before, after = await (retry_on_conflict(attempt) if not resource_version else attempt())
    except Conflict as err:
        raise ScalePreconditionFailed(
            "scale",
            target,
            ns,
            f"expected resource version to be {resource_version}, but the object changed",
        ) from err
    result = ScaleResult(
        target,
        ns,
        _replicas(after, "spec"),
        _replicas(before, "spec"),
        _replicas(after, "status"),
        dry_run,
        after,
    )
    if not wait or dry_run:
        return result
    return await _wait_for_replicas(client, resource, name, ns, result, timeout, on_progress)


async def _wait_for_replicas(
    client: Client,
    resource: ResourceType,
    name: str,
    namespace: str | None,
    result: ScaleResult,
    timeout: float | None,
    on_progress: Callable[[int, int], None] | None,
) -> ScaleResult:
    # The scale subresource cannot be watched, and only it knows where a custom
    # resource keeps its replicas: poll it, a little less often as time goes by.
    deadline = None if timeout is None else time.monotonic() + timeout
    interval, reported = 0.2, result.status_replicas
    current = result.object
    while True:
        spec, status = _replicas(current, "spec"), _replicas(current, "status")
        if spec != result.replicas:
            # Someone else scaled it since: as kubectl, stop waiting for our number.
            break
        if status == spec:
            break
        if on_progress is not None and status != reported:
            on_progress(status, spec)
            reported = status
        if deadline is not None and time.monotonic() >= deadline:
            raise ScaleTimeout(
                "scale",
                result.target,
                namespace,
                f"timed out after {format_duration(timeout or 0)} waiting for {spec} replicas; "
                f"the status reports {status}",
            )
        pause = interval if deadline is None else min(interval, deadline - time.monotonic())
        await asyncio.sleep(max(pause, 0.0))
        interval = min(interval * 1.5, 1.0)
        current = await client.get(resource, name, namespace, subresource="scale")
    return ScaleResult(
        result.target,
        namespace,
        result.replicas,
        result.previous,
        _replicas(current, "status"),
        result.dry_run,
        current,
    )
