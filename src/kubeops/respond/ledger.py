"""The action ledger: what every replica has done or is doing, kept in the cluster.

An action's identity (``action_id``, derived from the rule, the action and the
event's identity) is *claimed* in the cluster before the action runs: one
ConfigMap per action in the daemon's namespace, named ``respond-<action_id>``.
Creating it is the claim -- the API server lets exactly one creator win, so two
replicas (an old leader that has not noticed it lost the Lease, a new one
re-reading the same events) never both run the same action.  When the action
ends the claim is finished (``succeeded`` or ``failed``, with a one-line detail)
by an update that carries the resourceVersion it read.

A new leader on another node cannot read the old leader's local database, but
it can read this: :meth:`Ledger.unfinished` lists the claims some other replica
(or this one's previous run) made and never finished -- the actions to resume,
each adopted first (:meth:`Ledger.adopt`) so only one replica resumes it -- and
:meth:`Ledger.entries` the recent actions the limits rebuild their windows from.
A per-daemon *watermark* (``respond-watermark-<name>``) keeps the last time the
daemon processed, so a restart knows which objects are new.

Everything goes through kubeops' :class:`~kubeops.api.Client`; the daemon's
ServiceAccount needs get, list, create, update and delete on ConfigMaps in its
namespace, and an error says which verb was refused where.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import logging
import re
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from kubeops.api import Client, Object
from kubeops.errors import (
    AlreadyExists,
    ApiError,
    Conflict,
    Forbidden,
    KubeopsError,
    NotFound,
)
from kubeops.respond.event import Event, ObjectRef, identity_of

log = logging.getLogger(__name__)

CLAIMED = "claimed"
SUCCEEDED = "succeeded"
FAILED = "failed"
STATES = (CLAIMED, SUCCEEDED, FAILED)

PREFIX = "respond-"
LEDGER_LABEL = "respond.kubeops.io/ledger"
RULE_LABEL = "respond.kubeops.io/rule"
STATE_LABEL = "respond.kubeops.io/state"
WATERMARK_LABEL = "respond.kubeops.io/watermark"
DEFAULT_STALE_AFTER = 15.0
"""A lease period (leader election's default): an own claim older than this is unfinished."""
DETAIL_LIMIT = 4096
PAYLOAD_LIMIT = 64 * 1024
"""The event's payload is kept for resuming only when its JSON is at most this long."""
PAGE_SIZE = 500
CLAIMED_CACHE = 4096
"""Own claims remembered (entry and resourceVersion) so finishing one needs no read."""
PRUNE_BATCH = 50
_UPDATE_TRIES = 5
_LABEL_VALUE = re.compile(r"[^A-Za-z0-9._-]+")


class LedgerError(KubeopsError):
    """The ledger cannot be read or written; the message names the verb, namespace and cause."""


def action_id_of(rule: str, index: int, event: Event) -> str:
    """The identity of one action of ``rule`` for ``event``: the same on every replica."""
    return identity_of(rule, index, event.identity)


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One claimed action, as kept in its ConfigMap."""

    action_id: str
    rule: str
    action: str
    """The action's kind (``scale``, ``drain``...)."""
    action_index: int = 0
    event_identity: str = ""
    event_name: str = ""
    event_source: str = ""
    event_time: datetime.datetime | None = None
    subject: ObjectRef | None = None
    target: ObjectRef | None = None
    holder: str = ""
    """The identity of the replica that claimed (or adopted) it."""
    run: str = ""
    """The claiming process's run, telling this replica's previous run from this one."""
    claimed_at: datetime.datetime = field(
        default_factory=lambda: datetime.datetime.now(datetime.UTC)
    )
    state: str = CLAIMED
    finished_at: datetime.datetime | None = None
    detail: str = ""
    scale_percent: float | None = None
    nodes: tuple[str, ...] = ()
    payload: Mapping[str, Any] | None = None
    """The event's payload, when small enough, for a new leader resuming the action."""

    @classmethod
    def for_action(
        cls,
        rule: str,
        index: int,
        action: str,
        event: Event,
        *,
        target: ObjectRef | None = None,
        scale_percent: float | None = None,
        nodes: tuple[str, ...] = (),
        action_id: str | None = None,
    ) -> LedgerEntry:
        """The entry claiming action ``index`` (of kind ``action``) of ``rule`` for ``event``."""
        return cls(
            action_id=action_id or action_id_of(rule, index, event),
            rule=rule,
            action=action,
            action_index=index,
            event_identity=event.identity,
            event_name=event.name,
            event_source=event.source,
            event_time=event.time,
            subject=event.subject,
            target=target,
            scale_percent=scale_percent,
            nodes=tuple(nodes),
            payload=dict(event.payload),
        )

    @property
    def name(self) -> str:
        """The ConfigMap's name."""
        return configmap_name(self.action_id)

    @property
    def finished(self) -> bool:
        """Succeeded or failed: nothing left to do."""
        return self.state != CLAIMED


def configmap_name(action_id: str) -> str:
    """``respond-<action_id>`` (its first 40 characters), as the API server accepts it."""
    return PREFIX + re.sub(r"[^a-z0-9-]", "-", action_id.lower())[:40].strip("-")


def label_value(text: str) -> str:
    """``text`` as a label value (at most 63 of ``[A-Za-z0-9._-]``, alphanumeric at both
    ends); when it had to change, a short hash keeps different texts apart."""
    cleaned = _LABEL_VALUE.sub("-", text).strip("-._")
    if cleaned == text and len(text) <= 63:
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{cleaned[:54].rstrip('-._')}-{digest}".lstrip("-")


class Ledger:
    """The ledger in ``namespace``, written as ``identity``; see the module doc."""

    def __init__(
        self,
        client: Client,
        namespace: str,
        identity: str,
        *,
        run: str | None = None,
        stale_after: float | None = DEFAULT_STALE_AFTER,
    ) -> None:
        self.client = client
        self.namespace = namespace
        self.identity = identity
        self.run = run or uuid.uuid4().hex[:16]
        self.stale_after = stale_after
        self._claimed: dict[str, tuple[LedgerEntry, str]] = {}

    def __repr__(self) -> str:
        return f"Ledger(namespace={self.namespace!r}, identity={self.identity!r})"

    # -- claiming and finishing -----------------------------------------------------------------

    async def claim(self, entry: LedgerEntry) -> bool:
        """Record ``entry`` as claimed by this replica, before its action runs.  False when
        the action is claimed already (by anyone, in any state): do not run it."""
        mine = replace(
            entry,
            holder=self.identity,
            run=self.run,
            state=CLAIMED,
            claimed_at=_now(),
            finished_at=None,
        )
        try:
            created = await self.client.create(self._configmap(mine), self.namespace)
        except AlreadyExists:
            return False
        except ApiError as err:
            raise self._error(err, "create", mine.name) from None
        except KubeopsError as err:
            raise LedgerError(f"respond ledger: cannot create {mine.name}: {err}") from None
        self._remember(mine, created)
        return True

    def _remember(self, entry: LedgerEntry, written: Object) -> None:
        """What finish() changes, known without reading it back (one request, not two)."""
        version = str((written.get("metadata") or {}).get("resourceVersion") or "")
        if version:
            if len(self._claimed) >= CLAIMED_CACHE:
                self._claimed.pop(next(iter(self._claimed)))
            self._claimed[entry.action_id] = (entry, version)

    async def get(self, action_id: str) -> LedgerEntry | None:
        """The entry for ``action_id``, or None when nobody claimed it (or it was pruned)."""
        obj = await self._read(configmap_name(action_id))
        return None if obj is None else from_configmap(obj)

    async def finish(self, action_id: str, state: str, detail: str = "") -> LedgerEntry:
        """Record how the action ended (``succeeded`` or ``failed``) with a one-line detail."""
        if state not in (SUCCEEDED, FAILED):
            raise LedgerError(f"respond ledger: an action ends succeeded or failed, not {state!r}")

        def done(entry: LedgerEntry) -> LedgerEntry:
            return replace(entry, state=state, finished_at=_now(), detail=_line(detail))

        known = self._claimed.pop(action_id, None)
        updated = await self._update(configmap_name(action_id), done, "finish", known)
        if updated is None:
            raise LedgerError(
                f"respond ledger: cannot finish {configmap_name(action_id)} in namespace "
                f'"{self.namespace}": it is not there (pruned or deleted)'
            )
        return updated

    async def adopt(self, entry: LedgerEntry) -> bool:
        """Take over an unfinished claim (to resume its action); False when it finished or
        another replica adopted it first: it no longer names the holder and run ``entry``
        does when ``entry`` names one (as :meth:`unfinished` lists it: two sweepers that
        listed it both read it unfinished), or the update's resourceVersion shows a
        write in between."""
        name = entry.name
        obj = await self._read(name)
        if obj is None:
            return False
        current = from_configmap(obj)
        if current is None or current.finished:
            return False
        if entry.holder and (current.holder, current.run) != (entry.holder, entry.run):
            return False
        mine = replace(current, holder=self.identity, run=self.run, claimed_at=_now())
        updated = self._configmap(mine)
        updated["metadata"]["resourceVersion"] = obj["metadata"].get("resourceVersion")
        try:
            written = await self.client.replace(updated, self.namespace)
        except (Conflict, NotFound):
            return False
        except ApiError as err:
            raise self._error(err, "update", name) from None
        self._remember(mine, written)
        return True

    # -- reading --------------------------------------------------------------------------------

    async def entries(self, since: datetime.datetime | None = None) -> list[LedgerEntry]:
        """Every entry claimed at or after ``since`` (all when None), oldest first."""
        found = [e async for e in self._iterate(f"{LEDGER_LABEL}=true")]
        if since is not None:
            found = [e for e in found if e.claimed_at >= since]
        return sorted(found, key=lambda e: e.claimed_at)

    async def unfinished(self, now: datetime.datetime | None = None) -> list[LedgerEntry]:
        """Claims never finished by another replica or by this one's previous run, and own
        claims older than ``stale_after``: the actions a new leader resumes."""
        moment = now or _now()
        selector = f"{LEDGER_LABEL}=true,{STATE_LABEL}={CLAIMED}"
        found = []
        async for entry in self._iterate(selector):
            if entry.finished:
                continue
            foreign = entry.holder != self.identity or entry.run != self.run
            stale = (
                self.stale_after is not None
                and (moment - entry.claimed_at).total_seconds() > self.stale_after
            )
            if foreign or stale:
                found.append(entry)
        return sorted(found, key=lambda e: e.claimed_at)

    async def prune(self, older_than: float, *, batch: int = PRUNE_BATCH) -> int:
        """Delete the entries claimed more than ``older_than`` seconds ago, ``batch`` at a
        time; returns how many were deleted."""
        cutoff = _now() - datetime.timedelta(seconds=older_than)
        names = [
            e.name async for e in self._iterate(f"{LEDGER_LABEL}=true") if e.claimed_at < cutoff
        ]
        deleted = 0
        for start in range(0, len(names), max(1, batch)):
            results = await asyncio.gather(
                *(self._delete(name) for name in names[start : start + max(1, batch)])
            )
            deleted += sum(results)
        return deleted

    # -- the watermark ----------------------------------------------------------------------------

    async def watermark(self, daemon: str) -> datetime.datetime | None:
        """The last time daemon ``daemon`` recorded as processed, or None."""
        obj = await self._read(watermark_name(daemon))
        if obj is None:
            return None
        return _time((obj.get("data") or {}).get("time"))

    async def set_watermark(self, daemon: str, when: datetime.datetime) -> None:
        """Record ``when`` as processed by ``daemon``; a time older than the stored one is
        ignored (a deposed leader cannot move it back)."""
        name = watermark_name(daemon)
        for _ in range(_UPDATE_TRIES):
            obj = await self._read(name)
            data = {"time": _format(when), "holder": self.identity}
            if obj is None:
                body = {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": name, "labels": {WATERMARK_LABEL: "true"}},
                    "data": data,
                }
                try:
                    await self.client.create(body, self.namespace)
                    return
                except AlreadyExists:
                    continue
                except ApiError as err:
                    raise self._error(err, "create", name) from None
            stored = _time((obj.get("data") or {}).get("time"))
            if stored is not None and stored >= when:
                return
            obj["data"] = data
            try:
                await self.client.replace(obj, self.namespace)
                return
            except (Conflict, NotFound):
                continue
            except ApiError as err:
                raise self._error(err, "update", name) from None
        raise LedgerError(
            f"respond ledger: cannot update {name} in namespace {self.namespace!r}: "
            f"it kept changing ({_UPDATE_TRIES} conflicts in a row)"
        )

    # -- ConfigMaps ---------------------------------------------------------------------------------

    def _configmap(self, entry: LedgerEntry) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": entry.name,
                "namespace": self.namespace,
                "labels": {
                    LEDGER_LABEL: "true",
                    RULE_LABEL: label_value(entry.rule),
                    STATE_LABEL: entry.state,
                },
            },
            "data": to_data(entry),
        }

    async def _read(self, name: str) -> Object | None:
        try:
            return await self.client.get("configmaps", name, self.namespace)
        except NotFound:
            return None
        except ApiError as err:
            raise self._error(err, "get", name) from None

    async def _update(
        self,
        name: str,
        change: Callable[[LedgerEntry], LedgerEntry],
        doing: str,
        known: tuple[LedgerEntry, str] | None = None,
    ) -> LedgerEntry | None:
        """Change and write back with the resourceVersion it was read (or, ``known``,
        created) at, read again and retried on conflict."""
        for _ in range(_UPDATE_TRIES):
            if known is not None:
                entry, version = known
                known = None
            else:
                obj = await self._read(name)
                if obj is None:
                    return None
                read = from_configmap(obj)
                if read is None:
                    raise LedgerError(
                        f"respond ledger: cannot {doing} {name} in namespace "
                        f"{self.namespace!r}: it is not a ledger entry kubeops can read"
                    )
                entry, version = read, str(obj["metadata"].get("resourceVersion") or "")
            changed = change(entry)
            body = self._configmap(changed)
            body["metadata"]["resourceVersion"] = version
            try:
                await self.client.replace(body, self.namespace)
            except Conflict:
                continue
            except NotFound:
                return None
            except ApiError as err:
                raise self._error(err, "update", name) from None
            return changed
        raise LedgerError(
            f"respond ledger: cannot {doing} {name} in namespace {self.namespace!r}: "
            f"it kept changing ({_UPDATE_TRIES} conflicts in a row)"
        )

    async def _delete(self, name: str) -> bool:
        try:
            await self.client.delete("configmaps", name, self.namespace)
        except NotFound:
            return False
        except ApiError as err:
            raise self._error(err, "delete", name) from None
        return True

    async def _iterate(self, selector: str) -> AsyncIterator[LedgerEntry]:
        try:
            async for obj in self.client.iterate(
                "configmaps", self.namespace, label_selector=selector, page_size=PAGE_SIZE
            ):
                entry = from_configmap(obj)
                if entry is None:
                    log.warning(
                        "respond ledger: ignoring ConfigMap %r in namespace %r: labelled as a "
                        "ledger entry but not one",
                        (obj.get("metadata") or {}).get("name"),
                        self.namespace,
                    )
                    continue
                yield entry
        except ApiError as err:
            raise self._error(err, "list", None) from None

    def _error(self, err: ApiError, verb: str, name: str | None) -> LedgerError:
        where = f'in namespace "{self.namespace}"'
        what = f"configmaps {name!r}" if name else "configmaps"
        if isinstance(err, Forbidden):
            return LedgerError(
                f"respond ledger: forbidden to {verb} {what} {where}: give the daemon's "
                "identity get, list, create, update and delete on configmaps there"
            )
        if isinstance(err, NotFound) and verb in ("create", "list"):
            return LedgerError(
                f'respond ledger: cannot {verb} {what}: namespace "{self.namespace}" does not exist'
            )
        return LedgerError(f"respond ledger: {err}")


