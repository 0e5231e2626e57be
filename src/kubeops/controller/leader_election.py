"""Leader election on ``coordination.k8s.io/v1`` Leases, with client-go's semantics.

Several replicas of a daemon run a :class:`LeaderElector` on the same Lease;
one of them leads and runs ``on_started_leading``, the others wait.  The rules
are those of client-go's ``tools/leaderelection``:

* an elector tries to acquire the Lease every ``retry_period`` times a random
  factor in [1, 2.2), so that replicas do not come back in lockstep;
* every write is an ``Update`` carrying the resourceVersion that was read, so
  two electors racing for the same Lease cannot both win: one gets a Conflict;
* a Lease held by another elector is considered taken while it keeps
  *changing*: expiry is measured with the local monotonic clock from the moment
  this elector last saw the record change, plus the Lease's
  ``leaseDurationSeconds``.  ``renewTime`` is written for humans and never
  compared with the local clock, so clock skew between machines cannot make two
  leaders;
* the leader renews every ``retry_period``; when ``renew_deadline`` passes
  without a successful renew it stops leading, and because ``renew_deadline``
  is shorter than ``lease_duration`` it does so before anyone else may take over;
* on the way out the leader releases the Lease (holder ``""``, one second) so
  that a successor takes over at its next try instead of a lease duration later.

Two deliberate differences from client-go, both on the safe side: the renew
deadline is counted from the start of the last *successful* renew (client-go
counts from the start of the retry loop, one retry period later), and a leader
that reads a Lease held by someone else stops leading at once instead of
retrying until the deadline.  ``run()`` returns (as client-go's ``Run``) once
leadership is lost; call it again to stand for election again.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import random as _random
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kubeops.api import Client, Object
from kubeops.errors import Conflict, KubeopsError, NotFound
from kubeops.models.duration import format_duration

LOG = logging.getLogger(__name__)

# client-go's JitterFactor: retries wait RetryPeriod * [1, 1 + 1.2).
JITTER_FACTOR = 1.2

# The defaults kube-controller-manager and kube-scheduler use (component-base).
DEFAULT_LEASE_DURATION = 15.0
DEFAULT_RENEW_DEADLINE = 10.0
DEFAULT_RETRY_PERIOD = 2.0

LEASE_API_VERSION = "coordination.k8s.io/v1"
LEASE_KIND = "coordination.k8s.io/v1/Lease"

StartedLeading = Callable[[asyncio.Event], Awaitable[None]]
StoppedLeading = Callable[[], Awaitable[None] | None]
NewLeader = Callable[[str], Awaitable[None] | None]


class InvalidLeaderElectionConfig(KubeopsError, ValueError):
    """The durations, identity, lease name or callbacks of a leader election do not fit together."""


def jittered(
    duration: float,
    max_factor: float = JITTER_FACTOR,
    *,
    random: Callable[[], float] = _random.random,
) -> float:
    """``duration`` stretched by a random factor in ``[1, 1 + max_factor)``.

    ``random`` returns a float in ``[0, 1)``.  A ``max_factor`` that is not
    positive means 1, as in client-go's ``wait.Jitter``.
    """
    if max_factor <= 0:
        max_factor = 1.0
    return duration + random() * max_factor * duration


def default_identity() -> str:
    """``<hostname>_<uuid>``: unique per process even when pods share a host name."""
    return f"{socket.gethostname()}_{uuid.uuid4()}"


@dataclass(frozen=True, kw_only=True)
class LeaderElectionConfig:
    """Which Lease to compete for, as whom, how fast, and what to do as leader.

    ``on_started_leading(stopped)`` runs as a task once this elector leads;
    ``stopped`` is set and the task cancelled when leadership ends, and ``run()``
    waits for the task to finish before it releases the Lease.  If it returns
    normally, this elector keeps the Lease (as client-go does) until ``run()`` is
    cancelled.  ``on_stopped_leading()`` (plain or async) runs whenever ``run()``
    exits, even if this elector never led.  ``on_new_leader(identity)`` runs each
    time the observed holder changes, as a task if it returns an awaitable
    (inline otherwise, so keep a plain one quick); ``""`` means the Lease was
    released and nobody holds it.  ``namespace`` defaults to the client's.
    ``clock`` gives monotonic seconds and times everything but the sleeps.
    ``release_on_cancel`` releases the Lease whenever leading ends while the
    Lease still names this elector: on cancel, as its name says, and, as in
    client-go, after a failed renew too.
    """

    name: str
    on_started_leading: StartedLeading
    on_stopped_leading: StoppedLeading
    on_new_leader: NewLeader | None = None
    namespace: str | None = None
    identity: str = field(default_factory=default_identity)
    lease_duration: float = DEFAULT_LEASE_DURATION
    renew_deadline: float = DEFAULT_RENEW_DEADLINE
    retry_period: float = DEFAULT_RETRY_PERIOD
    release_on_cancel: bool = True
    clock: Callable[[], float] = field(default=time.monotonic, compare=False, repr=False)

    def __post_init__(self) -> None:
        problems = self._problems()
        if problems:
            where = f"{self.namespace}/{self.name}" if self.namespace else self.name
            raise InvalidLeaderElectionConfig(
                f'invalid leader election config for lease "{where}": ' + "; ".join(problems)
            )

    def _problems(self) -> list[str]:
        problems: list[str] = []
        if not self.name:
            problems.append("the lease name must not be empty")
        if not self.identity:
            problems.append("the identity must not be empty")
        durations = {
            "lease_duration": self.lease_duration,
            "renew_deadline": self.renew_deadline,
            "retry_period": self.retry_period,
        }
        positive = True
        for label, value in durations.items():
            if not value > 0:
                problems.append(f"{label} must be greater than zero, not {format_duration(value)}")
                positive = False
        if positive:
            if self.lease_duration <= self.renew_deadline:
                problems.append(
                    f"lease_duration ({format_duration(self.lease_duration)}) must be greater than "
                    f"renew_deadline ({format_duration(self.renew_deadline)})"
                )
            limit = JITTER_FACTOR * self.retry_period
            if self.renew_deadline <= limit:
                problems.append(
                    f"renew_deadline ({format_duration(self.renew_deadline)}) must be greater than "
                    f"{JITTER_FACTOR:g} x retry_period ({JITTER_FACTOR:g} x "
                    f"{format_duration(self.retry_period)} = {format_duration(limit)})"
                )
        for label in ("on_started_leading", "on_stopped_leading"):
            if not callable(getattr(self, label)):
                problems.append(f"{label} is required (a callable), not {getattr(self, label)!r}")
        if self.on_new_leader is not None and not callable(self.on_new_leader):
            problems.append(f"on_new_leader must be callable, not {self.on_new_leader!r}")
        return problems

    @property
    def lease_duration_seconds(self) -> int:
        """The whole seconds written to the Lease, rounded up so others never wait too little."""
        return max(1, math.ceil(self.lease_duration))


def _micro_time(moment: datetime | None = None) -> str:
    """A Kubernetes MicroTime: RFC 3339 in UTC with microseconds."""
    return (moment or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    """Competes for one Lease with :class:`LeaderElectionConfig`'s rules; see the module doc.

    ``acquisitions``, ``renew_failures`` and ``transitions`` count how often this
    elector became leader, how many renew attempts failed while it led, and how
    often the holder it observed changed.
    """

    def __init__(self, client: Client, config: LeaderElectionConfig) -> None:
        self.client = client
        self.config = config
        self.namespace = config.namespace or client.namespace
        self.acquisitions = 0
        self.renew_failures = 0
        self.transitions = 0
        self._clock = config.clock
        self._lease: Object | None = None
        self._observed_spec: dict[str, Any] | None = None
        self._observed_time = 0.0
        self._last_renew = 0.0
        self._last_error = ""
        self._reported_leader = ""
        self._leading = False
        self._running = False
        self._callback_tasks: set[asyncio.Future[None]] = set()

    @property
    def identity(self) -> str:
        """This candidate's identity, as written into the Lease's holderIdentity."""
        return self.config.identity

    @property
    def description(self) -> str:
        """``namespace/name`` of the Lease."""
        return f"{self.namespace}/{self.config.name}"

    @property
    def leader_identity(self) -> str | None:
        """The holder of the Lease as last observed; None when unknown or released."""
        return self._observed_holder() or None

    def is_leader(self) -> bool:
        """True from the moment this elector acquired the Lease until it stops leading."""
        return self._leading

    # -- the election -----------------------------------------------------------------------

    async def run(self) -> None:
        """Acquire the Lease, lead until leadership is lost or this task is cancelled, return.

        ``on_stopped_leading`` runs whenever this returns or raises.  If
        ``on_started_leading`` raises, this elector steps down (releasing the
        Lease if so configured) and ``run()`` raises the same error.
        """
        if self._running:
            raise RuntimeError(f"leader election for lease {self.description} is already running")
        self._running = True
        try:
            await self._acquire()
            await self._lead()
        finally:
            self._running = False
            self._leading = False
            await self._call_stopped_leading()

    async def _acquire(self) -> None:
        LOG.info("attempting to acquire leader lease %s as %s", self.description, self.identity)
        while True:
            started = self._clock()
            acquired = await self._try_within(self.config.renew_deadline)
            self._report_transition()
            if acquired:
                self._last_renew = started
                return
            LOG.debug("failed to acquire lease %s: %s", self.description, self._last_error)
            await asyncio.sleep(jittered(self.config.retry_period))

    async def _lead(self) -> None:
        self._leading = True
        self.acquisitions += 1
        LOG.info("%s successfully acquired lease %s", self.identity, self.description)
        stopped = asyncio.Event()
        task = asyncio.create_task(
            self._run_started_leading(stopped), name=f"leader {self.description}"
        )
        try:
            await self._renew(task)
        except asyncio.CancelledError:
            self._lose("run() was cancelled", level=logging.INFO)
            raise
        finally:
            self._leading = False
            stopped.set()
            task.cancel()
            await asyncio.wait({task})
            if self.config.release_on_cancel:
                await self._release()
        if not task.cancelled() and (error := task.exception()) is not None:
            raise error

    async def _run_started_leading(self, stopped: asyncio.Event) -> None:
        try:
            await self.config.on_started_leading(stopped)
        except Exception:
            LOG.exception("on_started_leading for lease %s failed; stepping down", self.description)
            raise

    async def _renew(self, task: asyncio.Task[None]) -> None:
        """Renew until leadership is lost or the leader task fails or is cancelled, then return."""
        returned = False
        while True:
            if task.done() and not returned:
                if task.cancelled() or task.exception() is not None:
                    self._lose("on_started_leading ended with an error or was cancelled")
                    return
                LOG.info(
                    "on_started_leading for lease %s returned; still leading", self.description
                )
                returned = True
            deadline = self._last_renew + self.config.renew_deadline
            pause = min(self.config.retry_period, max(0.0, deadline - self._clock()))
            if returned:
                await asyncio.sleep(pause)
            else:
                await asyncio.wait({task}, timeout=pause)
                if task.done():
                    continue
            started = self._clock()
            if started >= deadline:
                self._lose(
                    f"no successful renew within {format_duration(self.config.renew_deadline)}"
                )
                return
            renewed = await self._try_within(deadline - started)
            self._report_transition()
            if renewed:
                self._last_renew = started
                LOG.debug("renewed lease %s", self.description)
                continue
            self.renew_failures += 1
            LOG.warning("failed to renew lease %s: %s", self.description, self._last_error)
            holder = self._observed_holder()
            if holder and holder != self.identity:
                self._lose(f"the lease is now held by {holder}")
                return

    def _lose(self, why: str, *, level: int = logging.WARNING) -> None:
        LOG.log(level, "%s stopped leading lease %s: %s", self.identity, self.description, why)

    async def _try_within(self, timeout: float) -> bool:
        try:
            async with asyncio.timeout(timeout):
                return await self._try_acquire_or_renew()
        except TimeoutError:
            self._last_error = f"no answer within {format_duration(timeout)}"
            return False

    async def _try_acquire_or_renew(self) -> bool:
        """One try, as client-go's tryAcquireOrRenew; True when this elector holds the Lease."""
        now = _micro_time()
        record: dict[str, Any] = {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": self.config.lease_duration_seconds,
            "acquireTime": now,
            "renewTime": now,
        }
        # 1. The leader whose lease is still valid writes from its cached copy.
        observed = self._observed_spec
        if observed is not None and self._observed_holder() == self.identity and self._valid():
            record["acquireTime"] = observed.get("acquireTime") or now
            record["leaseTransitions"] = observed.get("leaseTransitions") or 0
            try:
                await self._update(record)
            except KubeopsError as err:
                LOG.info(
                    "optimistic update of lease %s failed (%s); reading it again",
                    self.description,
                    err,
                )
            else:
                return True

        # 2. Read the Lease, or create it.
        try:
            lease = await self.client.get(LEASE_KIND, self.config.name, self.namespace)
        except NotFound:
            record["acquireTime"] = now
            record["leaseTransitions"] = 0
            try:
                created = await self.client.create(
                    {
                        "apiVersion": LEASE_API_VERSION,
                        "kind": "Lease",
                        "metadata": {"name": self.config.name, "namespace": self.namespace},
                        "spec": record,
                    },
                    self.namespace,
                )
            except KubeopsError as err:
                self._last_error = str(err)
                return False
            self._observe(created)
            return True
        except KubeopsError as err:
            self._last_error = str(err)
            return False

        # 3. A changed record restarts the other holder's lease on the local clock.
        self._lease = lease
        spec: dict[str, Any] = lease.get("spec") or {}
        if spec != self._observed_spec:
            self._observed_spec = spec
            self._observed_time = self._clock()

        # 4. Someone else holds a lease that has not expired by our clock.
        holder = self._observed_holder()
        if holder and holder != self.identity and self._valid():
            self._last_error = f"the lease is held by {holder} and has not expired"
            return False

        # 5. Keep acquireTime and transitions when it was already ours.
        if holder == self.identity:
            record["acquireTime"] = spec.get("acquireTime") or now
            record["leaseTransitions"] = spec.get("leaseTransitions") or 0
        else:
            record["leaseTransitions"] = (spec.get("leaseTransitions") or 0) + 1

        # 6. Write it, conditional on the resourceVersion just read.
        try:
            await self._update(record)
        except KubeopsError as err:
            self._last_error = str(err)
            return False
        return True

    async def _update(self, record: dict[str, Any]) -> None:
        """Replace the cached Lease's spec fields with ``record``; the cached resourceVersion guards it."""
        assert self._lease is not None
        spec = {**(self._lease.get("spec") or {}), **record}
        written = await self.client.replace({**self._lease, "spec": spec}, self.namespace)
        self._observe(written)

    def _observe(self, lease: Object) -> None:
        self._lease = lease
        self._observed_spec = lease.get("spec") or {}
        self._observed_time = self._clock()

    def _observed_holder(self) -> str:
        if self._observed_spec is None:
            return ""
        return str(self._observed_spec.get("holderIdentity") or "")

    def _valid(self) -> bool:
        """The observed record's lease has not run out, counted from when we saw it change."""
        spec = self._observed_spec or {}
        seconds = spec.get("leaseDurationSeconds") or 0
        return self._observed_time + float(seconds) > self._clock()

    async def _release(self) -> None:
        """Hand the Lease back: holder ``""``, one second; re-read and retry on a Conflict."""
        try:
            async with asyncio.timeout(self.config.renew_deadline):
                while True:
                    try:
                        lease = await self.client.get(LEASE_KIND, self.config.name, self.namespace)
                    except NotFound:
                        LOG.info("lease %s is gone; nothing to release", self.description)
                        return
                    spec: dict[str, Any] = lease.get("spec") or {}
                    holder = spec.get("holderIdentity") or ""
                    if holder != self.identity:
                        LOG.info("lease %s is held by %r, not released", self.description, holder)
                        return
                    now = _micro_time()
                    released = {
                        **spec,
                        "holderIdentity": "",
                        "leaseDurationSeconds": 1,
                        "acquireTime": now,
                        "renewTime": now,
                    }
                    try:
                        written = await self.client.replace(
                            {**lease, "spec": released}, self.namespace
                        )
                    except Conflict:
                        LOG.debug("conflict releasing lease %s; retrying", self.description)
                        continue
                    self._observe(written)
                    LOG.info("%s released lease %s", self.identity, self.description)
                    return
        except TimeoutError:
            LOG.error(
                "could not release lease %s within %s",
                self.description,
                format_duration(self.config.renew_deadline),
            )
        except KubeopsError as err:
            LOG.error("could not release lease %s: %s", self.description, err)

    # -- callbacks --------------------------------------------------------------------------

    def _report_transition(self) -> None:
        holder = self._observed_holder()
        if holder == self._reported_leader:
            return
        self._reported_leader = holder
        self.transitions += 1
        LOG.info("new leader for lease %s: %s", self.description, holder or "(none)")
        if self.config.on_new_leader is None:
            return
        try:
            result = self.config.on_new_leader(holder)
        except Exception:
            LOG.exception("on_new_leader for lease %s failed", self.description)
            return
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            self._callback_tasks.add(task)
            task.add_done_callback(self._callback_done)

    def _callback_done(self, task: asyncio.Future[None]) -> None:
        self._callback_tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            LOG.error("on_new_leader for lease %s failed", self.description, exc_info=error)

    async def _call_stopped_leading(self) -> None:
        try:
            result = self.config.on_stopped_leading()
            if inspect.isawaitable(result):
                await result
        except Exception:
            LOG.exception("on_stopped_leading for lease %s failed", self.description)
