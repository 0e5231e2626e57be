"""The rollout verbs for one object, :class:`Rollout`, and its blocking twin :class:`SyncRollout`.

Each verb resolves the object's kind, refuses a kind it does not apply to, and
hands over to the module that implements it: :mod:`.status`, :mod:`.history`,
:mod:`.image`, :mod:`.restart`, :mod:`.pause`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from kubeops.api import Client, Kind, SyncClient
from kubeops.ops.rollout import history as _history
from kubeops.ops.rollout.history import Revision
from kubeops.ops.rollout.image import POD_SPEC_PATHS, set_image
from kubeops.ops.rollout.pause import set_paused
from kubeops.ops.rollout.restart import restart
from kubeops.ops.rollout.status import RolloutStatus, wait_for_rollout
from kubeops.ops.rollout.target import ROLLOUT_KINDS, RolloutResult, RolloutTarget

__all__ = ["Rollout", "SyncRollout"]


class Rollout:
    """The rollout verbs for one object: ``Rollout(client, "deploy", "web")``.

    ``namespace`` defaults to the client's.  ``status``, ``history``, ``undo``,
    ``restart`` apply to Deployments, StatefulSets and DaemonSets; ``pause`` and
    ``resume`` to Deployments; ``set_image`` to every kind with a pod template.
    """

    def __init__(self, client: Client, kind: Kind, name: str, namespace: str | None = None) -> None:
        self.client = client
        self.kind = kind
        self.name = name
        self._namespace = namespace

    @property
    def namespace(self) -> str:
        """The namespace given, else the client's."""
        return self._namespace or self.client.namespace

    async def _target(self, verb: str, kinds: Sequence[str] = ROLLOUT_KINDS) -> RolloutTarget:
        return await RolloutTarget.resolve(
            self.client, self.kind, self.name, self.namespace, verb, kinds
        )

    async def status(
        self,
        *,
        watch: bool = True,
        timeout: float | None = None,
        revision: int | None = None,
        on_progress: Callable[[RolloutStatus], None] | None = None,
    ) -> RolloutStatus:
        """Wait until the rollout is complete (``watch=False``: look once) and return its status.

        Raises :class:`ProgressDeadlineExceeded` when the Deployment gave up,
        :class:`RolloutPaused` when it is paused with changes it will not roll out,
        and :class:`RolloutTimeout` after ``timeout`` seconds (``None``: no limit).
        ``on_progress`` receives every status that differs from the last (message or
        replica counts) while waiting.  ``revision`` pins
        the Deployment revision expected, as kubectl's ``--revision``.
        """
        return await wait_for_rollout(
            await self._target("rollout status"),
            watch=watch,
            timeout=timeout,
            revision=revision,
            on_progress=on_progress,
        )

    async def history(self, revision: int | None = None) -> list[Revision]:
        """Every revision still recorded, oldest first; or only ``revision``
        (:class:`RevisionNotFound` when it is not there)."""
        return await _history.history(await self._target("rollout history"), revision)

    async def undo(self, to_revision: int = 0, *, dry_run: bool = False) -> RolloutResult:
        """Roll back to the previous revision, or to ``to_revision``, exactly as kubectl does.

        Raises :class:`RevisionNotFound` for a revision not in the history (the message
        lists those that are) and :class:`RolloutPaused` for a paused Deployment.
        """
        return await _history.undo(await self._target("rollout undo"), to_revision, dry_run=dry_run)

    async def set_image(
        self,
        images: Mapping[str, str],
        *,
        change_cause: str | None = None,
        dry_run: bool = False,
    ) -> RolloutResult:
        """Set container images (``{"web": "nginx:1.27"}``; ``"*"`` means every container),
        in containers and init containers alike, as ``kubectl set image``.

        ``change_cause`` is recorded in ``kubernetes.io/change-cause`` and shows in the
        history.  Nothing is changed when a named container does not exist
        (:class:`ContainerNotFound`, listing the containers there are).
        """
        target = await self._target("set image", tuple(POD_SPEC_PATHS))
        return await set_image(target, images, change_cause=change_cause, dry_run=dry_run)

    async def restart(self, *, dry_run: bool = False) -> RolloutResult:
        """Replace every pod by a rolling update, as ``kubectl rollout restart``."""
        return await restart(await self._target("rollout restart"), dry_run=dry_run)

    async def pause(self, *, dry_run: bool = False) -> RolloutResult:
        """Stop the Deployment from rolling out template changes (``spec.paused``)."""
        target = await self._target("rollout pause", ("Deployment",))
        return await set_paused(target, True, dry_run=dry_run)

    async def resume(self, *, dry_run: bool = False) -> RolloutResult:
        """Let a paused Deployment roll out again."""
        target = await self._target("rollout resume", ("Deployment",))
        return await set_paused(target, False, dry_run=dry_run)


class SyncRollout:
    """:class:`Rollout` for the blocking :class:`~kubeops.api.SyncClient`; each verb runs the
    async one on the client's loop (``on_progress`` is called on that loop's thread)."""

    def __init__(
        self, client: SyncClient, kind: Kind, name: str, namespace: str | None = None
    ) -> None:
        self._client = client
        self.rollout = Rollout(client.client, kind, name, namespace)

    @property
    def namespace(self) -> str:
        """See :attr:`Rollout.namespace`."""
        return self.rollout.namespace

    def status(
        self,
        *,
        watch: bool = True,
        timeout: float | None = None,
        revision: int | None = None,
        on_progress: Callable[[RolloutStatus], None] | None = None,
    ) -> RolloutStatus:
        """See :meth:`Rollout.status`."""
        return self._client.run(
            self.rollout.status(
                watch=watch, timeout=timeout, revision=revision, on_progress=on_progress
            )
        )

    def history(self, revision: int | None = None) -> list[Revision]:
        """See :meth:`Rollout.history`."""
        return self._client.run(self.rollout.history(revision))

    def undo(self, to_revision: int = 0, *, dry_run: bool = False) -> RolloutResult:
        """See :meth:`Rollout.undo`."""
        return self._client.run(self.rollout.undo(to_revision, dry_run=dry_run))

    def set_image(
        self, images: Mapping[str, str], *, change_cause: str | None = None, dry_run: bool = False
    ) -> RolloutResult:
        """See :meth:`Rollout.set_image`."""
        return self._client.run(
            self.rollout.set_image(images, change_cause=change_cause, dry_run=dry_run)
        )

    def restart(self, *, dry_run: bool = False) -> RolloutResult:
        """See :meth:`Rollout.restart`."""
        return self._client.run(self.rollout.restart(dry_run=dry_run))

    def pause(self, *, dry_run: bool = False) -> RolloutResult:
        """See :meth:`Rollout.pause`."""
        return self._client.run(self.rollout.pause(dry_run=dry_run))

    def resume(self, *, dry_run: bool = False) -> RolloutResult:
        """See :meth:`Rollout.resume`."""
        return self._client.run(self.rollout.resume(dry_run=dry_run))