def watermark_name(daemon: str) -> str:
    """``respond-watermark-<daemon>``, as the API server accepts it."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", daemon.lower()).strip("-") or "default"
    name = f"{PREFIX}watermark-{cleaned}"
    if len(name) > 253 or cleaned != daemon:
        digest = hashlib.sha256(daemon.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        name = f"{PREFIX}watermark-{cleaned[:200].rstrip('-')}-{digest}"
    return name


# -- the entry's data -------------------------------------------------------------------------------


def to_data(entry: LedgerEntry) -> dict[str, str]:
    """The ConfigMap's ``data`` for ``entry`` (strings only, as a ConfigMap holds)."""
    data = {
        "actionId": entry.action_id,
        "rule": entry.rule,
        "action": entry.action,
        "actionIndex": str(entry.action_index),
        "eventIdentity": entry.event_identity,
        "eventName": entry.event_name,
        "eventSource": entry.event_source,
        "holder": entry.holder,
        "run": entry.run,
        "claimedAt": _format(entry.claimed_at),
        "state": entry.state,
    }
    if entry.event_time is not None:
        data["eventTime"] = _format(entry.event_time)
    if entry.subject is not None:
        data["subject"] = _ref_json(entry.subject)
    if entry.target is not None:
        data["target"] = _ref_json(entry.target)
    if entry.finished_at is not None:
        data["finishedAt"] = _format(entry.finished_at)
    if entry.detail:
        data["detail"] = entry.detail
    if entry.scale_percent is not None:
        data["scalePercent"] = repr(float(entry.scale_percent))
    if entry.nodes:
        data["nodes"] = orjson.dumps(list(entry.nodes)).decode()
    if entry.payload:
        try:
            payload = orjson.dumps(entry.payload, default=str).decode()
        except TypeError:
            payload = ""
        if payload and len(payload) <= PAYLOAD_LIMIT:
            data["payload"] = payload
    return data


