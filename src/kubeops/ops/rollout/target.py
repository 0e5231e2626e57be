"""The object a rollout verb acts on, resolved once per verb, and what a verb that
changes it returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kubeops.api import Client, Kind, Object, PatchType, ResourceType
from kubeops.ops.rollout.errors import RolloutError, RolloutNotSupported
from kubeops.ops.wait import display_name

__all__ = ["ROLLOUT_KINDS", "RolloutResult", "RolloutTarget"]

# The kinds ``status``, ``history``, ``undo`` and ``restart`` apply to.
ROLLOUT_KINDS = ("Deployment", "StatefulSet", "DaemonSet")


@dataclass(frozen=True)
class RolloutTarget:
    """One object, its resource type known: where a verb reads, writes and reports."""

    client: Client
    resource: ResourceType
    name: str
    namespace: str

    @classmethod
    async def resolve(
        cls,
        client: Client,
        kind: Kind,
        name: str,
        namespace: str,
        verb: str,
        kinds: Sequence[str] = ROLLOUT_KINDS,
    ) -> RolloutTarget:
        """Look ``kind`` up, refusing (:class:`RolloutNotSupported`) a kind outside ``kinds``."""
        resource = await client.resource(kind)
        if resource.group not in ("apps", "", "batch") or resource.kind not in kinds:
            if verb == "rollout pause" and resource.kind in ROLLOUT_KINDS:
                cause = "pausing is not supported"
            elif verb == "rollout resume" and resource.kind in ROLLOUT_KINDS:
                cause = "resuming is not supported"
            else:
                names = ", ".join(k.lower() + "s" for k in kinds)
                cause = (
                    f"{verb} is not supported for {resource.qualified_name}; it applies to {names}"
                )
            raise RolloutNotSupported(verb, display_name(resource, name), namespace, cause)
        return cls(client, resource, name, namespace)

    @property
    def display(self) -> str:
        """``deployment.apps/web``: how messages and results name the object."""
        return display_name(self.resource, self.name)

    @property
    def kind(self) -> str:
        """The object's kind (``Deployment``)."""
        return self.resource.kind

    def error(self, cls: type[RolloutError], verb: str, cause: str) -> RolloutError:
        """The error ``cls`` for ``verb`` on this object."""
        return cls(verb, self.display, self.namespace, cause)

    async def read(self) -> Object:
        """The object as the server holds it now."""
        return await self.client.get(self.resource, self.name, self.namespace)

    async def patch(
        self, body: Object | list[Object], *, patch_type: PatchType = "merge", dry_run: bool = False
    ) -> Object:
        """Patch the object; a body carrying the resourceVersion read makes a concurrent
        change a Conflict instead of a lost update."""
        return await self.client.patch(
            self.resource, self.name, body, self.namespace, patch_type=patch_type, dry_run=dry_run
        )

    def result(
        self,
        action: str,
        obj: Object,
        *,
        changed: bool = True,
        revision: int | None = None,
        dry_run: bool = False,
    ) -> RolloutResult:
        """What a verb did to this object: ``action`` as kubectl words it, and ``obj``
        as the server returned it."""
        return RolloutResult(self.display, self.namespace, action, changed, obj, revision, dry_run)


@dataclass(frozen=True)
class RolloutResult:
    """What a verb did: kubectl's ``action`` (``rolled back``, ``paused``...), whether it
    ``changed`` anything, and the object as the server returned it."""

    target: str
    namespace: str | None
    action: str
    changed: bool
    object: Object = field(default_factory=dict, compare=False, repr=False)
    revision: int | None = None
    dry_run: bool = False

    def __str__(self) -> str:
        return f"{self.target} {self.action}" + (" (server dry run)" if self.dry_run else "")

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data (``-o json``)."""
        return {
            "target": self.target,
            "namespace": self.namespace,
            "action": self.action,
            "changed": self.changed,
            "revision": self.revision,
            "dryRun": self.dry_run,
            "object": self.object,
        }
