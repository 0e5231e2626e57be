"""The kill switch: one ConfigMap that pauses every action at once, and an annotation
that pauses actions on one object.

``kubectl -n kubeops-system create configmap kubeops-respond-control
--from-literal=paused=true`` (or ``kubeops respond`` flipping it) pauses every
action of every replica within one watch event; ``paused: "false"`` or deleting
the ConfigMap resumes.  While paused, rules are still matched and every decision
is audited as suppressed (``paused``), so the log shows what would have run.  The
ConfigMap is followed by :class:`kubeops.ops.hot_reload.Subscription` (an
informer on the one object: it rides through API server restarts and dropped
watches).  An object annotated ``respond.kubeops.io/paused: "true"`` -- the
event's object or the action's target -- pauses the actions that would touch it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from kubeops.api import Client
from kubeops.errors import Forbidden, KubeopsError, NotFound
from kubeops.ops.hot_reload import ConfigData, Subscription
from kubeops.respond.event import ObjectRef
from kubeops.respond.metrics import RespondMetrics

log = logging.getLogger(__name__)

PAUSED_KEY = "paused"
PAUSED_ANNOTATION = "respond.kubeops.io/paused"
DEFAULT_NAME = "kubeops-respond-control"


class KillSwitchError(KubeopsError):
    """The kill switch's ConfigMap cannot be followed (so actions must not run)."""


def _true(value: object) -> bool:
    return isinstance(value, str) and value.strip().lower() == "true"


def object_paused(obj: Mapping[str, Any] | None) -> bool:
    """The object carries ``respond.kubeops.io/paused: "true"``."""
    if not obj:
        return False
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return isinstance(annotations, Mapping) and _true(annotations.get(PAUSED_ANNOTATION))


async def ref_paused(client: Client, ref: ObjectRef | None) -> bool:
    """The object ``ref`` names (an action's target) carries the pause annotation; an
    object that is not there is not paused (the action will say why it cannot act)."""
    if ref is None or not ref.kind or not ref.name:
        return False
    kind = f"{ref.api_version}/{ref.kind}" if ref.api_version else ref.kind
    try:
        obj = await client.get(kind, ref.name, ref.namespace or None)
    except NotFound:
        return False
    return object_paused(obj)


class KillSwitch:
    """Follows the ConfigMap ``name`` in ``namespace``; :attr:`paused` says whether every
    action is paused now.  ``async with KillSwitch(...)`` or :meth:`start`/:meth:`stop`."""

    def __init__(
        self,
        client: Client,
        namespace: str,
        name: str = DEFAULT_NAME,
        *,
        metrics: RespondMetrics | None = None,
        on_change: Callable[[bool], None] | None = None,
    ) -> None:
        self.client = client
        self.namespace = namespace
        self.name = name
        self.metrics = metrics
        self.on_change = on_change
        self._paused = False
        self._subscription = Subscription(
            client,
            "configmaps",
            name,
            self._changed,
            namespace=namespace,
            on_delete=self._deleted,
        )

    @property
    def paused(self) -> bool:
        """Every action is paused."""
        return self._paused

    @property
    def description(self) -> str:
        """``ConfigMap "kubeops-respond-control" in namespace "kubeops-system"``."""
        return self._subscription.description

    async def start(self, timeout: float | None = 30.0) -> None:
        """Start following the ConfigMap; return once its current state is known."""
        try:
            await self._subscription.start(timeout)
        except Forbidden as err:
            raise KillSwitchError(
                f"respond kill switch: {err}; give the daemon's identity get, list and watch "
                "on configmaps there"
            ) from None
        except KubeopsError as err:
            # Its message names the operation, the ConfigMap and the namespace already.
            raise KillSwitchError(f"respond kill switch: {err}") from None

    async def stop(self) -> None:
        """Stop following (the last state stays in :attr:`paused`)."""
        await self._subscription.stop()

    async def __aenter__(self) -> KillSwitch:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _set(self, paused: bool) -> None:
        if self.metrics is not None:
            self.metrics.paused.set(1 if paused else 0)
        if paused == self._paused:
            return
        self._paused = paused
        log.warning(
            "respond: every action %s by %s", "paused" if paused else "resumed", self.description
        )
        if self.on_change is not None:
            self.on_change(paused)

    def _changed(self, data: ConfigData) -> None:
        self._set(_true(data.strings().get(PAUSED_KEY)))

    def _deleted(self) -> None:
        self._set(False)


async def set_paused(
    client: Client, namespace: str, paused: bool, name: str = DEFAULT_NAME
) -> None:
    """Pause (or resume) every action: write ``paused`` into the kill switch ConfigMap,
    creating it when absent."""
    value = "true" if paused else "false"
    try:
        await client.patch("configmaps", name, {"data": {PAUSED_KEY: value}}, namespace)
        return
    except NotFound:
        pass
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": {PAUSED_KEY: value},
    }
    await client.create(body, namespace)