def from_configmap(obj: Mapping[str, Any]) -> LedgerEntry | None:
    """The entry a ledger ConfigMap holds, or None when it is not one."""
    data = obj.get("data") or {}
    claimed = _time(data.get("claimedAt"))
    if not data.get("actionId") or not data.get("rule") or claimed is None:
        return None
    try:
        nodes = tuple(str(n) for n in orjson.loads(data["nodes"])) if data.get("nodes") else ()
        payload = orjson.loads(data["payload"]) if data.get("payload") else None
        scale = float(data["scalePercent"]) if data.get("scalePercent") else None
        index = int(data.get("actionIndex") or 0)
    except (orjson.JSONDecodeError, TypeError, ValueError):
        return None
    state = str(data.get("state") or CLAIMED)
    return LedgerEntry(
        action_id=str(data["actionId"]),
        rule=str(data["rule"]),
        action=str(data.get("action") or ""),
        action_index=index,
        event_identity=str(data.get("eventIdentity") or ""),
        event_name=str(data.get("eventName") or ""),
        event_source=str(data.get("eventSource") or ""),
        event_time=_time(data.get("eventTime")),
        subject=_ref(data.get("subject")),
        target=_ref(data.get("target")),
        holder=str(data.get("holder") or ""),
        run=str(data.get("run") or ""),
        claimed_at=claimed,
        state=state if state in STATES else CLAIMED,
        finished_at=_time(data.get("finishedAt")),
        detail=str(data.get("detail") or ""),
        scale_percent=scale,
        nodes=nodes,
        payload=payload if isinstance(payload, dict) else None,
    )


def _ref_json(ref: ObjectRef) -> str:
    fields = {
        "kind": ref.kind,
        "name": ref.name,
        "namespace": ref.namespace,
        "uid": ref.uid,
        "apiVersion": ref.api_version,
    }
    return orjson.dumps({k: v for k, v in fields.items() if v}).decode()


def _ref(text: Any) -> ObjectRef | None:
    if not text:
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(value, dict):
        return None
    return ObjectRef(
        kind=str(value.get("kind") or ""),
        name=str(value.get("name") or ""),
        namespace=str(value.get("namespace") or ""),
        uid=str(value.get("uid") or ""),
        api_version=str(value.get("apiVersion") or ""),
    )


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _format(moment: datetime.datetime) -> str:
    """RFC 3339 in UTC with microseconds (a Kubernetes MicroTime)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _time(text: Any) -> datetime.datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=datetime.UTC)


def _line(text: str) -> str:
    """One line, bounded: details are shown in tables and kept in a ConfigMap."""
    flat = " ".join(text.split())
    return flat if len(flat) <= DETAIL_LIMIT else flat[: DETAIL_LIMIT - 1] + "…"
