"""Which replicas are alive, and what the dead ones left half done.

When every replica acts (each consuming its share of a Kafka topic), a replica
that dies mid-action leaves an unfinished claim in the ledger, and nobody may
resume it while its holder might still be running it.  So each acting replica
keeps a *heartbeat*: the Lease ``respond-replica-<identity>`` in the limits
namespace, its holder the replica's ledger run, renewed every 2 s for 10 s.  The
elected leader runs the :class:`OrphanSweep`: every few seconds it lists the
heartbeats and the unfinished claims.  A heartbeat that stopped (unchanged for its
whole duration, as this process's clock saw it: no clocks compared) is a replica
gone: what it finished and never audited is audited (``on_dead``), and its Lease
deleted.  Each claim whose holder's heartbeat is gone or names another run (the
holder restarted) is adopted and resumed
(:meth:`~kubeops.respond.engine.Engine.resume_entry`) -- once, the adoption's
resourceVersion deciding between sweepers.

A heartbeat that cannot be renewed within 2/3 of its duration ends with
:class:`HeartbeatLost`: the replica must stop acting before the sweep of another
replica takes its claims over.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kubeops.api import Client, Object
from kubeops.config.redact import error_line
from kubeops.errors import AlreadyExists, ApiError, Conflict, Forbidden, KubeopsError, NotFound
from kubeops.respond.ledger import label_value

if TYPE_CHECKING:
    from kubeops.respond.engine import Decision
    from kubeops.respond.ledger import Ledger, LedgerEntry

log = logging.getLogger(__name__)

LEASE_KIND = "coordination.k8s.io/v1/Lease"
REPLICA_LABEL = "respond.kubeops.io/replica-of"
"""On a heartbeat Lease: the daemon (its Lease name) the replica belongs to."""
DEFAULT_DAEMON = "kubeops-respond"
IDENTITY_ANNOTATION = "respond.kubeops.io/identity"
HEARTBEAT_EVERY = 2.0
HEARTBEAT_DURATION = 10.0
SWEEP_EVERY = 3.0


class HeartbeatError(KubeopsError):
    """The heartbeat Lease cannot be written (names the verb, the Lease and the namespace)."""


class HeartbeatLost(HeartbeatError):
    """The heartbeat was not renewed in time: this replica must stop acting."""


def lease_name(identity: str) -> str:
    """``respond-replica-<identity>``, as the API server accepts it (a short hash keeps
    identities that had to change apart)."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", identity.lower()).strip("-") or "replica"
    name = f"respond-replica-{cleaned}"
    if len(name) > 253 or cleaned != identity:
        digest = hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        name = f"respond-replica-{cleaned[:200].rstrip('-')}-{digest}"
    return name


