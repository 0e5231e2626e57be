"""The safety limits held by every active replica together: one ConfigMap, written by
compare-and-swap.

When several replicas act at once (each consuming its share of a Kafka topic's
partitions), a limit counted in one process's memory would let each replica take
its own ``maxActions``; the limits must be global.  :class:`SharedLimits` keeps the
pure :class:`~kubeops.respond.limits.Limits` logic and moves its state into the
cluster: the ConfigMap ``respond-limits-<daemon>`` in the limits namespace holds the
recently admitted actions (time, rule, event, subject, target, Nodes), trimmed to
the longest window a limit looks at.  Admitting is read -> rebuild the windows ->
decide -> replace with the resourceVersion read; a Conflict (another replica admitted
in between) reads again and decides again, a bounded number of times with a jittered
pause.  Two replicas therefore never share a last slot.

One replica's concurrent admissions ride one write (a group commit): while a write
is under way the next ones queue, and are decided together on the state that write
leaves.  A suppression needs no write: records are only added (a released slot is the
rare exception), so what stopped an action on the last state read still stops it.

Single-leader daemons keep the in-memory :class:`~kubeops.respond.limits.Limits`:
they pay nothing for this.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from kubeops.api import Client, Object
from kubeops.api.retry import CONFLICT_BACKOFF
from kubeops.errors import AlreadyExists, ApiError, Conflict, Forbidden, KubeopsError, NotFound
from kubeops.respond.action import Plan
from kubeops.respond.event import Event
from kubeops.respond.limits import Limits, object_key
from kubeops.respond.model import GlobalLimits, Rule

log = logging.getLogger(__name__)

LIMITS_LABEL = "respond.kubeops.io/limits"
DATA_KEY = "actions"
MAX_RECORDS = 4000
"""Admitted actions the ConfigMap keeps at most (about 200 bytes each, under its 1 MiB)."""
ATTEMPTS = 12
"""Writes tried before an admission fails (each a re-read after another replica's write)."""
BACKOFF = dataclasses.replace(CONFLICT_BACKOFF, base=0.01, cap=0.25)


class SharedLimitsError(KubeopsError):
    """The shared limits' ConfigMap cannot be read or written: the action must not run."""


@dataclass(frozen=True, slots=True)
class Admitted:
    """One admitted action as the ConfigMap keeps it (the keys the limits count by)."""

    at: float
    rule: str
    identity: str
    name: str
    subject: str
    target: str
    nodes: tuple[str, ...] = ()

    def as_json(self) -> list[Any]:
        """The compact JSON form: ``[at, rule, identity, name, subject, target, nodes]``."""
        return [self.at, self.rule, self.identity, self.name, self.subject, self.target, self.nodes]

    @classmethod
    def from_json(cls, value: Any) -> Admitted | None:
        """The record ``value`` holds, or None when it is not one."""
        if not isinstance(value, list) or len(value) != 7:
            return None
        at, rule, identity, name, subject, target, nodes = value
        if not isinstance(at, int | float) or not isinstance(nodes, list):
            return None
        return cls(float(at), str(rule), str(identity), str(name), str(subject), str(target),
                   tuple(str(n) for n in nodes))  # fmt: skip


def configmap_name(daemon: str) -> str:
    """``respond-limits-<daemon>``, as the API server accepts it."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", daemon.lower()).strip("-") or "default"
    name = f"respond-limits-{cleaned}"
    if len(name) > 253 or cleaned != daemon:
        digest = hashlib.sha256(daemon.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        name = f"respond-limits-{cleaned[:200].rstrip('-')}-{digest}"
    return name


@dataclass(slots=True)
class _Request:
    admit: bool
    record: Admitted
    rule: Rule
    event: Event
    plan: Plan
    done: asyncio.Future[str | None]


class SharedLimits:
    """The limits of ``rules`` shared through one ConfigMap; see the module doc.

    :meth:`check` (synchronous, on the last state read) is the engine's early, planless
    filter; :meth:`admit_async` and :meth:`release_async` are the compare-and-swap.
    """

    shared = True

    def __init__(
        self,
        client: Client,
        namespace: str,
        daemon: str,
        rules: Iterable[Rule] = (),
        global_limits: GlobalLimits | None = None,
        *,
        attempts: int = ATTEMPTS,
    ) -> None:
        self.client = client
        self.namespace = namespace
        self.name = configmap_name(daemon)
        self.rules = tuple(rules)
        self.global_limits = global_limits or GlobalLimits()
        self.attempts = max(1, attempts)
        self.view = Limits(self.rules, self.global_limits)
        """The windows as last read or written (what :meth:`check` looks at)."""
        self._stateless = self.view.horizon <= 0
        self.records: list[Admitted] = []
        self._version: str | None = None
        """The ConfigMap's resourceVersion as last seen; "" when absent, None when unknown."""
        self._queue: list[_Request] = []
        self._writer: asyncio.Task[None] | None = None
        self.writes = 0
        self.conflicts = 0
        self._capped_warned = False

    def __repr__(self) -> str:
        return f"SharedLimits(configmap={self.namespace}/{self.name})"

    @property
    def horizon(self) -> float:
        """The longest time any limit looks back (what the ConfigMap keeps)."""
        return self.view.horizon

    # -- the engine's side ----------------------------------------------------------------------

    def check(self, rule: Rule, event: Event, plan: Plan, now: float) -> str | None:
        """What stops this action on the last state seen (no request; takes no slot)."""
        return self.view.check(rule, event, plan, now)

    async def admit_async(self, rule: Rule, event: Event, plan: Plan, now: float) -> str | None:
        """Every limit, decided and (when nothing stops it) recorded in the ConfigMap.
        Rules with no window (no cooldown, rate, deduplication or Node bound) share
        nothing: decided here, no request."""
        if self._stateless:
            return self.view.check(rule, event, plan, now)
        return await self._submit(True, rule, event, plan, now)

    async def release_async(self, rule: Rule, event: Event, plan: Plan, now: float) -> None:
        """Give back the slot :meth:`admit_async` recorded at ``now`` for an action that did
        not run here (claimed already, or the ledger could not be written)."""
        if not self._stateless:
            await self._submit(False, rule, event, plan, now)

    async def load(self) -> None:
        """Read the ConfigMap (before the first event, so :meth:`check` knows the state)."""
        if not self._stateless:
            await self._read()

    # -- the group commit -------------------------------------------------------------------------

    async def _submit(
        self, admit: bool, rule: Rule, event: Event, plan: Plan, now: float
    ) -> str | None:
        subject = object_key(event.subject)
        target = object_key(plan.target) if plan.target is not None else subject
        record = Admitted(now, rule.name, event.identity, event.name, subject, target, plan.nodes)
        done: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._queue.append(_Request(admit, record, rule, event, plan, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all(), name=f"limits {self.name}")
        return await done

    async def _write_all(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                results = await self._swap(batch)
            except BaseException as err:
                failure = err if isinstance(err, Exception) else SharedLimitsError("stopped")
                for request in batch:
                    if not request.done.done():
                        request.done.set_exception(failure)
                if not isinstance(err, Exception):
                    raise
                continue
            for request, result in zip(batch, results, strict=True):
                if not request.done.done():
                    request.done.set_result(result)

    async def _swap(self, batch: Sequence[_Request]) -> list[str | None]:
        """Decide ``batch`` on the stored state and write it back; again on a Conflict."""
        for attempt in range(self.attempts):
            if self._version is None:
                await self._read()
            limits = self.view
            records = list(self.records)
            results: list[str | None] = []
            changed = False
            for request in batch:
                if request.admit:
                    reason = limits.admit(
                        request.rule, request.event, request.plan, request.record.at
                    )
                    if reason is None:
                        records.append(request.record)
                        changed = True
                    results.append(reason)
                else:
                    if request.record in records:
                        records.remove(request.record)
                        limits.release(request.rule, request.event, request.plan, request.record.at)
                        changed = True
                    results.append(None)
            if not changed:
                return results
            try:
                await self._write(records)
            except SharedLimitsError:
                self._version = None  # the view holds what was not stored: read again
                raise
            except (Conflict, AlreadyExists, NotFound):
                self.conflicts += 1
                self._version = None  # read again, decide again
                await asyncio.sleep(BACKOFF.delay(attempt))
                continue
            self.records = self._trim(records, time.time())
            return results
        self._version = None
        raise SharedLimitsError(
            f"respond limits: cannot update configmaps {self.name!r} in namespace "
            f'"{self.namespace}": it kept changing ({self.attempts} conflicts in a row)'
        )

    # -- the ConfigMap ----------------------------------------------------------------------------

    async def _read(self) -> None:
        try:
            obj = await self.client.get("configmaps", self.name, self.namespace)
        except NotFound:
            obj = None
        except ApiError as err:
            raise self._error(err, "get") from None
        records = self._parse(obj) if obj is not None else []
        self.records = self._trim(records, time.time())
        self.view = self._rebuild(self.records)
        self._version = str((obj or {}).get("metadata", {}).get("resourceVersion") or "")

    async def _write(self, records: list[Admitted]) -> None:
        kept = self._trim(records, time.time())
        body: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": self.name, "labels": {LIMITS_LABEL: "true"}},
            "data": {DATA_KEY: orjson.dumps([r.as_json() for r in kept]).decode()},
        }
        try:
            if self._version:
                body["metadata"]["resourceVersion"] = self._version
                written: Object = await self.client.replace(body, self.namespace)
            else:
                written = await self.client.create(body, self.namespace)
        except (Conflict, AlreadyExists, NotFound):
            raise
        except ApiError as err:
            raise self._error(err, "update" if self._version else "create") from None
        self.writes += 1
        self._version = str((written.get("metadata") or {}).get("resourceVersion") or "")

    def _parse(self, obj: Object) -> list[Admitted]:
        text = (obj.get("data") or {}).get(DATA_KEY) or "[]"
        try:
            values = orjson.loads(text)
        except orjson.JSONDecodeError:
            values = None
        if not isinstance(values, list):
            log.warning(
                "respond limits: configmaps %r in namespace %r does not hold a list of "
                "actions; starting it afresh",
                self.name,
                self.namespace,
            )
            return []
        parsed = (Admitted.from_json(v) for v in values)
        return sorted((r for r in parsed if r is not None), key=lambda r: r.at)

    def _trim(self, records: list[Admitted], now: float) -> list[Admitted]:
        horizon = self.horizon
        kept = [r for r in records if now - r.at < horizon] if horizon > 0 else []
        if len(kept) > MAX_RECORDS:
            if not self._capped_warned:
                self._capped_warned = True
                log.warning(
                    "respond limits: more than %d actions within %.0fs; configmaps %r keeps "
                    "the newest %d (older ones no longer count)",
                    MAX_RECORDS,
                    horizon,
                    self.name,
                    MAX_RECORDS,
                )
            kept = kept[-MAX_RECORDS:]
        return kept

    def _rebuild(self, records: Iterable[Admitted]) -> Limits:
        limits = Limits(self.rules, self.global_limits)
        for r in sorted(records, key=lambda r: r.at):
            limits._record(r.rule, r.identity, r.name, r.subject, r.target, r.nodes, r.at)
        return limits

    def _error(self, err: ApiError, verb: str) -> SharedLimitsError:
        where = f'configmaps {self.name!r} in namespace "{self.namespace}"'
        if isinstance(err, Forbidden):
            return SharedLimitsError(
                f"respond limits: forbidden to {verb} {where}: give the daemon's identity "
                "get, create and update on configmaps there"
            )
        return SharedLimitsError(f"respond limits: cannot {verb} {where}: {err}")


__all__ = ["Admitted", "SharedLimits", "SharedLimitsError", "configmap_name"]
