"""Resource changes: objects of a kind added, modified or deleted, through shared informers.

One informer per (kind, apiVersion, selector) and namespace the triggers name, so
only what some rule needs is watched.  The informer's store is what makes a
reconnect quiet: after a dropped watch or a 410 relist, an object whose
resourceVersion is unchanged produces no notification, so no event; one that
changed meanwhile arrives as ``modified`` with its old and new state, one deleted
meanwhile as ``deleted`` with its last known state.  ``added`` fires only for
objects created at or after ``since`` (the daemon's watermark): on start, those
the previous run may not have seen; later, not for an old object whose labels
now enter a trigger's selector -- nor does one whose labels leave it fire
``deleted``: the watch reports both alike, so under a selector a deletion is
confirmed with a GET first.

Identities: ``added`` and ``deleted`` happen once per object, so they are
identity_of(uid, type) -- the same after a restart even if the object changed
since; ``modified`` is identity_of(uid, resourceVersion, type).
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Sequence
from typing import Any

from kubeops.api import Client
from kubeops.cache import DeletedFinalStateUnknown
from kubeops.errors import KubeopsError, NotFound
from kubeops.models import Selector
from kubeops.respond.event import RESOURCE, Event, Object, ObjectRef, identity_of, now
from kubeops.respond.model import Trigger
from kubeops.respond.sources._params import (
    Scope,
    check_names,
    check_scope,
    timestamp,
    watched_namespaces,
)
from kubeops.respond.sources._watch import Watch, WatchingSource, log

__all__ = ["ADDED", "DELETED", "MODIFIED", "NAMES", "ResourceSource", "matches", "validate"]

ADDED, MODIFIED, DELETED = "added", "modified", "deleted"
NAMES = (ADDED, MODIFIED, DELETED)
_KIND = re.compile(r"[A-Za-z][A-Za-z0-9]*")


def validate(trigger: Trigger) -> list[str]:
    """Problems with a resource trigger, each a phrase naming the field."""
    problems = check_names(trigger, NAMES) + check_scope(trigger)
    if not trigger.kind:
        problems.append("kind: is required for a resource trigger (Deployment, Pod, ...)")
    elif not _KIND.fullmatch(trigger.kind):
        problems.append(f"kind: {trigger.kind!r} is not a kind (write it as Deployment, Pod, ...)")
    if trigger.api_version and trigger.api_version.count("/") > 1:
        problems.append(f"apiVersion: {trigger.api_version!r} is not group/version or version")
    unknown = sorted(set(trigger.params))
    if unknown:
        problems.append(f"params: a resource trigger takes none ({', '.join(unknown)})")
    return problems


def kind_name(trigger: Trigger) -> str:
    """The kind as the client resolves it: ``apps/v1/Deployment`` or ``Deployment``."""
    return f"{trigger.api_version}/{trigger.kind}" if trigger.api_version else trigger.kind


def matches(trigger: Trigger, event: Event) -> bool:
    """Whether ``event`` is one ``trigger`` asks for (its CEL condition is the engine's)."""
    if event.source != RESOURCE or (trigger.names and event.name not in trigger.names):
        return False
    obj = event.object
    if obj is None:
        return False
    if not _same_kind(trigger, obj):
        return False
    return Scope.of(trigger).matches(obj)


def _same_kind(trigger: Trigger, obj: Object) -> bool:
    if trigger.kind.lower() != str(obj.get("kind") or "").lower():
        return False
    if trigger.api_version:
        return str(obj.get("apiVersion") or "") == trigger.api_version
    return True


class ResourceSource(WatchingSource):
    """Added/modified/deleted objects of the kinds resource triggers name."""

    name = RESOURCE

    def __init__(self, client: Client, triggers: Sequence[Trigger], **settings: Any) -> None:
        super().__init__(client, triggers, **settings)
        self._checks: set[asyncio.Task[None]] = set()

    async def watch(self) -> None:
        """Watch each kind and selector the triggers name; changes fire."""
        for (kind, selector), group in _groups(self.triggers).items():
            selected = Selector.parse(selector)
            await self.feed.watch(
                kind,
                watched_namespaces(group),
                label_selector=selector,
                on_add=self._added,
                on_update=self._modified,
                on_delete=functools.partial(self._deleted, selector=selected),
            )

    def stop(self) -> None:
        """Cancel the deletions still being confirmed."""
        for task in list(self._checks):
            task.cancel()

    # -- informer handlers (queue only) -----------------------------------------------------

    def _added(self, watch: Watch, obj: Any, _initial: bool) -> None:
        meta = obj.get("metadata") or {}
        created = timestamp(meta.get("creationTimestamp"))
        # Only what was created since the watermark is news: on the first list, the rest
        # was there before; later, an old object whose new labels enter the selector.
        if created is None or created < self.feed.since.replace(microsecond=0):
            return
        self.feed.put(
            Event(
                ADDED,
                RESOURCE,
                created if not watch.listed and created else now(),
                object=obj,
                identity=identity_of(meta.get("uid", ""), ADDED),
            )
        )

    def _modified(self, _watch: Watch, old: Any, new: Any) -> None:
        meta = new.get("metadata") or {}
        rv = str(meta.get("resourceVersion", ""))
        if rv == str((old.get("metadata") or {}).get("resourceVersion", "")):
            return  # a replay of what is known, not a change
        self.feed.put(
            Event(
                MODIFIED,
                RESOURCE,
                now(),
                object=new,
                old_object=old,
                identity=identity_of(meta.get("uid", ""), rv, MODIFIED),
            )
        )

    def _deleted(self, _watch: Watch, obj: Any, *, selector: Selector) -> None:
        if isinstance(obj, DeletedFinalStateUnknown):
            if obj.obj is None:
                return
            obj = obj.obj
        if selector.selects_everything:
            self.feed.put(_deleted_event(obj))
            return
        # Leaving a label selector looks like a deletion on the watch: ask the server.
        task = asyncio.get_running_loop().create_task(self._confirm_deleted(obj))
        self._checks.add(task)
        task.add_done_callback(self._checks.discard)

    async def _confirm_deleted(self, obj: Object) -> None:
        meta = obj.get("metadata") or {}
        try:
            current = await self.client.get(
                f"{obj.get('apiVersion')}/{obj.get('kind')}",
                str(meta.get("name") or ""),
                meta.get("namespace") or None,
            )
        except NotFound:
            current = None
        except KubeopsError as err:
            log.warning("resource: cannot tell whether %s was deleted: %s", ObjectRef.of(obj), err)
            current = None
        if current is None or (current.get("metadata") or {}).get("uid") != meta.get("uid"):
            self.feed.put(_deleted_event(obj))


def _deleted_event(obj: Object) -> Event:
    meta = obj.get("metadata") or {}
    return Event(
        DELETED, RESOURCE, now(), object=obj, identity=identity_of(meta.get("uid", ""), DELETED)
    )


def _groups(triggers: Sequence[Trigger]) -> dict[tuple[str, str], list[Trigger]]:
    groups: dict[tuple[str, str], list[Trigger]] = {}
    for trigger in triggers:
        groups.setdefault((kind_name(trigger), trigger.selector or ""), []).append(trigger)
    return groups