def _micro_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Heartbeat:
    """This replica's Lease, holder ``run``; :meth:`start` writes the first beat (so a
    claim is never older than its holder's heartbeat), :meth:`run` keeps renewing."""

    def __init__(
        self,
        client: Client,
        namespace: str,
        identity: str,
        run: str,
        *,
        every: float = HEARTBEAT_EVERY,
        duration: float = HEARTBEAT_DURATION,
        daemon: str = DEFAULT_DAEMON,
    ) -> None:
        self.client = client
        self.namespace = namespace
        self.identity = identity
        self.run_id = run
        self.daemon = label_value(daemon)
        self.name = lease_name(identity)
        self.every = every
        self.duration = duration
        self.renewed = 0.0
        """``time.monotonic()`` of the last renewal (0: never)."""
        self._lease: Object | None = None

    def __repr__(self) -> str:
        return f"Heartbeat(lease={self.namespace}/{self.name}, run={self.run_id})"

    @property
    def alive(self) -> bool:
        """Renewed within 2/3 of the duration (what /readyz reports)."""
        return self.renewed > 0 and time.monotonic() - self.renewed < self.duration * 2 / 3

    async def start(self) -> None:
        """The first beat; a refused write raises :class:`HeartbeatError` at once."""
        await self.beat()

    async def run(self) -> None:
        """Renew every ``every`` seconds until cancelled; raises :class:`HeartbeatLost`
        when no renewal succeeded within 2/3 of the duration."""
        deadline = self.duration * 2 / 3
        while True:
            await asyncio.sleep(self.every)
            try:
                await self.beat()
            except (KubeopsError, OSError) as err:
                if time.monotonic() - self.renewed >= deadline:
                    raise HeartbeatLost(
                        f"respond heartbeat: lease {self.name!r} in namespace "
                        f'"{self.namespace}" not renewed for {deadline:.0f}s: {error_line(err)}'
                    ) from None
                log.warning("respond heartbeat: cannot renew %s: %s", self.name, error_line(err))

    async def beat(self) -> None:
        """Write the Lease once (create it, or replace it with the resourceVersion known)."""
        spec = {
            "holderIdentity": self.run_id,
            "leaseDurationSeconds": max(1, math.ceil(self.duration)),
            "renewTime": _micro_time(),
        }
        for _ in range(3):
            try:
                if self._lease is None:
                    try:
                        self._lease = await self.client.get(LEASE_KIND, self.name, self.namespace)
                    except NotFound:
                        body = {
                            "apiVersion": "coordination.k8s.io/v1",
                            "kind": "Lease",
                            "metadata": {
                                "name": self.name,
                                "namespace": self.namespace,
                                "labels": {REPLICA_LABEL: self.daemon},
                                "annotations": {IDENTITY_ANNOTATION: self.identity},
                            },
                            "spec": {**spec, "acquireTime": spec["renewTime"]},
                        }
                        self._lease = await self.client.create(body, self.namespace)
                        self.renewed = time.monotonic()
                        return
                lease = self._lease
                meta = dict(lease.get("metadata") or {})
                meta["labels"] = {**(meta.get("labels") or {}), REPLICA_LABEL: self.daemon}
                meta["annotations"] = {
                    **(meta.get("annotations") or {}),
                    IDENTITY_ANNOTATION: self.identity,
                }
                updated = {**lease, "metadata": meta, "spec": {**(lease.get("spec") or {}), **spec}}
                self._lease = await self.client.replace(updated, self.namespace)
            except (Conflict, NotFound, AlreadyExists):
                self._lease = None
                continue
            except Forbidden:
                raise self._error("update" if self._lease else "create") from None
            except ApiError as err:
                self._lease = None
                raise HeartbeatError(
                    f"respond heartbeat: cannot write lease {self.name!r} in namespace "
                    f'"{self.namespace}": {err}'
                ) from None
            self.renewed = time.monotonic()
            return
        raise HeartbeatError(
            f"respond heartbeat: lease {self.name!r} in namespace {self.namespace!r} kept "
            "changing (3 conflicts in a row)"
        )

    async def stop(self) -> None:
        """Delete the Lease (a replica that stopped gracefully finished its claims: what
        is still unfinished may be resumed at once)."""
        try:
            await self.client.delete(LEASE_KIND, self.name, self.namespace)
        except NotFound:
            pass
        except ApiError as err:
            log.warning("respond heartbeat: cannot delete lease %s: %s", self.name, error_line(err))

    def _error(self, verb: str) -> HeartbeatError:
        return HeartbeatError(
            f"respond heartbeat: forbidden to {verb} leases {self.name!r} in namespace "
            f'"{self.namespace}": give the daemon\'s identity get, create, update and delete '
            "on leases.coordination.k8s.io there"
        )


@dataclass(slots=True)
class _Seen:
    """A heartbeat as the sweeper last saw it, and since when (its own clock)."""

    version: str
    holder: str
    duration: float
    since: float


class OrphanSweep:
    """The leader's sweep for claims whose holder stopped; see the module doc.

    ``resume(entry)`` adopts and runs one (the engine's ``resume_entry``);
    ``on_dead(holders)`` hears of the replicas found dead (to audit what they finished
    and never audited).  ``daemon`` names the replicas' daemon (their heartbeats carry
    it); ``wanted(entry)`` tells this daemon's claims (its rules) from another's that
    shares the namespace.
    """

    def __init__(
        self,
        client: Client,
        namespace: str,
        ledger: Ledger,
        resume: Callable[[LedgerEntry], Awaitable[Decision | None]],
        *,
        every: float = SWEEP_EVERY,
        on_dead: Callable[[Sequence[str]], Awaitable[Any]] | None = None,
        daemon: str = DEFAULT_DAEMON,
        wanted: Callable[[LedgerEntry], bool] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.namespace = namespace
        self.ledger = ledger
        self.resume = resume
        self.every = every
        self.on_dead = on_dead
        self.daemon = label_value(daemon)
        self.wanted = wanted
        self.clock = clock
        self.resumed = 0
        self._seen: dict[str, _Seen] = {}

    async def run(self) -> None:
        """Sweep every ``every`` seconds until cancelled; a failed sweep is logged."""
        while True:
            try:
                await self.sweep()
            except KubeopsError as err:
                log.warning("respond: orphan sweep failed: %s", error_line(err))
            await asyncio.sleep(self.every)

    async def sweep(self) -> list[Decision]:
        """One pass: bury the replicas whose heartbeat stopped, resume every unfinished
        claim whose holder is dead; the decisions."""
        ledger = self.ledger
        leases = await self._leases()
        own = lease_name(ledger.identity)
        gone = {
            name: lease
            for name, lease in leases.items()
            if name != own and self._expired(name, lease)
        }
        if gone:
            identities = sorted(
                str(((lease.get("metadata") or {}).get("annotations") or {}).get(
                    IDENTITY_ANNOTATION) or name)
                for name, lease in gone.items()
            )  # fmt: skip
            log.info("respond: replica(s) stopped (heartbeat expired): %s", ", ".join(identities))
            if self.on_dead is not None:
                await self.on_dead(identities)
            for name, lease in gone.items():
                await self._bury(name, lease)
                leases.pop(name, None)
        orphans: list[LedgerEntry] = []
        for entry in await ledger.unfinished():
            if entry.holder == ledger.identity and entry.run == ledger.run:
                continue  # ours, under way
            if self.wanted is not None and not self.wanted(entry):
                continue  # another daemon's (its rules) in the same namespace
            name = lease_name(entry.holder)
            found = leases.get(name)
            if (
                found is None
                or str((found.get("spec") or {}).get("holderIdentity") or "") != entry.run
                or self._expired(name, found)
            ):
                orphans.append(entry)
        if orphans:
            log.info("respond: resuming %d claim(s) of stopped replicas", len(orphans))
        decisions = []
        for entry in orphans:
            decision = await self.resume(entry)
            if decision is not None:
                self.resumed += 1
                decisions.append(decision)
        return decisions

    async def _leases(self) -> dict[str, Object]:
        try:
            listed = await self.client.list(
                LEASE_KIND, self.namespace, label_selector=f"{REPLICA_LABEL}={self.daemon}"
            )
        except ApiError as err:
            raise HeartbeatError(
                f'respond heartbeat: cannot list leases in namespace "{self.namespace}": {err}'
            ) from None
        return {str(item["metadata"]["name"]): item for item in listed.get("items") or []}

    def _expired(self, name: str, lease: Object) -> bool:
        """The heartbeat has not changed for its whole duration, by this clock."""
        spec = lease.get("spec") or {}
        version = str((lease.get("metadata") or {}).get("resourceVersion") or "")
        holder = str(spec.get("holderIdentity") or "")
        duration = float(spec.get("leaseDurationSeconds") or HEARTBEAT_DURATION)
        now = self.clock()
        seen = self._seen.get(name)
        if seen is None or seen.version != version or seen.holder != holder:
            self._seen[name] = _Seen(version, holder, duration, now)
            return False
        return now - seen.since > seen.duration

    async def _bury(self, name: str, lease: Object) -> None:
        """Delete a stopped replica's heartbeat, unless it beat again meanwhile."""
        version = str((lease.get("metadata") or {}).get("resourceVersion") or "")
        try:
            await self.client.delete(
                LEASE_KIND, name, self.namespace, preconditions={"resourceVersion": version}
            )
        except (NotFound, Conflict):
            pass
        except ApiError as err:
            log.warning("respond heartbeat: cannot delete lease %s: %s", name, error_line(err))
        self._seen.pop(name, None)


__all__ = [
    "Heartbeat",
    "HeartbeatError",
    "HeartbeatLost",
    "OrphanSweep",
    "lease_name",
]
